"""Whole runs whose panel is the Alnitak emulator behind a real pty and whose camera is the simulated camera
on the same bench: the brightness search converges through the serial path, the light ends off, and
pulling the cable mid-run stops safely with every frame on disk and in the manifest."""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import simulators
from drivers.base import CoverState, LightState
from drivers.clock import VirtualClock
from sequencer.brightness.trained import TrainedTable
from sequencer.core.exits import ExitStatus
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from sequencer.run.stop import StopToken
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.wire import Fault, FaultPlan

EXAMPLE = Path(__file__).resolve().parents[2] / "sequences" / "alnitak-panel.yaml"


def sequence_with_panel(tmp_path: Path, panel_url: str, count: int = 5) -> Path:
    """The example sequence, with `panel_url` as its panel and fewer frames per set."""
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["equipment"]["panel"] = panel_url
    for flat_set in doc["flat_sets"]:
        flat_set["count"] = count
    path = tmp_path / "alnitak.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def manifest_files(report: RunReport) -> tuple[dict[str, Any], list[Path]]:
    assert report.manifest_path is not None and report.run_dir is not None
    manifest = json.loads(report.manifest_path.read_text())
    files = [
        report.run_dir / frame["file"]
        for flat_set in manifest["sets"]
        for kind in ("flats", "dark_flats")
        for frame in flat_set[kind]
    ]
    return manifest, files


class _Watch(io.StringIO):
    """The run's progress stream; calls `action` once, when a line containing every `marker` is written."""

    def __init__(self, markers: tuple[str, ...], action: Callable[[], None]) -> None:
        super().__init__()
        self.markers, self.action, self.fired = markers, action, False

    def write(self, text: str) -> int:
        if not self.fired and all(marker in text for marker in self.markers):
            self.fired = True
            self.action()
        return super().write(text)


