"""Faults armed for a moment of the run strike exactly then, once, and the bench tells lit exposures from dark
ones by its own light (not by what the caller says the frame is)."""

from __future__ import annotations

import pytest

from drivers.base import CameraSettings, LightState
from drivers.clock import VirtualClock
from drivers.errors import DeviceDisconnected
from simulators.devices.bench import Bench
from simulators.devices.faults import Moment, parse_fault, parse_moment


def _bench() -> Bench:
    bench = Bench(sensor="small", seed=1, clock=VirtualClock())
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50))
    return bench


def test_exposures_count_as_lit_while_the_light_is_on_and_dark_once_it_has_been_on() -> None:
    bench = _bench()
    bench.take(0.1, light=False)  # a bias before any light: neither
    bench.panel.light_on(100)
    bench.take(0.1, light=False)  # lit whatever the caller calls it: the panel shines on the sensor
    bench.panel.light_off()
    bench.take(0.1, light=True)
    bench.take(0.1, light=True)
    assert (bench.faults.count(Moment.LIT_EXPOSURE), bench.faults.count(Moment.DARK_EXPOSURE)) == (1, 2)
    assert (bench.faults.count(Moment.LIGHT_ON), bench.faults.count(Moment.LIGHT_OFF)) == (1, 1)


def test_an_armed_fault_strikes_at_the_nth_moment_before_that_call_and_only_once() -> None:
    bench = _bench()
    struck: list[int] = []
    bench.faults.at(Moment.LIT_EXPOSURE, 2, lambda: struck.append(bench.faults.count(Moment.LIT_EXPOSURE)))
    bench.faults.at(Moment.LIT_EXPOSURE, 3, lambda: bench.faults.inject("camera", "unplugged"))
    bench.panel.light_on(100)
    bench.take(0.1)
    assert struck == []
    bench.take(0.1)
    assert struck == [2]
    with pytest.raises(DeviceDisconnected, match=r"sim camera \(small\): the camera is gone from the bus"):
        bench.take(0.1)  # the third exposure never starts
    assert not bench.camera.exposing
    bench.faults.clear("camera")
    bench.take(0.1)  # replugged
    assert struck == [2]


def test_a_light_stuck_on_accepts_light_off_and_says_it_is_still_on() -> None:
    bench = _bench()
    bench.panel.light_on(100)
    bench.clock.sleep(5)
    bench.faults.inject("panel", "stuck_on")
    bench.panel.light_off()
    assert bench.panel.light_state() is LightState.READY
    bench.take(0.1)
    assert bench.faults.count(Moment.DARK_EXPOSURE) == 0  # still lit


def test_an_unplugged_panel_and_wheel_fail_every_call_even_connect() -> None:
    bench = _bench()
    bench.faults.inject("panel", "unplugged")
    bench.faults.inject("wheel", "unplugged")
    with pytest.raises(DeviceDisconnected, match="the panel is gone from the bus"):
        bench.panel.light_off()
    with pytest.raises(DeviceDisconnected, match="the filter wheel is gone from the bus"):
        bench.wheel.connect()


def test_fault_specs_name_a_moment_a_count_and_an_action() -> None:
    assert parse_moment("lit_exposure:3") == (Moment.LIT_EXPOSURE, 3)
    assert parse_moment(" Light_Off ") == (Moment.LIGHT_OFF, 1)
    assert parse_fault("dark_exposure:2=camera.hang") == (Moment.DARK_EXPOSURE, 2, "camera.hang")
    assert parse_fault("connect=kill") == (Moment.CONNECT, 1, "kill")
    for bad in ("lit_exposure:x=kill", "lit_exposure:9999999=kill", "light_on=camera.stuck_on", "=kill"):
        with pytest.raises(ValueError):
            parse_fault(bad)
    with pytest.raises(ValueError, match="not a panel fault: 'hang'"):
        Bench(sensor="small", clock=VirtualClock()).faults.inject("panel", "hang")
