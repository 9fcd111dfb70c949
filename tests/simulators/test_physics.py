"""The simulated sensor's physics, measured from its frames the way a user would (small sensor, virtual clock).

Flat levels follow brightness × transmission × exposure; darks carry offset + dark current × t + glow;
PRNU, vignetting, read noise and clipping match the model's numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from drivers.base import CameraSettings
from drivers.clock import VirtualClock, wait_until
from simulators.devices.bench import Bench
from simulators.physics.sensor import SENSORS


def rig(gain: int = 100, offset: int = 50, temperature: float | None = None, **options: Any) -> Bench:
    """A connected small-sensor bench on a virtual clock, panel off, filter L."""
    bench = Bench(sensor="small", seed=11, clock=VirtualClock(), **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=gain, offset=offset, temperature=temperature))
    if temperature is not None:
        bench.camera.wait_for_cooler(timeout=600)
    return bench


def select(bench: Bench, name: str) -> None:
    bench.wheel.move_to(bench.wheel.names().index(name))
    assert wait_until(bench.clock, lambda: bench.wheel.position() is not None, timeout=30)


def lit(bench: Bench, brightness: int, name: str = "L") -> None:
    select(bench, name)
    bench.panel.light_on(brightness)
    bench.clock.sleep(5.0)  # well past warm-up


def signal(bench: Bench, seconds: float, frames: int = 1) -> float:
    """Mean ADU above the offset pedestal, averaged over frames."""
    pedestal = bench.sensor.pedestal_adu(bench.camera.read_settings().offset)
    return float(np.mean([bench.take(seconds).mean() for _ in range(frames)])) - pedestal


def test_flat_signal_scales_with_exposure_within_2_percent() -> None:
    bench = rig()
    lit(bench, 64, "Ha")
    levels = {t: signal(bench, t) for t in (1.0, 2.0, 4.0)}
    assert levels[4.0] > 20000  # a real flat level, far above noise
    assert levels[2.0] / levels[1.0] == pytest.approx(2.0, rel=0.02)
    assert levels[4.0] / levels[1.0] == pytest.approx(4.0, rel=0.02)


def test_flat_signal_scales_with_brightness_within_2_percent() -> None:
    bench = rig()
    select(bench, "Ha")
    levels = {}
    for brightness in (32, 64, 128):
        bench.panel.light_on(brightness)
        bench.clock.sleep(5.0)
        levels[brightness] = signal(bench, 2.0)
    assert levels[64] / levels[32] == pytest.approx(2.0, rel=0.02)
    assert levels[128] / levels[32] == pytest.approx(4.0, rel=0.02)


def test_flat_level_matches_flux_times_transmission() -> None:
    bench = rig()
    lit(bench, 64, "Ha")
    expected_e = bench.options.flux * 64 / 255 * 0.035 * 2.0
    assert signal(bench, 2.0) == pytest.approx(expected_e / bench.sensor.e_per_adu(100), rel=0.02)


@pytest.mark.parametrize("name", ["Ha", "OIII", "SII", "R", "G", "B"])
def test_filter_ratio_equals_transmission_ratio_within_3_percent(name: str) -> None:
    bench = rig()
    lit(bench, 8, "L")
    luminance = signal(bench, 0.5) / 0.5
    select(bench, name)
    seconds = 8.0 if bench.transmission(name) < 0.1 else 1.0
    measured = signal(bench, seconds) / seconds / luminance
    assert measured == pytest.approx(bench.transmission(name), rel=0.03)


def test_field_notes_routine_lands_mid_range_on_the_default_panel() -> None:
    """Ha 4 s, OIII 1.5 s, SII 4 s at gain 100 reach ~50 % of full scale with brightness inside 0-255."""
    bench = rig()
    for name, seconds in (("Ha", 4.0), ("OIII", 1.5), ("SII", 4.0)):
        select(bench, name)
        bench.panel.light_on(255)
        bench.clock.sleep(5.0)
        full = signal(bench, seconds)
        needed = 255 * (32768 - 500) / full  # linear panel
        assert 40 < needed < 230, (name, needed)


def test_dark_mean_is_offset_plus_dark_current_times_time() -> None:
    bench = rig(glow=0, hot_pixels=0, ambient=20.0)
    sensor = bench.sensor
    seconds = 60.0
    expected = sensor.dark_current(20.0) * seconds / sensor.e_per_adu(100)
    assert expected > 20  # e⁻ of dark current become tens of ADU at 20 °C
    assert signal(bench, seconds, frames=2) == pytest.approx(expected, rel=0.02)


def test_dark_mean_includes_amp_glow_and_hot_pixels() -> None:
    bench = rig(ambient=20.0)
    seconds = 10.0
    expected = bench.mean_dark_rate(20.0) * seconds / bench.sensor.e_per_adu(100)
    plain = bench.sensor.dark_current(20.0) * seconds / bench.sensor.e_per_adu(100)
    assert expected > plain * 1.1
    assert signal(bench, seconds, frames=4) == pytest.approx(expected, rel=0.03)


def test_amp_glow_brightens_the_right_hand_corners() -> None:
    bench = rig(temperature=-10.0, hot_pixels=0)
    frame = bench.take(120.0).astype(np.float64)
    right = frame[:8, -8:].mean()
    left = frame[:8, :8].mean()
    glow_adu = bench.sensor.glow_peak * 120.0 / bench.sensor.e_per_adu(100)
    assert right - left == pytest.approx(glow_adu, rel=0.25)


def test_dark_current_doubles_every_6_degrees() -> None:
    warm = signal(rig(glow=0, hot_pixels=0, ambient=26.0), 60.0, frames=2)
    cool = signal(rig(glow=0, hot_pixels=0, ambient=20.0), 60.0, frames=2)
    assert warm / cool == pytest.approx(2.0, rel=0.05)
    model = SENSORS["imx455"]
    assert model.dark_current(-10.0) == pytest.approx(0.0046)
    assert model.dark_current(-4.0) == pytest.approx(0.0092)


def test_a_4s_dark_sits_measurably_above_a_bias_even_cooled() -> None:
    """The point of dark-flats: at -10 °C a 4 s dark still carries dark current and glow above a bias."""
    bench = rig(temperature=-10.0)
    bias = [bench.take(0.0).mean() for _ in range(8)]
    dark = [bench.take(4.0).mean() for _ in range(8)]
    difference = np.mean(dark) - np.mean(bias)
    error = np.hypot(np.std(dark, ddof=1), np.std(bias, ddof=1)) / np.sqrt(8)
    assert difference > 5 * error
    expected = bench.mean_dark_rate(-10.0) * 4.0 / bench.sensor.e_per_adu(100)
    assert difference == pytest.approx(expected, rel=0.35)


def test_prnu_is_below_1_percent_rms() -> None:
    bench = rig(gain=0, dust=0, vignetting=1.0)
    lit(bench, 255, "L")  # full duty: no PWM ripple
    seconds = 35_000 / bench.options.flux
    pedestal = bench.sensor.pedestal_adu(50)
    a = np.mean([bench.take(seconds) for _ in range(8)], axis=0) - pedestal
    b = np.mean([bench.take(seconds) for _ in range(8)], axis=0) - pedestal
    both = (a + b) / 2
    noise_var = np.var(a - b) / 4
    prnu = np.sqrt(np.var(both) - noise_var) / both.mean()
    assert 0.003 < prnu < 0.01
    assert prnu == pytest.approx(bench.sensor.prnu_rms, rel=0.15)


def test_illumination_map_has_mean_1_and_the_configured_vignetting() -> None:
    bench = Bench(seed=2, vignetting=0.7, dust=3, clock=VirtualClock())
    flat = bench.illumination()
    assert flat.shape == (214, 320)
    assert flat.mean() == pytest.approx(1.0, abs=1e-6)
    binned = bench.illumination(2)
    assert binned.shape == (107, 160)
    assert binned.mean() == pytest.approx(1.0, abs=1e-6)
    clean = Bench(seed=2, vignetting=0.7, dust=0, clock=VirtualClock()).illumination()
    shadows = flat / clean * (clean.mean() / flat.mean())
    assert shadows.min() < 0.97  # dust donuts: a few % deep
    assert np.mean(shadows < 0.99) < 0.1  # ... and local
    rows, cols = flat.shape
    assert clean[0, 0] / clean[rows // 2, cols // 2] == pytest.approx(0.7, rel=0.03)


@pytest.mark.parametrize("vignetting", [0.6, 0.85])
def test_corner_to_centre_ratio_matches_configured_vignetting(vignetting: float) -> None:
    bench = rig(gain=0, dust=0, vignetting=vignetting)
    lit(bench, 255, "L")
    seconds = 30_000 / bench.options.flux
    flat = np.mean([bench.take(seconds) for _ in range(8)], axis=0)
    bench.panel.light_off()
    bench.clock.sleep(5.0)
    dark = np.mean([bench.take(seconds) for _ in range(4)], axis=0)
    frame = flat - dark
    rows, cols = frame.shape
    corners = [frame[:4, :4], frame[:4, -4:], frame[-4:, :4], frame[-4:, -4:]]
    centre = frame[rows // 2 - 2 : rows // 2 + 2, cols // 2 - 2 : cols // 2 + 2]
    ratio = np.mean([c.mean() for c in corners]) / centre.mean()
    assert ratio == pytest.approx(vignetting, rel=0.02)


@pytest.mark.parametrize("gain", [0, 100, 200])
def test_read_noise_matches_the_model_within_10_percent(gain: int) -> None:
    bench = rig(gain=gain)
    first = bench.take(0.0).astype(np.float64)
    second = bench.take(0.0).astype(np.float64)
    measured = np.std(first - second) / np.sqrt(2)
    sensor = bench.sensor
    model_adu = sensor.read_noise_adu(gain)
    expected = np.sqrt(model_adu**2 * (1 + sensor.banding_frame**2) + 1 / 12)
    assert measured == pytest.approx(expected, rel=0.10)


def test_read_noise_in_electrons_drops_at_the_hcg_switch() -> None:
    sensor = SENSORS["imx455"]
    assert sensor.read_noise_e(0) == pytest.approx(3.5)
    assert sensor.read_noise_e(99) > 2.5
    assert sensor.read_noise_e(100) < 1.7
    assert sensor.e_per_adu(0) == pytest.approx(0.78)
    assert sensor.e_per_adu(100) == pytest.approx(0.78 / np.sqrt(10))


def test_pixels_clip_at_full_well() -> None:
    bench = rig(gain=0, full_well=20_000)
    lit(bench, 255, "L")
    frame = bench.take(1.0)
    ceiling = int(bench.sensor.pedestal_adu(50) + 20_000 / bench.sensor.e_per_adu(0))
    assert frame.max() == ceiling
    assert np.count_nonzero(frame == ceiling) > 0.95 * frame.size


def test_pixels_clip_at_65535() -> None:
    bench = rig(gain=100)
    lit(bench, 255, "L")
    frame = bench.take(1.0)
    assert frame.max() == 65535
    assert np.count_nonzero(frame == 65535) > 0.95 * frame.size


def test_offset_setting_moves_the_pedestal() -> None:
    low = rig(offset=10).take(0.0).mean()
    high = rig(offset=60).take(0.0).mean()
    assert low == pytest.approx(100, abs=0.5)
    assert high == pytest.approx(600, abs=0.5)


def test_14_bit_readout_mode_steps_by_4_adu() -> None:
    bench = rig()
    bench.camera.apply(CameraSettings(gain=100, offset=50, readout_mode=2))
    frame = bench.take(0.0)
    assert np.all(frame % 4 == 0)
    assert frame.mean() == pytest.approx(500, abs=1.0)


def test_binning_averages_pixels() -> None:
    bench = rig()
    lit(bench, 32, "Ha")
    one = bench.take(2.0)
    bench.camera.apply(CameraSettings(gain=100, offset=50, binning=2))
    two = bench.take(2.0)
    assert two.shape == (107, 160)
    assert two.mean() == pytest.approx(one.mean(), rel=0.01)
    centre_one = one[90:120, 140:180].astype(np.float64)
    centre_two = two[45:60, 70:90].astype(np.float64)
    assert np.std(centre_two) < 0.7 * np.std(centre_one)


@pytest.mark.parametrize("gain", [0, 60, 120])
def test_photon_transfer_gives_back_the_conversion_gain(gain: int) -> None:
    """The standard photon-transfer measurement: shot-noise variance = signal / (e⁻/ADU)."""
    bench = rig(gain=gain, dust=0)
    lit(bench, 255, "Ha")  # full duty: no PWM ripple between the two frames
    sensor = bench.sensor
    seconds = 8000 / (bench.options.flux * 0.035)
    first = bench.take(seconds).astype(np.float64)[60:160, 100:220]
    second = bench.take(seconds).astype(np.float64)[60:160, 100:220]
    bias = (bench.take(0.0).astype(np.float64)[60:160, 100:220], bench.take(0.0).astype(np.float64)[60:160, 100:220])
    signal_adu = (first.mean() + second.mean()) / 2 - (bias[0].mean() + bias[1].mean()) / 2
    shot_var = np.var(first - second) / 2 - np.var(bias[0] - bias[1]) / 2
    assert signal_adu / shot_var == pytest.approx(sensor.e_per_adu(gain), rel=0.04)


def test_threaded_rendering_of_a_big_frame_equals_single_threaded_and_has_the_right_noise() -> None:
    from simulators.physics.optics import OpticsSettings, build_full_maps
    from simulators.physics.render import ExposureSignal, FrameRenderer

    sensor = SENSORS["small"].with_options(width=1280, height=900, hot_fraction=0.0)
    maps = build_full_maps(sensor, OpticsSettings(vignetting=1.0, dust=0, seed=4))
    signal = ExposureSignal(light_e=5000.0, seconds=1.0, temperature=-10.0, gain=0, offset=50)
    threaded = FrameRenderer(sensor, seed=4, workers=2)
    single = FrameRenderer(sensor, seed=4, workers=1)
    frame = threaded.render(maps, signal, np.random.default_rng(1))
    threaded.close()
    np.testing.assert_array_equal(frame, single.render(maps, signal, np.random.default_rng(1)))
    gain = sensor.e_per_adu(0)
    assert frame.mean() == pytest.approx(500 + 5000 / gain, rel=0.001)
    expected_std = np.sqrt(5000 / gain**2 * (1 + 5000 * sensor.prnu_rms**2) + sensor.read_noise_adu(0) ** 2)
    assert frame.std() == pytest.approx(expected_std, rel=0.05)
