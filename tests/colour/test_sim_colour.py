"""The colour bench's physics: the panel's spectrum and the filter's colour reach each pixel of the mosaic, the
pattern moves the red pixel, a binned colour frame is no longer a mosaic, and the options refuse what no sensor
has."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from simulators.devices.bench import Bench


def lit_frame(filter_name: str, binning: int = 1, **options: object) -> np.ndarray:
    bench = Bench(sensor="smallc", seed=4, clock=VirtualClock(), filters=("None", "UVIR", "DualBand"), **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50, binning=binning))
    bench.wheel.move_to(("None", "UVIR", "DualBand").index(filter_name))
    bench.panel.light_on(60)
    bench.clock.sleep(30.0)
    return bench.take(1.0).astype(np.float64)


def cells(frame: np.ndarray) -> list[float]:
    return [float(frame[i // 2 :: 2, i % 2 :: 2].mean()) for i in range(4)]


def test_a_white_led_is_bluish_and_a_dual_band_filter_passes_red() -> None:
    r, g1, g2, b = cells(lit_frame("None"))
    assert b > g1 > r and g1 == pytest.approx(g2, rel=0.01)
    r, g1, _, b = cells(lit_frame("DualBand"))
    assert r > 1.8 * g1 and g1 > 1.4 * b
    r, g1, _, b = cells(lit_frame("None", spectrum="white"))
    assert g1 > b > r  # equal energy: the sensor's own response


def test_the_pattern_says_where_the_red_pixel_is() -> None:
    for pattern in ("RGGB", "GRBG", "GBRG", "BGGR"):
        levels = cells(lit_frame("DualBand", bayer=pattern))
        assert pattern[int(np.argmax(levels))] == "R", pattern


def test_a_binned_colour_frame_is_no_longer_a_mosaic() -> None:
    levels = cells(lit_frame("DualBand", binning=2))
    assert max(levels) / min(levels) < 1.02


def test_the_options_refuse_a_pattern_no_sensor_has_and_colour_on_a_mono_sensor() -> None:
    with pytest.raises(ConfigError, match=r"sim option bayer='CMYG'.*not a Bayer pattern \(known: RGGB, GRBG"):
        Bench(sensor="smallc", bayer="CMYG")
    with pytest.raises(ConfigError, match=r"bayer=GRBG: sensor small is mono \(colour: imx455c, imx571c, smallc\)"):
        Bench(sensor="small", bayer="GRBG")
