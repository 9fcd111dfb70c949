"""Exposures found at run time, on the simulated bench: a switch-only panel through L R G B Ha OIII SII, every set
in the window, dark-flats asked and timed exactly like their flats, the manifest listing what was found, the next
run one trial per set; unreachable targets failing safely in both directions; a resumed set keeping its
exposure."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from drivers.clock import VirtualClock
from sequencer.brightness.trained import TrainedTable
from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from sequencer.run.stop import StopToken
from simulators.devices.bench import Bench
from tests.support.refusals import one_error_line
from tests.support.runs import manifest_of, recorded_run

FILTERS = ("L", "R", "G", "B", "Ha", "OIII", "SII")
EVERY_FILTER = """\
name: every filter, switch-only
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel?dimmable=0
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50, temperature: -10}
auto_exposure: {min: 0.01s, max: 30s}
settle: {after_light_on: 2s, after_light_off: 2s}
flat_sets:
""" + "".join(f"  - {{filter: {name}, exposure: auto, count: 3}}\n" for name in FILTERS)


def dry_run(path: Path, out: Path) -> RunReport:
    return run_file(path, RunContext(dry_run=True, output_dir=out, quiet=True))


def headers(run_dir: Path, frames: list[dict[str, Any]]) -> list[fits.Header]:
    return [fits.getheader(run_dir / f["file"]) for f in frames]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunReport, RunReport]:
    """The sequence run twice (the second from the trained table the first left), dry, on the simulators."""
    tmp = tmp_path_factory.mktemp("every-filter")
    path = tmp / "every.yaml"
    path.write_text(EVERY_FILTER)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLATSEQ_DATA_DIR", str(tmp / "data"))
        return dry_run(path, tmp / "first"), dry_run(path, tmp / "second")


def test_every_set_on_a_switch_only_panel_lands_in_the_window(two_runs: tuple[RunReport, RunReport]) -> None:
    first, _ = two_runs
    assert first.exit_code == 0, first.summary()
    assert first.run_dir is not None
    manifest = manifest_of(first.run_dir)
    assert [s["filter"] for s in manifest["sets"]] == list(FILTERS)
    for record in manifest["sets"]:
        assert record["status"] == "ok"
        good = [f for f in record["flats"] if not f["rejected"]]
        assert len(good) == 3 and len(record["dark_flats"]) == 3
        for header in headers(first.run_dir, good):
            assert 0.45 * 65536 <= header["STATMEAN"] <= 0.55 * 65536
            assert (header["PANELBRT"], header["PANELMAX"]) == (255, 255)  # the switch-only panel's one level


def test_dark_flats_take_exactly_the_exposure_found(two_runs: tuple[RunReport, RunReport]) -> None:
    first, _ = two_runs
    assert first.run_dir is not None
    manifest = manifest_of(first.run_dir)
    found = []
    for record in manifest["sets"]:
        flats = headers(first.run_dir, record["flats"])
        darks = headers(first.run_dir, record["dark_flats"])
        exposure = record["exposure"]
        found.append(exposure)
        for header in flats + darks:
            assert header["EXPREQ"] == exposure
            assert abs(header["EXPTIME"] - flats[0]["EXPTIME"]) <= 1e-6  # to the microsecond
            assert header["FLATSET"] == record["id"]
        assert all(h["IMAGETYP"] == "DARK" and h["DARKFLAT"] for h in darks)
        assert all(f["exposure"] == exposure for f in record["flats"] + record["dark_flats"])
    assert len(set(found)) >= 4  # the filters differ: so do their exposures (L ~0.04 s, Ha ~1.1 s)
    assert min(found) < 0.1 < 0.9 < max(found)


def test_the_manifest_lists_the_exposures_found_and_their_trials(two_runs: tuple[RunReport, RunReport]) -> None:
    first, _ = two_runs
    assert first.run_dir is not None
    manifest = manifest_of(first.run_dir)
    journal = [json.loads(line) for line in (first.run_dir / "journal.jsonl").read_text().splitlines()]
    searches = {e["set"]: e for e in journal if e["event"] == "exposure"}
    for record in manifest["sets"]:
        assert record["exposure_search"] == {"min": 0.01, "max": 30.0, "step": None, "brightness": None}
        assert record["brightness"] == 255  # held at the panel's top, its one level
        trials = record["trials"]
        assert 1 <= len(trials) <= 3 and all(t["exposure"] > 0 for t in trials)
        assert trials[-1]["in_window"] and trials[-1]["exposure"] == record["exposure"]
        # the in-window trial is flat #1
        assert record["flats"][0]["frame_no"] == 1 and record["flats"][0]["exposure_requested"] == record["exposure"]
        assert searches[record["id"]]["exposure"] == record["exposure"]
    outcome = {s.label: s for s in first.sets}
    assert outcome["Ha auto"].exposure == manifest["sets"][4]["exposure"]
    lum = manifest["sets"][0]["exposure"]  # a short L flat: noted, as a fixed one is at check time
    assert any(f"L {lum:g}s flats are shorter than 0.2 s" in w for w in first.warnings), first.warnings
    assert any("exposure" in line and "found after" in line for line in first.summary())


def test_the_second_run_takes_one_trial_per_set(two_runs: tuple[RunReport, RunReport]) -> None:
    _, second = two_runs
    assert second.exit_code == 0, second.summary()
    assert [s.trials for s in second.sets] == [1] * len(FILTERS)
    assert second.run_dir is not None
    assert all(len(record["trials"]) == 1 for record in manifest_of(second.run_dir)["sets"])


UNREACHABLE = """\
name: unreachable
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50}
settle: {after_light_on: 2s, after_light_off: 2s}
flat_sets:
  - {filter: L, exposure: auto, count: 3, min_exposure: 1s}
  - {filter: R, exposure: auto, count: 3}
  - {filter: Ha, exposure: auto, count: 3, max_exposure: 0.1s}
  - {filter: SII, exposure: auto, count: 3}