def test_a_full_run_finds_brightness_through_the_serial_path_and_ends_dark(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = simulators.Bench(sensor="small", seed=0, clock=clock, cover=True)  # a Flip-Flat, starting open
    with AlnitakEmulator.on_bench(bench, product=99) as emu:
        sequence = sequence_with_panel(tmp_path, f"{emu.url}?timeout=2")
        report = run_file(
            sequence,
            RunContext(
                clock=clock,
                bench=bench,
                output_dir=tmp_path / "out",
                quiet=True,
                trained=TrainedTable(tmp_path / "trained.json"),
            ),
        )
        final = emu.state()
        sent = emu.received

    assert (report.status, report.exit_code, report.error) == ("finished", 0, None)
    manifest, files = manifest_files(report)
    assert [s["status"] for s in manifest["sets"]] == ["ok", "ok"]
    for flat_set in manifest["sets"]:
        brightness = flat_set["brightness"]
        assert flat_set["trials"][-1] == {**flat_set["trials"][-1], "brightness": brightness, "in_window": True}
        assert f">B{brightness:03d}" in sent  # the search's answer went over the wire
        assert all(32768 * 0.9 <= f["stats"]["mean"] <= 32768 * 1.1 for f in flat_set["flats"])
        assert len(flat_set["flats"]) == len(flat_set["dark_flats"]) == 5
    assert all(path.is_file() for path in files)
    assert sorted(report.run_dir.rglob("*.fits")) == sorted(files)  # type: ignore[union-attr]
    # the Flip-Flat closed over the scope first, and the light is off at the end by the device's own state
    assert ">C000" in sent and sent.index(">C000") < sent.index(">L000")
    assert final.cover is CoverState.CLOSED
    assert not final.light_on
    assert [c for c in sent if c in (">L000", ">D000")][-1] == ">D000"
    assert bench.panel.light_state() is LightState.OFF


def test_unplugging_mid_run_stops_safely_with_every_frame_on_disk_and_in_the_manifest(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = simulators.Bench(sensor="small", seed=0, clock=clock, cover=True)
    with AlnitakEmulator.on_bench(bench, product=99) as emu:
        sequence = sequence_with_panel(tmp_path, f"{emu.url}?timeout=2")
        watch = _Watch(("[OIII", "trial #1"), emu.unplug)  # pull the cable during the second set's search
        report = run_file(
            sequence,
            RunContext(
                clock=clock,
                bench=bench,
                output_dir=tmp_path / "out",
                stream=watch,
                trained=TrainedTable(tmp_path / "trained.json"),
            ),
        )
        assert watch.fired and not emu.alive

    assert report.status == "failed" and report.exit_code == ExitStatus.LIGHT_MAY_BE_ON  # a pulled cable: still lit
    assert report.error is not None and "the port went away" in report.error
    assert f"Alnitak Flip-Flat (id 99, fw 123) on {emu.path}" in report.error
    manifest, files = manifest_files(report)
    first, second = manifest["sets"]
    assert (first["status"], len(first["flats"]), len(first["dark_flats"])) == ("ok", 5, 5)
    assert second["status"] != "ok" and second["dark_flats"] == []
    assert manifest["status"] == "failed"
    assert all(path.is_file() for path in files)
    assert sorted(report.run_dir.rglob("*.fits")) == sorted(files)  # type: ignore[union-attr]


def test_the_example_sequence_runs_its_in_process_emulator(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = simulators.Bench(sensor="small", seed=0, clock=clock)
    report = run_file(
        sequence_with_panel(tmp_path, yaml.safe_load(EXAMPLE.read_text())["equipment"]["panel"], count=3),
        RunContext(
            clock=clock,
            bench=bench,
            output_dir=tmp_path / "out",
            quiet=True,
            trained=TrainedTable(tmp_path / "trained.json"),
        ),
    )
    assert (report.status, report.exit_code) == ("finished", 0)
    manifest, files = manifest_files(report)
    assert manifest["equipment"]["panel"].startswith("alnitak+emulator://")
    assert all(s["brightness"] is not None for s in manifest["sets"])
    assert len(files) == 12 and all(path.is_file() for path in files)
    assert bench.panel.light_state() is LightState.OFF


def test_a_panel_that_stops_answering_is_reported_loudly_as_maybe_still_on(tmp_path: Path) -> None:
    """The panel goes silent during the flats: the light cannot be switched off. The run says so as its last
    line and in the manifest, with the panel's answer, exits 3, and the emulator shows the light still on."""
    clock = VirtualClock()
    bench = simulators.Bench(sensor="small", seed=0, clock=clock, cover=True)
    with AlnitakEmulator.on_bench(bench, product=99) as emu:
        sequence = sequence_with_panel(tmp_path, f"{emu.url}?timeout=0.2&retries=1")
        watch = _Watch(("flat 1/",), lambda: emu.set_fault(FaultPlan(Fault.SILENT)))
        report = run_file(
            sequence,
            RunContext(clock=clock, bench=bench, output_dir=tmp_path / "out", stream=watch, cleanup_limit=5.0),
        )
        lit = emu.state().light_on
    assert watch.fired and lit  # the device itself: still on
    assert report.exit_code == 3 and ExitStatus(report.exit_code) is ExitStatus.LIGHT_MAY_BE_ON
    assert not report.light_off and report.light_answer is not None
    assert "no complete reply within 0.2 s" in report.light_answer
    warning = report.light_warning()
    assert warning is not None and warning.startswith("THE PANEL MAY STILL BE ON")
    manifest, _ = manifest_files(report)
    assert manifest["light"] == "THE PANEL MAY STILL BE ON" and manifest["light_answer"] == report.light_answer


def test_ctrl_c_with_a_dead_panel_still_exits_130_and_says_the_light_may_be_on(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = simulators.Bench(sensor="small", seed=0, clock=clock, cover=True)
    stop = StopToken()

    def panel_dies_then_ctrl_c() -> None:
        emu.set_fault(FaultPlan(Fault.SILENT))
        stop.request(signal.SIGINT)

    with AlnitakEmulator.on_bench(bench, product=99) as emu:
        sequence = sequence_with_panel(tmp_path, f"{emu.url}?timeout=0.2&retries=0")
        watch = _Watch(("flat 1/",), panel_dies_then_ctrl_c)
        context = RunContext(
            clock=clock, bench=bench, output_dir=tmp_path / "out", stream=watch, stop=stop, cleanup_limit=5.0
        )
        report = run_file(sequence, context)
    assert report.status == "interrupted" and report.exit_code == 130
    assert not report.light_off and (report.light_warning() or "").startswith("THE PANEL MAY STILL BE ON")
    manifest, files = manifest_files(report)
    assert manifest["status"] == "interrupted" and manifest["light"] == "THE PANEL MAY STILL BE ON"
    assert all(path.is_file() for path in files)
