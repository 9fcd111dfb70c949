"""The simulated panel as the camera sees it: warm-up, afterglow, PWM ripple, response curves, the cover."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from drivers.base import CameraSettings, CoverState, FlatPanel, LightState
from drivers.clock import VirtualClock, wait_until
from drivers.errors import InvalidValue, NotConnected, NotSupported
from simulators.devices.bench import Bench
from simulators.physics.light import response
from simulators.physics.options import parse_options


def rig(filter_name: str = "Ha", **options: Any) -> Bench:
    bench = Bench(sensor="small", seed=5, clock=VirtualClock(), **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50))
    bench.wheel.move_to(bench.wheel.names().index(filter_name))
    assert wait_until(bench.clock, lambda: bench.wheel.position() is not None, timeout=30)
    return bench


def above_pedestal(bench: Bench, seconds: float) -> float:
    return float(bench.take(seconds).mean()) - bench.sensor.pedestal_adu(50)


def test_panel_implements_the_protocol_and_needs_connecting() -> None:
    bench = Bench(clock=VirtualClock())
    assert isinstance(bench.panel, FlatPanel)
    assert bench.panel.name == "sim panel"
    with pytest.raises(NotConnected, match="sim panel: not connected"):
        bench.panel.light_on(10)
    bench.panel.connect()
    assert bench.panel.brightness_range == (0, 255)
    assert bench.panel.light_state() is LightState.OFF


def test_brightness_out_of_range_is_invalid_value() -> None:
    bench = rig(max=100)
    assert bench.panel.brightness_range == (0, 100)
    with pytest.raises(InvalidValue, match=r"brightness 101 out of range 0-100"):
        bench.panel.light_on(101)
    with pytest.raises(InvalidValue, match="brightness -1"):
        bench.panel.light_on(-1)


def test_a_frame_right_after_light_on_is_dimmer_than_after_the_settle_time() -> None:
    bench = rig()
    bench.panel.light_on(64)
    assert bench.panel.light_state() is LightState.SETTLING
    early = above_pedestal(bench, 1.0)
    bench.clock.sleep(3.0)
    assert bench.panel.light_state() is LightState.READY
    settled = above_pedestal(bench, 1.0)
    # warm-up from 85 % with a 0.7 s time constant: the first second averages ~92 %
    assert early / settled == pytest.approx(1 - 0.15 * 0.7 * (1 - np.exp(-1 / 0.7)), rel=0.01)
    assert early < 0.95 * settled


def test_light_state_settles_within_the_reported_settle_time() -> None:
    bench = rig()
    bench.panel.light_on(200)
    settle = bench.panel.settle_time
    assert 1.0 < settle < 3.0
    bench.clock.sleep(settle - 0.05)
    assert bench.panel.light_state() is LightState.SETTLING
    bench.clock.sleep(0.1)
    assert bench.panel.light_state() is LightState.READY


def test_a_dark_right_after_light_off_shows_afterglow_and_after_settling_does_not() -> None:
    bench = rig()
    bench.panel.light_off()
    bench.clock.sleep(10.0)
    dark_levels = [above_pedestal(bench, 4.0) for _ in range(6)]
    dark, spread = float(np.mean(dark_levels)), float(np.std(dark_levels, ddof=1))
    bench.panel.light_on(128)
    bench.clock.sleep(5.0)
    bench.panel.light_off()
    right_after = above_pedestal(bench, 4.0)
    assert right_after - dark > 50 * max(spread, 0.01)  # tens of ADU of residual light
    bench.panel.light_on(128)
    bench.clock.sleep(5.0)
    bench.panel.light_off()
    bench.clock.sleep(3.0)
    settled = above_pedestal(bench, 4.0)
    assert abs(settled - dark) < 4 * max(spread, 0.01)


def test_pwm_ripple_scatters_short_exposures_far_more_than_long_ones() -> None:
    bench = rig(pwm_hz=100)
    bench.panel.light_on(128)
    bench.clock.sleep(5.0)

    def scatter(seconds: float) -> float:
        levels = [above_pedestal(bench, seconds) for _ in range(16)]
        return float(np.std(levels, ddof=1) / np.mean(levels))

    short, long = scatter(0.01), scatter(1.0)
    assert short > 0.005  # a visible fraction of a percent at one PWM period
    assert short > 4 * long


def test_without_pwm_short_exposures_are_steady() -> None:
    bench = rig(pwm_hz=0)
    bench.panel.light_on(128)
    bench.clock.sleep(5.0)
    levels = [above_pedestal(bench, 0.01) for _ in range(16)]
    assert np.std(levels, ddof=1) / np.mean(levels) < 0.001


def test_gamma_curve_follows_brightness_to_the_power_gamma() -> None:
    bench = rig(curve="gamma", gamma=2.2)
    levels = {}
    for brightness in (128, 255):
        bench.panel.light_on(brightness)
        bench.clock.sleep(5.0)
        levels[brightness] = above_pedestal(bench, 2.0)
    assert levels[128] / levels[255] == pytest.approx((128 / 255) ** 2.2, rel=0.02)


def test_threshold_curve_is_dark_below_the_threshold_then_linear() -> None:
    bench = rig(curve="threshold", threshold=40)
    levels = {}
    for brightness in (30, 40, 140, 240):
        bench.panel.light_on(brightness)
        bench.clock.sleep(5.0)
        levels[brightness] = above_pedestal(bench, 2.0)
    assert abs(levels[30]) < 1.0 and abs(levels[40]) < 1.0
    assert levels[240] / levels[140] == pytest.approx(200 / 100, rel=0.02)


def test_response_curves() -> None:
    linear = parse_options({})
    assert response(0, linear) == 0.0
    assert response(255, linear) == 1.0
    assert response(51, linear) == pytest.approx(0.2)
    gamma = parse_options({"curve": "gamma", "gamma": "2"})
    assert response(128, gamma) == pytest.approx((128 / 255) ** 2)
    threshold = parse_options({"curve": "threshold"})
    assert threshold.effective_threshold() == 25
    assert response(25, threshold) == 0.0
    assert response(255, threshold) == 1.0


def test_brightness_is_kept_while_off_and_set_brightness_changes_a_lit_panel_at_once() -> None:
    bench = rig(pwm_hz=0)
    bench.panel.light_on(100)
    bench.clock.sleep(5.0)
    bench.panel.light_off()
    assert bench.panel.brightness() == 100
    bench.panel.set_brightness(50)
    assert bench.panel.light_state() is LightState.OFF
    bench.panel.light_on(50)
    bench.clock.sleep(5.0)
    at_50 = above_pedestal(bench, 2.0)
    bench.panel.set_brightness(100)
    assert bench.panel.light_state() is LightState.READY  # no new warm-up for a duty change
    assert above_pedestal(bench, 2.0) / at_50 == pytest.approx(2.0, rel=0.01)


def test_panel_without_a_cover_refuses_cover_commands() -> None:
    bench = rig()
    assert bench.panel.has_cover is False
    assert bench.panel.cover_state() is CoverState.NOT_PRESENT
    with pytest.raises(NotSupported, match="sim panel: this panel has no cover"):
        bench.panel.close_cover()


def test_cover_moves_for_cover_time_and_lights_the_camera_only_when_closed() -> None:
    bench = rig(cover=True, cover_time=3.0)
    panel = bench.panel
    assert panel.name == "sim panel (flip-flat)"
    assert panel.cover_state() is CoverState.OPEN
    panel.light_on(64)
    bench.clock.sleep(5.0)
    assert abs(above_pedestal(bench, 2.0)) < 1.0  # open: the panel faces away
    panel.close_cover()
    assert panel.cover_state() is CoverState.MOVING
    bench.clock.sleep(2.9)
    assert panel.cover_state() is CoverState.MOVING
    bench.clock.sleep(0.2)
    assert panel.cover_state() is CoverState.CLOSED
    closed = above_pedestal(bench, 2.0)
    assert closed > 5000
    panel.open_cover()
    moving = above_pedestal(bench, 2.0)  # cover swings open during the exposure
    assert 0.1 * closed < moving < 0.9 * closed
    bench.clock.sleep(3.0)
    assert panel.cover_state() is CoverState.OPEN


def test_dead_panel_reports_error_and_gives_no_light() -> None:
    bench = rig(panel_fault="dead")
    bench.panel.light_on(200)
    bench.clock.sleep(5.0)
    assert bench.panel.light_state() is LightState.ERROR
    assert abs(above_pedestal(bench, 2.0)) < 1.0
    bench.panel.light_off()
    assert bench.panel.light_state() is LightState.OFF


def test_panel_calls_are_thread_safe() -> None:
    bench = rig()
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(300):
                if rng.random() < 0.5:
                    bench.panel.light_on(int(rng.integers(0, 256)))
                else:
                    bench.panel.light_off()
                bench.panel.brightness()
                bench.panel.light_state()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    bench.take(1.0)  # the history stays integrable
