"""flatseq's INDI drivers against INDI's own simulators (indi_simulator_ccd, _wheel, _lightpanel) behind a real
indiserver: values set through our drivers are read back with INDI's indi_getprop, and the other way round."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pytest

import drivers
from drivers.base import CameraSettings, LightState
from drivers.clock import SystemClock, wait_until
from drivers.errors import DeviceDisconnected, DeviceError, InvalidValue, NotSupported
from drivers.indi.device import IndiDevice
from tests.support.indi import IndiServer, free_port, indiserver

pytestmark = pytest.mark.slow

CCD, WHEEL, PANEL = "CCD Simulator", "Filter Simulator", "Light Panel Simulator"


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndiServer]:
    home = tmp_path_factory.mktemp("indi-home")
    drivers_ = ["indi_simulator_ccd", "indi_simulator_wheel", "indi_simulator_lightpanel"]
    with indiserver(home, drivers_, [CCD, WHEEL, PANEL]) as server:
        yield server


@pytest.fixture
def open_device(sims: IndiServer) -> Iterator[type[IndiDevice]]:
    opened: list[IndiDevice] = []

    def opener(device: str, **options: str) -> IndiDevice:
        found = cast(IndiDevice, drivers.open(sims.url(device, **options)))
        opened.append(found)
        found.connect()
        return found

    yield opener  # type: ignore[misc]
    for device in opened:
        device.disconnect()


def _expose(camera: IndiDevice, seconds: float, light: bool) -> np.ndarray:
    camera.start_exposure(seconds, light)
    assert wait_until(SystemClock(), camera.image_ready, timeout=30, poll=0.01)
    return camera.read_image()


def test_camera_info_comes_from_the_simulators_properties(open_device) -> None:
    info = open_device(CCD).info
    assert (info.width, info.height, info.max_adu) == (1280, 1024, 65535)
    assert (info.gain_min, info.gain_max, info.offset_min, info.offset_max) == (0, 100, 0, 6000)
    assert info.exposure_min == pytest.approx(0.01) and info.max_binning == 4
    assert info.can_cool and info.unreported == ("temperature",)  # CCD_TEMPERATURE is the measured value
    assert info.readout_modes == ("Mono",)  # CCD_CAPTURE_FORMAT


def test_settings_go_to_the_camera_and_read_back(open_device, sims: IndiServer) -> None:
    camera = open_device(CCD)
    camera.apply(CameraSettings(gain=60, offset=500, binning=2, readout_mode=0, temperature=None))
    assert sims.get(f"{CCD}.CCD_GAIN.GAIN") == "60"
    assert sims.get(f"{CCD}.CCD_BINNING.HOR_BIN") == "2" and sims.get(f"{CCD}.CCD_BINNING.VER_BIN") == "2"
    sims.set(f"{CCD}.CCD_OFFSET.OFFSET=1000")  # changed behind our back: read back as the camera has it
    assert wait_until(SystemClock(), lambda: camera.read_settings().offset == 1000, timeout=5)
    assert camera.read_settings() == CameraSettings(gain=60, offset=1000, binning=2, readout_mode=0)


def test_flat_dark_and_bias_frames_arrive_as_binned_uint16_with_the_cameras_own_timing(open_device, sims) -> None:
    camera = open_device(CCD)
    camera.apply(CameraSettings(gain=30, offset=0, binning=2))
    for seconds, light, kind in ((0.2, True, "FRAME_FLAT"), (0.2, False, "FRAME_DARK"), (0.01, False, "FRAME_BIAS")):
        frame = _expose(camera, seconds, light)
        assert sims.get(f"{CCD}.CCD_FRAME_TYPE.{kind}") == "On"
        assert frame.dtype == np.uint16 and frame.shape == (512, 640)
        report = camera.last_exposure()
        assert report.duration == pytest.approx(seconds) and report.start is not None  # EXPTIME, DATE-OBS


def test_an_alert_fails_the_call_with_the_devices_own_words(open_device) -> None:
    camera = open_device(CCD)
    with pytest.raises(InvalidValue) as refused:
        camera.apply(CameraSettings(gain=0, offset=7000))
    text = str(refused.value)
    assert text.startswith(f"{CCD}: CCD_OFFSET Alert:") and "Valid range is from 0 to 6000" in text
    assert "\n" not in text


def test_abort_stops_the_exposure_and_no_image_comes(open_device, sims) -> None:
    camera = open_device(CCD)
    camera.start_exposure(30, True)
    assert sims.get(f"{CCD}.CCD_EXPOSURE.CCD_EXPOSURE_VALUE") not in (None, "0")
    camera.abort_exposure()
    assert not camera.image_ready()
    frame = _expose(camera, 0.05, True)  # the camera is usable again at once
    assert frame.shape == (1024, 1280) or frame.ndim == 2


def test_filter_names_come_from_filter_name_and_slots_are_zero_based(open_device, sims) -> None:
    wheel = open_device(WHEEL)
    assert wheel.names() == ["Red", "Green", "Blue", "H_Alpha", "SII", "OIII", "LPR", "Luminance"]
    wheel.move_to(3)
    assert wait_until(SystemClock(), lambda: wheel.position() == 3, timeout=10)
    assert sims.get(f"{WHEEL}.FILTER_SLOT.FILTER_SLOT_VALUE") == "4"  # INDI counts from 1
    with pytest.raises(InvalidValue, match="has no slot 8"):
        wheel.move_to(8)


def test_light_panel_range_is_read_from_the_property_and_the_light_follows(open_device, sims) -> None:
    panel = open_device(PANEL)
    assert panel.brightness_range == (0, 255) and not panel.has_cover
    panel.light_on(120)
    assert panel.light_state() is LightState.READY and panel.brightness() == 120
    assert sims.get(f"{PANEL}.FLAT_LIGHT_CONTROL.FLAT_LIGHT_ON") == "On"
    assert sims.get(f"{PANEL}.FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE") == "120"
    panel.light_off()
    assert panel.light_state() is LightState.OFF
    assert sims.get(f"{PANEL}.FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF") == "On"
    with pytest.raises(InvalidValue, match="out of range 0-255"):
        panel.light_on(256)


def test_a_device_used_for_what_it_is_not_says_which_property_it_lacks(open_device) -> None:
    with pytest.raises(NotSupported, match=f"{PANEL}: is not a camera: it has no CCD_EXPOSURE"):
        _ = open_device(PANEL).info.width
    with pytest.raises(NotSupported, match="is not a light box: it has no FLAT_LIGHT_CONTROL"):
        open_device(WHEEL).light_on(10)


def test_an_unknown_device_is_named_with_those_the_server_has(sims: IndiServer) -> None:
    device = cast(IndiDevice, drivers.open(sims.url("CCD Simulatr", connect_timeout="1")))
    with pytest.raises(DeviceError) as missing:
        device.connect()
    assert "has no device 'CCD Simulatr'" in str(missing.value) and CCD in str(missing.value)


def test_no_server_is_a_disconnected_device_not_a_hang(tmp_path: Path) -> None:
    device = cast(IndiDevice, drivers.open(f"indi://127.0.0.1:{free_port()}/{CCD}"))
    with pytest.raises(DeviceDisconnected, match=r"no INDI server answers at 127\.0\.0\.1:\d+ \(connection refused\)"):
        device.connect()
