"""A light switched by hand (`panel: manual`), on the simulated bench's physics: the prompts at a real
pseudo-terminal, in order, Enter continuing; without a terminal, test frames telling the light on and off; a
user who never caps the telescope stopped by the dark-flat check, with what to do and nothing mislabelled; the
light's end state said loudly when it cannot be confirmed; `flatseq recover` asking too."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits

from drivers.clock import VirtualClock
from sequencer.brightness.trained import TrainedTable
from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.recover import recover
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from sequencer.run.stop import StopToken
from sequencer.run.terminal import FINAL_PROMPT, OFF_PROMPT, ON_PROMPT
from simulators.devices.bench import Bench
from tests.support.ptyuser import PtyUser
from tests.support.refusals import one_error_line
from tests.support.runs import manifest_of

MANUAL = """\
name: by hand
equipment:
  camera: sim://camera?sensor=small
  panel: manual
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50}
auto_exposure: {min: 0.05s, max: 30s}
settle: {after_light_on: 2s, after_light_off: 2s}
flat_sets:
  - {filter: L, exposure: auto, count: 3}
  - {filter: Ha, exposure: auto, count: 3, dark_flats: 2}
"""


def sequence(tmp: Path, text: str = MANUAL) -> Path:
    path = tmp / "manual.yaml"
    path.write_text(text)
    return path


def run(path: Path, tmp: Path, bench: Bench, **kwargs: object) -> RunReport:
    kwargs.setdefault("light_timeout", 30.0)  # a person who does not answer (a broken test) fails it in 30 s
    context = RunContext(
        clock=bench.clock,
        bench=bench,
        output_dir=tmp / "out",
        stream=kwargs.pop("stream", io.StringIO()),  # type: ignore[arg-type]
        trained=TrainedTable(tmp / "trained.json"),
        **kwargs,  # type: ignore[arg-type]
    )
    return run_file(path, context)


def a_user(bench: Bench, *, caps: bool = True) -> PtyUser:
    """Someone who does what the prompts say (but, with `caps=False`, never caps the telescope)."""

    def act(text: str) -> bool:
        if text == ON_PROMPT:
            bench.manual_light.switch(True)
        elif caps:
            bench.manual_light.switch(False)
        return True

    return PtyUser(act)


def test_the_prompts_appear_in_order_and_enter_continues(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=2, clock=VirtualClock())
    with a_user(bench) as user:
        report = run(sequence(tmp_path), tmp_path, bench, terminal=user.terminal)
    assert report.exit_code == 0, report.summary()
    expected = [("L auto", ON_PROMPT), ("L auto", OFF_PROMPT), ("Ha auto", ON_PROMPT), ("Ha auto", OFF_PROMPT)]
    assert user.prompts == expected
    assert report.light_off and not bench.manual_light.is_on
    assert report.run_dir is not None
    for record in manifest_of(report.run_dir)["sets"]:
        assert record["status"] == "ok" and record["brightness"] is None  # a light by hand has no brightness
        flat = fits.getheader(report.run_dir / record["flats"][0]["file"])
        assert 0.45 * 65536 <= flat["STATMEAN"] <= 0.55 * 65536 and "PANELBRT" not in flat
        for dark in record["dark_flats"]:
            header = fits.getheader(report.run_dir / dark["file"])
            assert header["EXPTIME"] == flat["EXPTIME"] and not header["REJECTED"] and header["STATMEAN"] < 600


def test_a_user_who_never_caps_the_telescope_is_stopped_by_the_dark_flat_check(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=2, clock=VirtualClock())
    one_set = MANUAL.replace("  - {filter: Ha, exposure: auto, count: 3, dark_flats: 2}\n", "")
    with a_user(bench, caps=False) as user:
        report = run(sequence(tmp_path, one_set), tmp_path, bench, terminal=user.terminal)
    assert report.exit_code == 1, report.summary()
    (outcome,) = report.sets
    reason = outcome.reason or ""
    assert outcome.status == "failed" and "light reached the dark-flat" in reason
    assert "the telescope still sees light: cap it (and switch the flat light off)" in reason
    assert f"flatseq run {tmp_path / 'manual.yaml'} --resume {report.run_dir}" in reason
    # Light seen in a dark-flat: the confirmed light-off is doubted and asked again.
    assert [text for _, text in user.prompts] == [ON_PROMPT, OFF_PROMPT, OFF_PROMPT]
    assert report.run_dir is not None
    (record,) = manifest_of(report.run_dir)["sets"]
    assert len([f for f in record["flats"] if not f["rejected"]]) == 3
    (dark,) = record["dark_flats"]  # the one that saw light, kept on disk and marked: nothing passes for a dark-flat
    assert dark["rejected"] and "light reached the dark-flat" in dark["reason"]
    header = fits.getheader(report.run_dir / dark["file"])
    assert header["REJECTED"] and header["IMAGETYP"] == "DARK" and "light reached" in header["REJREASN"]


def test_without_a_terminal_test_frames_tell_the_light_on_and_off(tmp_path: Path) -> None:
    """A dry run, nobody to ask: the simulated person switches the light when asked, and the run sees it in its
    test frames."""
    stream = io.StringIO()
    report = run_file(sequence(tmp_path), RunContext(dry_run=True, output_dir=tmp_path / "out", stream=stream))
    assert report.exit_code == 0, report.summary()
    progress = stream.getvalue()
    assert progress.count("waiting for the flat light to come on") == 2
    assert progress.count("the flat light is on (test frame mean") == 2
    assert progress.count("the flat light is off (test frame mean") == 2
    assert report.timeline["light check exposure"] > 0
    assert report.run_dir is not None
    assert all(s["status"] == "ok" for s in manifest_of(report.run_dir)["sets"])


def test_without_a_terminal_a_light_nobody_switches_times_out_and_the_set_fails(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=2, clock=VirtualClock())
    stream = io.StringIO()
    report = run(sequence(tmp_path), tmp_path, bench, light_timeout=60.0, stream=stream)
    assert report.exit_code == 1, report.summary()
    assert [s.status for s in report.sets] == ["failed", "failed"]
    assert all("the light did not come on within 1m0" in (s.reason or "") for s in report.sets)
    assert "still waiting for the flat light to come on: test frame mean" in stream.getvalue()
    assert report.light_off  # it never came on: the frames say it is off


def test_a_light_that_cannot_be_confirmed_off_is_said_loudly(tmp_path: Path) -> None:
    """The camera goes away mid-flats, nobody to ask: the light was on, nothing can tell it went off."""
    bench = Bench(sensor="small", seed=2, clock=VirtualClock(), disconnect_after=4)
    bench.manual_light.switch(True)
    report = run(sequence(tmp_path), tmp_path, bench)
    assert report.exit_code == 3, report.summary()
    warning = report.light_warning()
    assert warning is not None and warning.startswith("THE PANEL MAY STILL BE ON")
    assert report.run_dir is not None
    assert manifest_of(report.run_dir)["light"] == "THE PANEL MAY STILL BE ON"


def test_ctrl_c_asks_for_the_light_off_before_the_run_ends(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=2, clock=VirtualClock())
    stop = StopToken()

    def act(text: str) -> bool:
        if text == ON_PROMPT:
            bench.manual_light.switch(True)
            stop.request()  # Ctrl-C while the light is on
        else:
            bench.manual_light.switch(False)
        return True

    with PtyUser(act) as user:
        report = run(sequence(tmp_path), tmp_path, bench, terminal=user.terminal, stop=stop)
    assert report.exit_code == 130, report.summary()
    assert [text for _, text in user.prompts] == [ON_PROMPT, FINAL_PROMPT]
    assert report.light_off and not bench.manual_light.is_on


def test_recover_asks_for_a_light_by_hand_off_or_says_it_may_be_on(tmp_path: Path) -> None:
    report = run_file(sequence(tmp_path), RunContext(dry_run=True, output_dir=tmp_path / "out", quiet=True))
    assert report.run_dir is not None
    found = recover(report.run_dir)
    assert not found.light_off and "switch it off yourself" in (found.light_answer or "")
    assert found.lines()[-1].startswith("THE PANEL MAY STILL BE ON")
    with PtyUser(lambda text: True) as user:
        again = recover(report.run_dir, terminal=user.terminal)
    assert again.light_off and [text for _, text in user.prompts] == [FINAL_PROMPT]


def test_flatseq_run_at_a_terminal_asks_and_completes(tmp_path: Path) -> None:
    """The command itself, its stdin, stdout and stderr on a pseudo-terminal, as a user runs it: a dry run whose
    simulated person switches the light once Enter is pressed."""
    path = sequence(tmp_path)
    master, slave = pty.openpty()
    command = [sys.executable, "-m", "sequencer", "run", str(path), "--dry-run", "--light-timeout", "30s"]
    process = subprocess.Popen(
        [*command, "-o", str(tmp_path / "out")],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    os.close(slave)
    seen, prompts = "", 0
    try:
        while process.poll() is None or select.select([master], [], [], 0)[0]:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no output for 30 s: {seen[-2000:]}"
            try:
                chunk = os.read(master, 4096).decode("utf-8", "replace")
            except OSError:  # the other side closed
                break
            seen += chunk
            while seen.count("then press Enter: ") > prompts:
                prompts += 1
                os.write(master, b"\r")
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        code = process.wait(30)
    assert code == 0, seen[-3000:]
    order = [line.split("] ", 1)[1] for line in seen.splitlines() if line.startswith(">>> [")]
    assert [text.split(": ")[0] for text in order] == [ON_PROMPT, OFF_PROMPT, ON_PROMPT, OFF_PROMPT]
    assert "finished: the run would take" in seen


def test_the_light_timeout_option_is_checked_and_no_prompt_watches_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sequence(tmp_path)
    assert main(["run", str(path), "--dry-run", "--light-timeout", "soon", "-o", str(tmp_path / "a")]) == 2
    error = one_error_line(capsys.readouterr())
    assert error.startswith("flatseq: error: --light-timeout: expected a duration such as 4s"), error
    assert not (tmp_path / "a").exists()
    assert (
        main(["run", str(path), "--dry-run", "--no-prompt", "--light-timeout", "2min", "-o", str(tmp_path / "b")]) == 0
    )
    out = capsys.readouterr().out
    assert "watching test frames of" in out and "for up to 2m00s" in out


def test_a_resumed_run_asks_for_the_light_off_before_its_dark_flats(tmp_path: Path) -> None:
    """Stopped during the dark-flats, resumed: the crashed run may have left the light on, so the resumed dark-flats
    wait until test frames show it off."""
    path = sequence(tmp_path, MANUAL.replace("  - {filter: Ha, exposure: auto, count: 3, dark_flats: 2}\n", ""))
    stop = StopToken()

    class StopAtDarkFlats(io.StringIO):
        def write(self, text: str) -> int:
            if "dark-flat 1/" in text:
                stop.request()
            return super().write(text)

    first = run_file(path, RunContext(dry_run=True, output_dir=tmp_path / "out", stream=StopAtDarkFlats(), stop=stop))
    assert first.status == "interrupted" and first.run_dir is not None
    stream = io.StringIO()
    again = run_file(path, RunContext(dry_run=True, resume=first.run_dir, stream=stream))
    assert again.exit_code == 0, again.summary()
    progress = stream.getvalue()
    assert "waiting for the flat light to come on" not in progress  # its flats were kept: no light asked for
    assert progress.index("waiting for the flat light to go off") < progress.index("dark-flat 3/3")
    (record,) = manifest_of(first.run_dir)["sets"]
    assert record["status"] == "ok" and len([d for d in record["dark_flats"] if not d["rejected"]]) == 3