"""


def test_unreachable_targets_fail_with_what_would_work_the_light_off_and_the_others_run(tmp_path: Path) -> None:
    path = tmp_path / "unreachable.yaml"
    path.write_text(UNREACHABLE)
    report, _, log = recorded_run(path, tmp_path / "out")
    assert report.exit_code == 1, report.summary()
    by_label = {s.label: s for s in report.sets}
    assert [by_label[name].status for name in ("L auto", "R auto", "Ha auto", "SII auto")] == [
        "failed", "ok", "failed", "ok"
    ]  # fmt: skip
    bright, dim = by_label["L auto"].reason or "", by_label["Ha auto"].reason or ""
    assert "too bright even at the shortest exposure 1 s" in bright
    assert "an ND filter cutting the light" in bright and "a brightness of" in bright
    assert "too dim even at the longest exposure 0.1 s" in dim
    assert "a max_exposure of about" in dim and "a brightness of" not in dim  # already at the top: 255 of 255
    # After each failed search the light goes off before anything else happens, and the run ends dark.
    calls = [c.method for c in log.of("light_on", "light_off", "move_to")]
    assert calls.count("light_on") == 4  # one per set: no set is lit twice
    lit = False
    for method in calls:
        if method == "move_to":
            assert not lit, calls  # the light is off whenever the wheel turns to the next set's filter
        lit = method == "light_on" or (lit and method != "light_off")
    assert not lit and report.light_off
    assert report.run_dir is not None
    statuses = [s["status"] for s in manifest_of(report.run_dir)["sets"]]
    assert statuses == ["failed", "ok", "failed", "ok"]


class StopWhen(io.StringIO):
    """The progress stream: asks the run to stop (Ctrl-C) when a line holds every marker."""

    def __init__(self, stop: StopToken, *markers: str) -> None:
        super().__init__()
        self.stop, self.markers = stop, markers

    def write(self, text: str) -> int:
        if all(marker in text for marker in self.markers):
            self.stop.request()
        return super().write(text)


def test_a_resumed_set_keeps_the_exposure_its_flats_were_found_to_need(tmp_path: Path) -> None:
    path = tmp_path / "resume.yaml"
    path.write_text(EVERY_FILTER.replace("".join(f"  - {{filter: {n}, exposure: auto, count: 3}}\n" for n in FILTERS),
                                         "  - {filter: Ha, exposure: auto, count: 4, dark_flats: 2}\n"))  # fmt: skip

    def run(stop: StopToken, stream: io.StringIO | None, resume: Path | None) -> RunReport:
        clock = VirtualClock()
        context = RunContext(
            clock=clock,
            bench=Bench(sensor="small", seed=5, clock=clock, dimmable=False),
            output_dir=None if resume else tmp_path / "out",
            stream=stream,
            stop=stop,
            trained=TrainedTable(tmp_path / "trained.json"),
            resume=resume,
        )
        return run_file(path, context)

    stop = StopToken()
    stopped = run(stop, StopWhen(stop, " flat 1/"), None)
    assert stopped.status == "interrupted" and stopped.run_dir is not None
    before = manifest_of(stopped.run_dir)["sets"][0]
    found = before["exposure"]
    assert found is not None and 1 <= len(before["flats"]) < 4
    trials_before = len(before["trials"])
    resumed = run(StopToken(), None, stopped.run_dir)
    assert resumed.exit_code == 0, resumed.summary()
    after = manifest_of(stopped.run_dir)["sets"][0]
    assert len(after["trials"]) == trials_before  # no new search: the rest of the set takes the same exposure
    assert after["exposure"] == found
    frames = after["flats"] + after["dark_flats"]
    assert len([f for f in after["flats"] if not f["rejected"]]) == 4 and len(after["dark_flats"]) == 2
    assert {f["exposure_requested"] for f in frames} == {found}


def test_find_exposure_holds_its_own_brightness(tmp_path: Path) -> None:
    path = tmp_path / "steps.yaml"
    path.write_text(
        EVERY_FILTER.split("flat_sets:")[0].replace("?dimmable=0", "")
        + "steps:\n  - select_filter: L\n  - light_on\n  - wait: 2s\n  - find_exposure: {brightness: 40}\n"
        "  - flats: {count: 2}\n  - light_off\n  - wait: 2s\n  - dark_flats: {count: 2}\n"
    )
    report, _, log = recorded_run(path, tmp_path / "out")
    assert report.exit_code == 0, report.summary()
    assert [c.args[0] for c in log.of("light_on")] == [40]  # on at the brightness the search holds
    assert report.run_dir is not None
    (record,) = manifest_of(report.run_dir)["sets"]
    assert record["brightness"] == 40 and {t["brightness"] for t in record["trials"]} == {40}
    assert {fits.getheader(report.run_dir / f["file"])["PANELBRT"] for f in record["flats"]} == {40}


@pytest.mark.parametrize(
    ("panel", "brightness", "needle"),
    [
        ("sim://panel?dimmable=0", 120, "brightness 120: sim panel can only be switched (one level, 255)"),
        ("sim://panel?max=100", 120, "brightness 120 is outside sim panel's range 0-100"),
    ],
)
def test_a_brightness_the_panel_cannot_hold_is_refused_before_any_light(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], panel: str, brightness: int, needle: str
) -> None:
    path = tmp_path / "held.yaml"
    path.write_text(
        EVERY_FILTER.split("flat_sets:")[0].replace("sim://panel?dimmable=0", panel)
        + f"flat_sets:\n  - {{filter: L, exposure: auto, count: 2, brightness: {brightness}}}\n"
    )
    assert main(["run", str(path), "--dry-run", "-o", str(tmp_path / "out")]) == 2
    error = one_error_line(capsys.readouterr())
    assert error.startswith(f"flatseq: error: {path}:10:5: {needle}"), error
