"""A flat set with the lights' region of interest: its flats and dark-flats are read out in that region (frames,
headers, manifest, the dark-flats' read-back), or, on a camera that reads no region, full frame with a note."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from astropy.io import fits

from drivers.base import Camera, CameraInfo, Equipment
from drivers.clock import VirtualClock
from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from tests.support.runs import manifest_of, write_sequence

SETS = "  - {filter: Ha, exposure: 2s, count: 2, roi: {x: 40, y: 30, width: 100, height: 60}}"


def test_flats_and_dark_flats_are_read_out_in_the_sets_region(tmp_path: Path) -> None:
    path = write_sequence(tmp_path, SETS)
    report = run_file(path, RunContext(dry_run=True, output_dir=tmp_path / "out", quiet=True))
    assert report.exit_code == 0 and report.run_dir is not None
    frames = sorted(report.run_dir.rglob("*.fits"))
    assert len(frames) == 4
    for frame in frames:
        with fits.open(frame) as hdul:
            header, data = hdul[0].header, hdul[0].data
            assert data.shape == (60, 100)
            assert (header["NAXIS1"], header["NAXIS2"], header["XORGSUBF"], header["YORGSUBF"]) == (100, 60, 40, 30)
    (record,) = manifest_of(report.run_dir)["sets"]
    assert record["settings"]["roi"] == [40, 30, 100, 60] and record["settings_read"]["roi"] == [40, 30, 100, 60]
    assert main(["audit", str(report.run_dir)]) == 0


class NoRegions:
    """The simulated camera as a driver that reads no region of interest reports itself (`subframe` False)."""

    def __init__(self, camera: Camera) -> None:
        self._camera = camera

    @property
    def info(self) -> CameraInfo:
        info: CameraInfo = self._camera.info
        return dataclasses.replace(info, subframe=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._camera, name)


def test_a_camera_that_reads_no_region_takes_full_frames_and_says_so(tmp_path: Path) -> None:
    path = write_sequence(tmp_path, SETS)
    bench = Bench(sensor="small", seed=1, clock=VirtualClock())
    equipment = Equipment(camera=NoRegions(bench.camera), panel=bench.panel, wheel=bench.wheel)
    report = run_file(path, RunContext(clock=bench.clock, output_dir=tmp_path / "out", equipment=equipment, quiet=True))
    assert report.exit_code == 0 and report.run_dir is not None
    for frame in report.run_dir.rglob("*.fits"):
        assert fits.getheader(frame)["NAXIS1"] == 320 and "XORGSUBF" not in fits.getheader(frame)
    assert any(
        "reads out no region of interest: its flats and dark-flats are full frame; crop them to the lights' "
        "100×60 at (40, 30) before calibrating" in w
        for w in report.warnings
    ), report.warnings
