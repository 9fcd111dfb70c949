"""The manifest's record of a crash and of each resume: what `flatseq recover` and `--resume` write is what the
next reader (master, report, export, a person) relies on, so every field is checked as it lands on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.records import FrameRecord

SETTINGS = CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=-10.0)
CRASH = "the run stopped without finishing (no process held its lock)"


def on_disk(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def crashed_run(tmp_path: Path, *, light_off: bool, light_answer: str | None) -> tuple[Path, VirtualClock, list[str]]:
    """A run of two sets killed in the second: the first finished, the second was running."""
    clock = VirtualClock()
    path = tmp_path / MANIFEST_NAME
    manifest = Manifest.create(path, run_id="R", clock=clock)
    manifest.begin_set("A", filter="Ha", exposure=4.0, settings=SETTINGS)
    manifest.add_frame("A", FrameRecord("A/flats/a1.fits", 1, FrameKind.FLAT))
    manifest.end_set("A", "ok")
    manifest.begin_set("B", filter="OIII", exposure=2.0, settings=SETTINGS)
    manifest.add_frame("B", FrameRecord("B/flats/b1.fits", 1, FrameKind.FLAT))
    manifest.add_frame("B", FrameRecord("B/flats/b2.fits", 2, FrameKind.FLAT))
    clock.advance(90.0)
    ended = Manifest.reopen(path, clock).crashed(CRASH, light_off=light_off, light_answer=light_answer)
    return path, clock, ended


def test_a_crash_with_the_light_confirmed_off_ends_the_running_sets_and_the_run(tmp_path: Path) -> None:
    path, _, ended = crashed_run(tmp_path, light_off=True, light_answer=None)
    data = on_disk(path)
    assert ended == ["B"]
    assert (data["status"], data["reason"], data["light"], data["light_answer"]) == ("crashed", CRASH, "off", None)
    assert data["finished"] == "2026-01-01T00:01:30.000Z"
    a, b = data["sets"]
    assert (a["status"], a["reason"]) == ("ok", None)
    assert (b["status"], b["reason"], b["finished"]) == ("failed", CRASH, "2026-01-01T00:01:30.000Z")
    loaded = Manifest.load(path)
    assert (loaded.status, loaded.reason, loaded.finished) == ("crashed", CRASH, "2026-01-01T00:01:30.000Z")


def test_a_crash_whose_light_could_not_be_switched_off_says_so_loudly_with_the_panels_answer(tmp_path: Path) -> None:
    answer = "alpaca://127.0.0.1:11111/covercalibrator/0: no answer within 10 s"
    path, _, _ = crashed_run(tmp_path, light_off=False, light_answer=answer)
    data = on_disk(path)
    assert (data["light"], data["light_answer"]) == ("THE PANEL MAY STILL BE ON", answer)


def test_each_resume_is_kept_with_its_time_and_its_plan_and_the_run_runs_again(tmp_path: Path) -> None:
    path, clock, _ = crashed_run(tmp_path, light_off=True, light_answer=None)
    manifest = Manifest.reopen(path, clock)
    clock.advance(30.0)
    manifest.resumed({"A": "kept", "B": "continued"})
    manifest.reopen_set("B")
    data = on_disk(path)
    assert (data["status"], data["reason"], data["finished"]) == ("running", None, None)
    assert data["resumes"] == [{"at": "2026-01-01T00:02:00.000Z", "sets": {"A": "kept", "B": "continued"}}]
    b = data["sets"][1]
    assert (b["status"], b["reason"], b["finished"]) == ("running", None, None)

    manifest.end_set("B", "failed", "the panel stopped answering")
    manifest.finish("failed", "set B failed")
    manifest = Manifest.reopen(path, clock)
    clock.advance(30.0)
    manifest.resumed({"B": "retaken"})
    resumes = on_disk(path)["resumes"]
    assert [r["at"] for r in resumes] == ["2026-01-01T00:02:00.000Z", "2026-01-01T00:02:30.000Z"]
    assert resumes[1]["sets"] == {"B": "retaken"}
    assert Manifest.load(path).status == "running"


def test_a_superseded_set_keeps_every_frame_listed_rejected_under_its_new_name(tmp_path: Path) -> None:
    path, clock, _ = crashed_run(tmp_path, light_off=True, light_answer=None)
    manifest = Manifest.reopen(path, clock)
    manifest.supersede("B", {"B/flats/b1.fits": "superseded/B/flats/b1.fits"}, "superseded on resume: new filter")
    flats = on_disk(path)["sets"][1]["flats"]
    assert [(f["file"], f["rejected"], f["reason"]) for f in flats] == [
        ("superseded/B/flats/b1.fits", True, "superseded on resume: new filter"),
        ("B/flats/b2.fits", True, "superseded on resume: new filter"),  # not moved: its name stays
    ]
    assert on_disk(path)["sets"][0]["flats"][0]["rejected"] is False  # the other set is untouched
