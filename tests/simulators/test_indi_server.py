"""`flatseq sim indi` seen by INDI's own clients: indi_getprop and indi_setprop drive the simulated bench
directly and through a real indiserver chaining it, an image fetched by indi_getprop is a FITS file whose
level follows the panel and the filter, and the command starts, prints its URLs and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CoverState, LightState
from drivers.clock import SystemClock, wait_until
from simulators.devices.bench import Bench
from simulators.indi.server import IndiServer
from tests.support.indi import IndiServer as IndiServerProcess
from tests.support.indi import indiserver
from tests.support.tools import require

pytestmark = pytest.mark.slow
CAMERA, PANEL, WHEEL = "flatseq Camera", "flatseq Panel", "flatseq Wheel"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[IndiServerProcess, Bench]]:
    """The bench on the real clock, served by flatseq and chained by a real indiserver."""
    bench = Bench(sensor="small", seed=1, clock=SystemClock(), cover=True, cover_time=0.3, move_time=0.1, warmup=0.05)
    with (
        IndiServer.for_bench(bench, port=0) as ours,
        indiserver(tmp_path / "home", [f"@127.0.0.1:{ours.port}"], [CAMERA, PANEL, WHEEL]) as chained,
    ):
        yield chained, bench


def eventually(check) -> bool:
    return wait_until(SystemClock(), check, timeout=15, poll=0.1)


def test_indi_tools_see_and_drive_the_simulated_devices_through_indiserver(served) -> None:
    server, bench = served
    assert server.get(f"{CAMERA}.DRIVER_INFO.DRIVER_INTERFACE") == "2"  # a CCD, as INDI numbers interfaces
    assert server.get(f"{PANEL}.DRIVER_INFO.DRIVER_INTERFACE") == "1536"  # light box + dust cap
    for device in (CAMERA, PANEL, WHEEL):
        server.set(f"{device}.CONNECTION.CONNECT=On")
    assert eventually(lambda: server.get(f"{CAMERA}.CCD_INFO.CCD_MAX_X") == "320")

    server.set(f"{CAMERA}.CCD_GAIN.GAIN=150")
    assert eventually(lambda: bench.camera.read_settings().gain == 150)
    server.set(f"{CAMERA}.CCD_GAIN.GAIN=5000")  # out of range: refused, the camera keeps its gain
    assert eventually(lambda: server.get(f"{CAMERA}.CCD_GAIN._STATE") == "Alert")
    assert bench.camera.read_settings().gain == 150

    server.set(f"{WHEEL}.FILTER_SLOT.FILTER_SLOT_VALUE=5")
    assert eventually(lambda: bench.wheel.position() == 4 and server.get(f"{WHEEL}.FILTER_SLOT._STATE") == "Ok")
    assert server.get(f"{WHEEL}.FILTER_NAME.FILTER_SLOT_NAME_5") == "Ha"

    server.set(f"{PANEL}.CAP_PARK.PARK=On")
    assert eventually(lambda: bench.panel.cover_state() is CoverState.CLOSED)
    assert eventually(lambda: server.get(f"{PANEL}.CAP_PARK._STATE") == "Ok")
    server.set(f"{PANEL}.FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE=90")
    server.set(f"{PANEL}.FLAT_LIGHT_CONTROL.FLAT_LIGHT_ON=On")
    assert eventually(lambda: bench.panel.light_state() is LightState.READY and bench.panel.brightness() == 90)
    assert eventually(lambda: server.get(f"{PANEL}.FLAT_LIGHT_CONTROL._STATE") == "Ok")
    server.set(f"{PANEL}.FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF=On")
    assert eventually(lambda: bench.panel.light_state() is LightState.OFF)


def _fetch_image(server: IndiServerProcess, folder: Path, seconds: float) -> np.ndarray:
    """indi_getprop saves the CCD1 BLOB it sees as `flatseq Camera.CCD1.CCD1.fits` in its working directory."""
    server.set(f"{CAMERA}.CCD_EXPOSURE.CCD_EXPOSURE_VALUE={seconds}")
    subprocess.run(
        ["indi_getprop", "-p", str(server.port), "-t", "5", f"{CAMERA}.CCD1.CCD1"],
        env=server.env,
        cwd=folder,
        capture_output=True,
        timeout=20,
    )
    saved = folder / f"{CAMERA}.CCD1.CCD1.fits"
    assert saved.exists(), "indi_getprop saved no image"
    with fits.open(saved) as hdul:
        data = np.array(hdul[0].data)
        assert hdul[0].header["EXPTIME"] == pytest.approx(seconds)
    saved.unlink()
    return data


def test_an_image_indi_getprop_fetches_is_a_fits_flat_that_follows_the_panel(served, tmp_path: Path) -> None:
    server, bench = served
    for device in (CAMERA, PANEL):
        server.set(f"{device}.CONNECTION.CONNECT=On")
    assert eventually(lambda: server.get(f"{CAMERA}.CCD_EXPOSURE._STATE") is not None)
    server.set(f"{CAMERA}.CCD_FRAME_TYPE.FRAME_FLAT=On")
    server.set(f"{PANEL}.CAP_PARK.PARK=On")
    assert eventually(lambda: bench.panel.cover_state() is CoverState.CLOSED)
    levels = []
    for brightness in (20, 40):
        server.set(f"{PANEL}.FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE={brightness}")
        server.set(f"{PANEL}.FLAT_LIGHT_CONTROL.FLAT_LIGHT_ON=On")
        assert eventually(lambda: bench.panel.light_state() is LightState.READY)
        frame = _fetch_image(server, tmp_path, 0.05)
        assert frame.shape == (214, 320)
        levels.append(float(np.mean(frame)))
    pedestal = 500.0  # offset 50 at gain 100, well below either flat
    assert levels[1] - pedestal == pytest.approx(2 * (levels[0] - pedestal), rel=0.1)  # twice the light


def test_flatseq_sim_indi_serves_until_sigterm(tmp_path: Path) -> None:
    require("indi_getprop")
    process = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "sim", "indi", "--port", "0", "--option", "cool_rate=2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, HOME=str(tmp_path)),
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("INDI server for the simulated bench")
        urls = dict(line.split(":", 1) for line in lines[1:])
        camera = urls["  camera"].strip()
        assert camera.startswith("indi://127.0.0.1:") and camera.endswith("/flatseq%20Camera")
        port = camera.split(":")[2].split("/")[0]
        got = subprocess.run(
            ["indi_getprop", "-p", port, "-t", "2", "-1", f"{CAMERA}.CONNECTION.CONNECT"],
            capture_output=True,
            text=True,
            timeout=20,
            env=dict(os.environ, HOME=str(tmp_path)),
        )
        assert got.stdout.strip() == "Off"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "INDI server stopped." in out
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
