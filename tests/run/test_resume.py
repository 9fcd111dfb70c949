"""Resuming a run that stopped: every frame kept, only what is missing taken, numbers continuing, nothing
overwritten; a set whose earlier frames no longer match the camera is taken again, its old frames kept aside."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from sequencer.brightness.trained import TrainedTable
from sequencer.run.context import RunContext
from sequencer.run.recover import recover
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from sequencer.run.stop import StopToken
from simulators.devices.bench import Bench
from tests.support.runs import write_sequence

SETS = "  - {filter: Ha, exposure: 4s, count: 3}\n  - {filter: OIII, exposure: 1.5s, count: 4, dark_flats: 3}\n"


class StopWhen(io.StringIO):
    """The progress stream: asks the run to stop (Ctrl-C) when a line holds every marker."""

    def __init__(self, stop: StopToken, *markers: str) -> None:
        super().__init__()
        self.stop, self.markers = stop, markers

    def write(self, text: str) -> int:
        if all(marker in text for marker in self.markers):
            self.stop.request()
        return super().write(text)


def _run(path: Path, tmp: Path, *, stream: io.StringIO | None = None, stop: StopToken | None = None,
         resume: Path | None = None, seed: int = 3) -> RunReport:  # fmt: skip
    clock = VirtualClock()
    context = RunContext(
        clock=clock,
        bench=Bench(sensor="small", seed=seed, clock=clock),
        output_dir=None if resume else tmp / "out",
        stream=stream,
        stop=stop or StopToken(),
        trained=TrainedTable(tmp / "trained.json"),
        resume=resume,
    )
    return run_file(path, context)


def _manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    return data


def _interrupted(tmp: Path, *markers: str) -> tuple[Path, Path]:
    path = write_sequence(tmp, SETS)
    stop = StopToken()
    report = _run(path, tmp, stream=StopWhen(stop, *markers), stop=stop)
    assert report.status == "interrupted" and report.run_dir is not None
    return path, report.run_dir


def _numbers(frames: list[dict[str, Any]]) -> list[int]:
    return [f["frame_no"] for f in frames]


def test_an_interrupted_run_is_finished_by_resume(tmp_path: Path) -> None:
    path, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", " flat 1/")
    before = _manifest(run_dir)
    ha_files = {f["file"] for f in before["sets"][0]["flats"] + before["sets"][0]["dark_flats"]}
    report = _run(path, tmp_path, resume=run_dir)
    assert (report.status, report.exit_code) == ("finished", 0), report.summary()
    assert report.run_dir == run_dir
    after = _manifest(run_dir)
    ha, oiii = after["sets"]
    assert (ha["status"], oiii["status"]) == ("ok", "ok")
    assert {f["file"] for f in ha["flats"] + ha["dark_flats"]} == ha_files  # the finished set was left alone
    good = [f for f in oiii["flats"] if not f["rejected"]]
    assert len(good) == 4 and len(oiii["dark_flats"]) == 3
    assert len(set(_numbers(oiii["flats"]))) == len(oiii["flats"])  # numbers continue, none taken twice
    assert _numbers(oiii["flats"]) == sorted(_numbers(oiii["flats"]))
    assert after["status"] == "finished" and [r["sets"] for r in after["resumes"]] == [
        {"01-Ha-4s": "done", "02-OIII-1.5s": "rest of the flats, then dark-flats"}
    ]
    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.fits"))
    assert files == sorted(f["file"] for f in after["files"])  # files on disk = the manifest
    assert not list(run_dir.rglob(".*.part"))
    for frame in oiii["flats"] + oiii["dark_flats"]:  # the resumed set's frames, before and after, in one layout
        folder = "rejected" if frame["rejected"] else {"flat": "flats", "darkflat": "darkflats"}[frame["kind"]]
        assert frame["file"].startswith(f"02-OIII-1.5s/{folder}/"), frame["file"]


def test_a_resume_names_its_frames_with_the_pattern_its_run_started_with(tmp_path: Path) -> None:
    """A run started with another pattern (a run from before the per-set folders, say): the frames a resume
    adds follow the pattern the manifest recorded, not today's default."""
    path, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", " flat 1/")
    manifest = _manifest(run_dir)
    manifest["pattern"] = "{set}/{kind}_{filter}_{exposure}s_{n:03d}.fits"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    report = _run(path, tmp_path, resume=run_dir)
    assert report.exit_code == 0, report.summary()
    oiii = _manifest(run_dir)["sets"][1]
    added = [f["file"] for f in oiii["flats"] + oiii["dark_flats"] if f["file"].count("/") == 1]
    assert added and all(name.startswith("02-OIII-1.5s/") for name in added)
    assert len(added) == len(oiii["flats"]) + len(oiii["dark_flats"]) - len(manifest["sets"][1]["flats"])


