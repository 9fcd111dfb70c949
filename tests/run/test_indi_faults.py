"""What goes wrong over INDI ends a run the way it ends any run: one clear line naming the device and the
property, the light off where the panel still answers, every frame taken on disk and in the manifest.

- indiserver killed (SIGKILL, drivers and all) during an exposure: the camera is DeviceDisconnected.
- a camera whose exposure never leaves Busy (the bench's `fault=hang`): DeviceTimeout after download_timeout.
- an Alert on CCD_EXPOSURE (the bench's camera vanishing, `disconnect_after`): the device's own words.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.base import LightState
from drivers.clock import SystemClock, VirtualClock, wait_until
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from simulators.indi.server import IndiServer
from tests.run.test_indi_sequence import FAST_BENCH, files_on_disk, listed
from tests.support.indi import indiserver

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

ONE_SET = """
name: One Ha set over INDI
equipment: {{camera: "{camera}", panel: "{panel}", filter_wheel: "{wheel}"}}
camera: {{gain: 100, offset: 50, binning: 1, readout_mode: 0, temperature: -10}}
settle: {{after_light_on: 1s, after_light_off: 1s}}
output: {{directory: "{output}"}}
flat_sets:
  - {{filter: Ha, exposure: 4s, count: 3}}
"""


def _check_ended_safely(report: RunReport) -> dict[str, Any]:
    assert report.exit_code != 0
    assert report.manifest_path is not None
    manifest: dict[str, Any] = json.loads(report.manifest_path.read_text())
    assert listed(manifest) == files_on_disk(report.manifest_path.parent)  # the manifest is truthful
    return manifest


def _served_run(tmp_path: Path, options: dict[str, Any], url_options: str = "") -> tuple[RunReport, Bench]:
    bench = Bench(sensor="small", seed=3, clock=VirtualClock(), **{**FAST_BENCH, **options})
    with (
        IndiServer.for_bench(bench, port=0) as ours,
        indiserver(tmp_path / "home", [f"@127.0.0.1:{ours.port}"], ["flatseq Camera"]) as server,
    ):
        sequence = tmp_path / "one.yaml"
        sequence.write_text(
            ONE_SET.format(
                camera=server.url("flatseq Camera") + url_options,
                panel=server.url("flatseq Panel"),
                wheel=server.url("flatseq Wheel"),
                output=tmp_path / "flats",
            )
        )
        report = run_file(sequence, RunContext(clock=bench.clock, output_dir=tmp_path / "flats", quiet=True))
    return report, bench


def test_an_exposure_that_never_leaves_busy_times_out_naming_the_property(tmp_path: Path) -> None:
    report, bench = _served_run(tmp_path, {"fault": "hang"}, "?download_timeout=2")
    _check_ended_safely(report)
    reason = report.sets[0].reason or ""
    assert report.sets[0].status == "failed" and "\n" not in reason
    assert "flatseq Camera: no CCD1 image" in reason and "(CCD_EXPOSURE is Busy)" in reason
    assert bench.panel.light_state() is LightState.OFF


def test_an_alert_on_ccd_exposure_fails_the_set_with_the_devices_words(tmp_path: Path) -> None:
    report, bench = _served_run(tmp_path, {"disconnect_after": 4})
    manifest = _check_ended_safely(report)
    reason = report.sets[0].reason or ""
    assert report.sets[0].status == "failed" and "\n" not in reason
    assert "flatseq Camera: CCD_EXPOSURE Alert: camera disconnected after 4 frame(s)" in reason
    assert sum(len(s["flats"]) for s in manifest["sets"]) >= 1  # what was taken before is kept
    assert bench.panel.light_state() is LightState.OFF


def _when(condition: Callable[[], bool], action: Callable[[], None]) -> threading.Thread:
    def watch() -> None:
        if wait_until(SystemClock(), condition, timeout=60, poll=0.02):
            action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_indiserver_killed_mid_exposure_ends_the_run_safely(tmp_path: Path) -> None:
    """Camera and wheel on one indiserver (killed while the camera exposes), the panel on another (which still
    answers: the light goes off there)."""
    camera_devices = ["CCD Simulator", "Filter Simulator"]
    with (
        indiserver(tmp_path / "cam", ["indi_simulator_ccd", "indi_simulator_wheel"], camera_devices) as cams,
        indiserver(tmp_path / "panel", ["indi_simulator_lightpanel"], ["Light Panel Simulator"]) as panels,
    ):
        text = (REPO / "sequences" / "indi.yaml").read_text().replace("exposure: 0.5s", "exposure: 2s")
        text = text.replace("localhost:7624/CCD", f"127.0.0.1:{cams.port}/CCD")
        text = text.replace("localhost:7624/Filter", f"127.0.0.1:{cams.port}/Filter")
        text = text.replace("localhost:7624/Light", f"127.0.0.1:{panels.port}/Light")
        sequence = tmp_path / "indi.yaml"
        output = tmp_path / "flats"
        sequence.write_text(text.replace('"~/flats/{date}"', f'"{output}"'))
        first_flat = _when(lambda: any(output.rglob("flat_*_001.fits")), cams.kill)  # the next one is exposing
        report = run_file(sequence, RunContext(output_dir=output, quiet=True))
        first_flat.join(timeout=10)
        light_off = panels.get("Light Panel Simulator.FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF")

    manifest = _check_ended_safely(report)
    assert light_off == "On"
    reason = report.sets[0].reason or ""
    assert report.sets[0].status == "failed" and "\n" not in reason
    assert reason.startswith("CCD Simulator: the INDI server at 127.0.0.1:") and "CCD_EXPOSURE" in reason
    assert len(manifest["sets"][0]["flats"]) >= 1  # the flat taken before is on disk and listed
