"""A region of interest (`CameraSettings.roi`, binned pixels) on every camera: the simulator reads out only the
region, the Alpaca driver sends StartX/StartY/NumX/NumY to our Alpaca server and reads them back, the INDI
driver sends CCD_FRAME in unbinned pixels to flatseq's INDI server chained by a real indiserver."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest

import drivers
from drivers.alpaca.camera import AlpacaCamera
from drivers.base import CameraSettings
from drivers.clock import SystemClock, VirtualClock, wait_until
from drivers.errors import InvalidValue
from drivers.indi.device import IndiDevice
from simulators.devices.bench import Bench
from simulators.indi.server import IndiServer
from tests.support.alpaca import call, served_bench
from tests.support.indi import indiserver

ROI = (40, 30, 100, 60)


def test_the_simulated_camera_reads_out_the_region_only() -> None:
    bench = Bench(sensor="small", seed=3, clock=VirtualClock())
    camera = bench.camera
    camera.connect()
    camera.apply(CameraSettings(gain=100, offset=50, binning=2))
    camera.start_exposure(1.0, False)
    bench.clock.sleep(2.0)
    full = camera.read_image().copy()
    camera.apply(CameraSettings(gain=100, offset=50, binning=2, roi=ROI))
    assert camera.read_settings().roi == ROI
    camera.start_exposure(1.0, False)
    bench.clock.sleep(2.0)
    region = camera.read_image()
    assert full.shape == (107, 160) and region.shape == (60, 100)
    assert abs(float(region.mean()) - float(full[30:90, 40:140].mean())) < 5  # the same pixels' dark level
    with pytest.raises(InvalidValue, match=r"region 100×60 at \(100, 30\) is outside the 160×107 frame at binning 2"):
        camera.apply(CameraSettings(gain=100, offset=50, binning=2, roi=(100, 30, 100, 60)))


def test_alpaca_sends_the_region_and_reads_it_back() -> None:
    with served_bench(seed=2) as (server, bench):
        camera = cast(AlpacaCamera, drivers.open(server.equipment_urls["camera"], clock=bench.clock))
        camera.connect()
        try:
            assert camera.info.subframe
            camera.apply(CameraSettings(gain=100, offset=50, binning=1, roi=ROI))
            members = ("startx", "starty", "numx", "numy")
            assert [call(server, "GET", f"/api/v1/camera/0/{m}").json()["Value"] for m in members] == [40, 30, 100, 60]
            assert camera.read_settings().roi == ROI
            camera.start_exposure(0.5, True)
            while not camera.image_ready():
                bench.clock.sleep(0.25)
            assert camera.read_image().shape == (60, 100)
            camera.apply(CameraSettings(gain=100, offset=50, binning=2))
            assert camera.read_settings().roi is None  # the full binned frame reads back as no region
            assert call(server, "GET", "/api/v1/camera/0/numx").json()["Value"] == 160
        finally:
            camera.disconnect()


@pytest.mark.slow
def test_indi_sends_ccd_frame_in_unbinned_pixels_and_reads_it_back(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=1, clock=SystemClock())
    with (
        IndiServer.for_bench(bench, port=0) as ours,
        indiserver(tmp_path / "home", [f"@127.0.0.1:{ours.port}"], ["flatseq Camera"]) as chained,
    ):
        camera = cast(IndiDevice, drivers.open(chained.url("flatseq Camera")))
        camera.connect()
        try:
            assert camera.info.subframe
            camera.apply(CameraSettings(gain=100, offset=50, binning=2, roi=ROI))
            frame = {k: chained.get(f"flatseq Camera.CCD_FRAME.{k}") for k in ("X", "Y", "WIDTH", "HEIGHT")}
            assert frame == {"X": "80", "Y": "60", "WIDTH": "200", "HEIGHT": "120"}
            assert bench.camera.read_settings().roi == ROI
            assert camera.read_settings().roi == ROI
            camera.start_exposure(0.2, False)
            assert wait_until(SystemClock(), camera.image_ready, timeout=30, poll=0.01)
            image = camera.read_image()
            assert image.dtype == np.uint16 and image.shape == (60, 100)
            camera.apply(CameraSettings(gain=100, offset=50, binning=2))
            assert camera.read_settings().roi is None and bench.camera.read_settings().roi is None
        finally:
            camera.disconnect()
