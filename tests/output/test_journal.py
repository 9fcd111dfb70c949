"""The JSONL journal: one parseable line per event, in order, on the run clock."""

from __future__ import annotations

import enum
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from drivers.errors import ConfigError, DeviceTimeout
from sequencer.core.atomicfile import OutputError
from sequencer.output.journal import JOURNAL_NAME, Journal


class Light(enum.Enum):
    ON = "on"


def test_steps_devices_and_errors_become_lines_on_the_run_clock(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / JOURNAL_NAME
    with Journal(path, clock=clock) as journal:
        journal.step_started(0, "light_on", brightness=118)
        journal.device_call("panel", "light_on", args={"brightness": 118}, seconds=0.012)
        clock.advance(3)
        journal.device_call("panel", "light_state", result=Light.ON)
        journal.step_finished(0, "light_on")
        journal.step_started(1, "flats", count=30, settings=CameraSettings(gain=100, offset=50))
        error = DeviceTimeout("camera", "image not ready after 34 s", sent="ImageReady")
        journal.device_call("camera", "image_ready", error=error)
        journal.step_failed(1, "flats", error, done=12, file=tmp_path / "x.fits", mean=np.float64(3.5))
        journal.error("run aborted")
        journal.log("note", text="Hα ±10 %")
    lines = path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert events == Journal.read(path)
    assert [e["seq"] for e in events] == list(range(9))
    assert [e["event"] for e in events] == [
        "step_started",
        "device_call",
        "device_call",
        "step_finished",
        "step_started",
        "device_call",
        "step_failed",
        "error",
        "note",
    ]
    assert events[0]["t"] == 1_767_225_600.0 and events[0]["time"] == "2026-01-01T00:00:00.000Z"
    assert events[3]["t"] == 1_767_225_603.0 and events[3]["time"] == "2026-01-01T00:00:03.000Z"
    assert (events[0]["index"], events[0]["step"], events[0]["brightness"]) == (0, "light_on", 118)
    assert events[1]["args"] == {"brightness": 118} and events[1]["seconds"] == 0.012
    assert events[2]["result"] == "on"
    assert events[4]["settings"] == {
        "gain": 100,
        "offset": 50,
        "binning": 1,
        "readout_mode": 0,
        "temperature": None,
        "roi": None,
    }
    assert events[5]["error_type"] == "DeviceTimeout" and "image not ready" in events[5]["error"]
    assert events[6]["error"] == str(error) and events[6]["done"] == 12
    assert events[6]["file"] == str(tmp_path / "x.fits") and events[6]["mean"] == 3.5
    assert events[7]["error"] == "run aborted" and "error_type" not in events[7]
    assert events[8]["text"] == "Hα ±10 %"


def test_a_reopened_journal_appends(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Journal(tmp_path / "j.jsonl", clock=clock) as journal:
        journal.log("first")
    with Journal(tmp_path / "j.jsonl", clock=clock) as journal:
        journal.log("second")
    assert [e["event"] for e in Journal.read(tmp_path / "j.jsonl")] == ["first", "second"]


def test_each_line_is_on_disk_as_soon_as_it_is_logged(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", clock=VirtualClock())
    journal.step_started(0, "wait")
    assert [e["event"] for e in Journal.read(tmp_path / "j.jsonl")] == ["step_started"]  # not held in a buffer
    journal.close()
    journal.close()
    with pytest.raises(ValueError, match="closed"):
        journal.log("late")


def test_lines_from_many_threads_never_interleave(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", clock=VirtualClock())

    def chatter(who: int) -> None:
        for i in range(200):
            journal.log("tick", who=who, i=i, padding="x" * 300)

    threads = [threading.Thread(target=chatter, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    journal.close()
    events = Journal.read(tmp_path / "j.jsonl")
    assert len(events) == 800 and [e["seq"] for e in events] == list(range(800))
    for who in range(4):
        assert [e["i"] for e in events if e["who"] == who] == list(range(200))


def test_a_line_torn_by_a_crash_is_skipped_but_corruption_inside_is_not(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"seq": 0, "event": "a"}\n{"seq": 1, "ev')
    assert Journal.read(path) == [{"seq": 0, "event": "a"}]
    path.write_text('{"seq": 0, "event": "a"}\ngarbage\n{"seq": 2, "event": "c"}\n')
    with pytest.raises(ConfigError, match=r"j\.jsonl:2: not a JSON line"):
        Journal.read(path)


def test_a_journal_that_cannot_be_opened_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "j.jsonl").mkdir()
    with pytest.raises(OutputError, match=r"j\.jsonl: cannot open the journal"):
        Journal(tmp_path / "j.jsonl", clock=VirtualClock())