def test_a_resume_refuses_a_manifest_whose_pattern_leaves_the_run(tmp_path: Path) -> None:
    path, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", " flat 1/")
    manifest = _manifest(run_dir)
    manifest["pattern"] = "../{kind}_{n}"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=re.escape("manifest.json: file-name pattern '../{kind}_{n}'")):
        _run(path, tmp_path, resume=run_dir)


def test_a_set_with_its_flats_done_takes_only_its_dark_flats(tmp_path: Path) -> None:
    path, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", "dark-flat 1/")
    flats_before = [f["file"] for f in _manifest(run_dir)["sets"][1]["flats"]]
    report = _run(path, tmp_path, resume=run_dir)
    assert report.exit_code == 0, report.summary()
    oiii = _manifest(run_dir)["sets"][1]
    assert [f["file"] for f in oiii["flats"]] == flats_before  # no new flat: the light stayed off
    assert len(oiii["dark_flats"]) == 3 and _numbers(oiii["dark_flats"]) == [1, 2, 3]
    flat = fits.getheader(run_dir / oiii["flats"][0]["file"])
    for frame in oiii["dark_flats"]:
        dark = fits.getheader(run_dir / frame["file"])
        for key in ("EXPTIME", "GAIN", "OFFSET", "XBINNING", "READOUTM", "SET-TEMP", "FLATSET"):
            assert dark[key] == flat[key], key
        assert abs(dark["CCD-TEMP"] - flat["CCD-TEMP"]) <= 1.0
    assert _manifest(run_dir)["resumes"][0]["sets"]["02-OIII-1.5s"] == "dark-flats only"


def test_flats_taken_warmer_than_the_camera_now_are_superseded_and_the_set_taken_again(tmp_path: Path) -> None:
    path, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", " flat 1/")
    manifest = _manifest(run_dir)
    for frame in manifest["sets"][1]["flats"]:
        frame["ccd_temp"] = -5.0  # the earlier run's account: its flats were 5 °C warmer
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    earlier = [f["file"] for f in manifest["sets"][1]["flats"]]
    report = _run(path, tmp_path, resume=run_dir)
    assert report.exit_code == 0, report.summary()
    oiii = _manifest(run_dir)["sets"][1]
    old = [f for f in oiii["flats"] if f["file"].startswith("superseded/")]
    assert [Path(f["file"]).name for f in old] == [Path(name).name for name in earlier]
    assert all(f["rejected"] and f["reason"].startswith("superseded on resume: sensor at -9") for f in old)
    assert all((run_dir / f["file"]).is_file() for f in old) and not any((run_dir / n).exists() for n in earlier)
    new = [f for f in oiii["flats"] if not f["rejected"]]
    assert len(new) == 4 and min(_numbers(new)) > max(_numbers(old))


def test_resume_refuses_a_sequence_that_changed(tmp_path: Path) -> None:
    path, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", " flat 1/")
    path.write_text(path.read_text().replace("count: 4", "count: 5"))
    with pytest.raises(ConfigError, match="the file has changed since"):
        _run(path, tmp_path, resume=run_dir)


def test_recover_marks_a_crashed_run_keeps_orphans_and_removes_unfinished_files(tmp_path: Path) -> None:
    """A run killed between a frame landing and the manifest being rewritten, with a write cut short."""
    _, run_dir = _interrupted(tmp_path, "[OIII 1.5s]", " flat 1/")
    manifest = _manifest(run_dir)
    manifest["status"], manifest["finished"] = "running", None
    manifest["sets"][1]["status"] = "running"
    orphan = manifest["sets"][1]["flats"].pop()
    manifest["files"] = [f for f in manifest["files"] if f["file"] != orphan["file"]]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    part = run_dir / "02-OIII-1.5s" / ".flat_OIII_1.5s_009.fits.1234abcd.part"
    part.write_bytes(b"SIMPLE  =  T half a frame")
    clock = VirtualClock()
    found = recover(run_dir, clock=clock, bench=Bench(sensor="small", seed=1, clock=clock))
    assert found.status_before == "running" and found.light_off
    assert found.adopted == [orphan["file"]] and found.removed == [part.relative_to(run_dir).as_posix()]
    assert not part.exists()
    after = _manifest(run_dir)
    assert after["status"] == "crashed" and after["light"] == "off"
    assert after["sets"][1]["status"] == "failed" and "without finishing" in after["sets"][1]["reason"]
    adopted = after["sets"][1]["flats"][-1]
    assert (adopted["file"], adopted["frame_no"], adopted["exposure"]) == (orphan["file"], orphan["frame_no"], 1.5)
    journal = (run_dir / "journal.jsonl").read_text().splitlines()
    assert json.loads(journal[-1])["event"] == "recovered"
    assert found.lines()[-1] == "  light off"
