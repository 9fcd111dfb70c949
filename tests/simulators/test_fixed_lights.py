"""Lights the exposure search is for, on the bench's physics: a switch-only panel (`dimmable=0`), a light
switched by hand (`bench.manual_light`, and `sim://manual`, the person who switches it for a dry run), and a
camera whose low end is not linear in the exposure (`exposure_offset`)."""

from __future__ import annotations

import pytest

from drivers.base import CameraSettings, FlatPanel, LightState
from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from drivers.registry import OpenContext, default_registry
from sequencer.core.stats import frame_stats
from simulators.devices.bench import Bench

PEDESTAL = 500.0


def connected(**options: object) -> Bench:
    bench = Bench(sensor="small", seed=4, clock=VirtualClock(), warmup=0.0, **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50))
    return bench


def signal(bench: Bench, seconds: float) -> float:
    """Mean ADU above the pedestal of one frame."""
    return frame_stats(bench.take(seconds), max_adu=65535).mean - PEDESTAL


def test_a_switch_only_panel_has_one_level_and_ignores_the_brightness_asked() -> None:
    bench = connected(dimmable=False, pwm_hz=100)
    assert bench.panel.brightness_range == (255, 255)
    bench.panel.light_on(255)
    full = signal(bench, 0.02)
    bench.panel.light_on(10)  # taken, and ignored: the panel has no dimmer
    assert bench.panel.light_state() is LightState.READY
    assert signal(bench, 0.02) == pytest.approx(full, rel=0.01)
    dimmable = connected(pwm_hz=0)
    dimmable.panel.light_on(10)
    assert signal(dimmable, 0.02) == pytest.approx(full * 10 / 255, rel=0.05)


def test_dimmable_is_a_checked_url_option() -> None:
    registry = default_registry()
    panel = registry.open("sim://panel?dimmable=0", OpenContext(clock=VirtualClock(), urls=("sim://panel?dimmable=0",)))
    assert isinstance(panel, FlatPanel)
    panel.connect()
    assert panel.brightness_range == (255, 255)
    with pytest.raises(ConfigError, match="sim option dimmable='maybe': expected 1/0, true/false"):
        registry.facts("sim://panel?dimmable=maybe")


def test_the_manual_light_lights_the_camera_through_the_filter_while_it_is_on() -> None:
    bench = connected(manual_flux=20_000.0)
    assert not bench.manual_light.is_on
    assert abs(signal(bench, 0.25)) < 2.0
    bench.manual_light.switch(True)
    assert bench.manual_light.is_on
    lum = signal(bench, 0.25)
    assert lum == pytest.approx(0.25 * 20_000.0 / bench.sensor.e_per_adu(100), rel=0.05)
    bench.wheel.move_to(bench.wheel.names().index("Ha"))
    bench.clock.sleep(10.0)
    assert signal(bench, 0.25) == pytest.approx(lum * bench.transmission("Ha"), rel=0.05)
    # Switched off half-way through an exposure: half the light.
    bench.camera.start_exposure(0.25, light=True)
    bench.clock.sleep(0.125)
    bench.manual_light.switch(False)
    bench.clock.sleep(1.0)
    half = frame_stats(bench.camera.read_image(), max_adu=65535).mean - PEDESTAL
    assert half == pytest.approx(0.5 * lum * bench.transmission("Ha"), rel=0.05)


def test_the_simulated_person_switches_the_manual_light_when_asked() -> None:
    registry = default_registry()
    ctx = OpenContext(clock=VirtualClock(), urls=("sim://camera", "sim://manual"))
    camera = registry.open("sim://camera", ctx)
    hand = registry.open("sim://manual", ctx)
    assert isinstance(hand, FlatPanel)
    bench: Bench = ctx.bench
    assert camera is bench.camera and hand is bench.manual_hand  # one bench: the camera sees what the hand does
    hand.connect()
    hand.light_on(1)
    assert bench.manual_light.is_on and hand.light_state() is LightState.READY
    hand.light_off()
    assert not bench.manual_light.is_on and bench.manual_hand.switches == [True, False]


def test_an_exposure_offset_makes_the_low_end_non_linear() -> None:
    """A shutter adding 50 ms of light: 0.1 s collects 0.15 s of it, 0.4 s collects 0.45 s; the camera still
    reports the exposure asked."""
    bench = connected(exposure_offset=0.05, pwm_hz=0)
    bench.panel.light_on(10)
    short, long = signal(bench, 0.1), signal(bench, 0.4)
    assert short / long == pytest.approx(0.15 / 0.45, rel=0.03)
    assert bench.camera.last_exposure().duration == 0.4
