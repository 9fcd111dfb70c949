"""Injected faults surface as the documented device errors, with messages that say what happened."""

from __future__ import annotations

from typing import Any

import pytest

import drivers
from drivers.base import CameraSettings, LightState
from drivers.clock import VirtualClock, wait_until
from drivers.errors import DeviceDisconnected, DeviceTimeout, NotConnected
from simulators.devices.bench import Bench
from simulators.devices.camera import SimCamera


def rig(**options: Any) -> Bench:
    bench = Bench(sensor="small", seed=1, clock=VirtualClock(), **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50))
    return bench


def test_hung_exposure_never_becomes_ready_and_the_callers_wait_times_out() -> None:
    bench = rig(camera_fault="hang")
    camera = bench.camera
    camera.start_exposure(4.0, True)
    deadline = camera.exposure_deadline()
    assert deadline is not None
    margin = 10.0
    assert not wait_until(bench.clock, camera.image_ready, timeout=deadline - bench.clock.now() + margin)
    assert camera.image_ready() is False


def test_hung_camera_raises_device_timeout_itself_when_polled_long_after() -> None:
    bench = rig(camera_fault="hang", hang_timeout=30.0)
    bench.camera.start_exposure(4.0, True)
    bench.clock.sleep(4.05 + 31.0)
    with pytest.raises(DeviceTimeout, match=r"sim camera \(small\): 4 s exposure never completed"):
        bench.camera.image_ready()
    bench.camera.abort_exposure()  # the caller can still abort and give up cleanly
    assert bench.camera.image_ready() is False


def test_hang_through_the_url() -> None:
    """The fault set in the URL reaches the camera: long past its readout the image never comes, and past
    the hang timeout the camera says so itself."""
    clock = VirtualClock()
    camera = drivers.open("sim://camera?fault=hang&hang_timeout=20", clock=clock)
    assert isinstance(camera, SimCamera)
    camera.connect()
    camera.start_exposure(0.1, True)
    clock.advance(10.0)  # far past 0.1 s + readout
    assert camera.image_ready() is False
    clock.advance(15.0)
    with pytest.raises(DeviceTimeout, match="never completed"):
        camera.image_ready()


def test_camera_disconnects_after_n_frames() -> None:
    bench = rig(disconnect_after=2)
    bench.take(0.1)
    bench.take(0.1)
    for call in (
        lambda: bench.camera.start_exposure(0.1, True),
        bench.camera.image_ready,
        bench.camera.read_image,
        bench.camera.temperature,
        bench.camera.read_settings,
        bench.camera.abort_exposure,
        bench.camera.connect,
    ):
        with pytest.raises(DeviceDisconnected, match=r"sim camera \(small\): camera disconnected after 2 frame"):
            call()


def test_stuck_wheel_never_arrives_and_says_so_when_polled_long_past_its_move_time() -> None:
    bench = rig(wheel_fault="stuck", move_time=1.0, stuck_timeout=10.0)
    wheel = bench.wheel
    wheel.move_to(4)
    assert not wait_until(bench.clock, lambda: wheel.position() is not None, timeout=8.0)
    bench.clock.sleep(8.0)
    with pytest.raises(DeviceTimeout, match=r"sim filter wheel: filter wheel stuck moving to slot 4 \(Ha\)"):
        wheel.position()


def test_stuck_wheel_blocks_the_light() -> None:
    bench = rig(wheel_fault="stuck")
    bench.panel.light_on(50)
    bench.clock.sleep(5.0)
    assert bench.take(1.0).mean() - 500 > 1000
    bench.wheel.move_to(1)
    assert abs(bench.take(1.0).mean() - 500) < 1.0


def test_stuck_cooler_stalls_above_the_set_point_and_waiting_times_out() -> None:
    bench = rig(cooler="stuck", cooler_stall=5.0, ambient=15.0)
    camera = bench.camera
    camera.apply(CameraSettings(gain=100, offset=50, temperature=-10.0))
    with pytest.raises(DeviceTimeout, match=r"cooler stuck at -5.0 °C, set-point -10.0 °C not reached within 600 s"):
        camera.wait_for_cooler(timeout=600.0)
    assert camera.temperature() == pytest.approx(-5.0)
    assert camera.cooler_at_setpoint() is False
    assert camera.cooler_power() == 100.0


def test_dead_panel_through_the_url_reports_error() -> None:
    panel = drivers.open("sim://panel?fault=dead", clock=VirtualClock())
    panel.connect()  # type: ignore[attr-defined]
    panel.light_on(100)  # type: ignore[attr-defined]
    assert panel.light_state() is LightState.ERROR  # type: ignore[attr-defined]


def test_disconnected_devices_raise_not_connected_not_a_crash() -> None:
    bench = Bench(clock=VirtualClock())
    with pytest.raises(NotConnected, match="sim filter wheel: not connected"):
        bench.wheel.position()


def test_bench_take_on_a_hung_camera_ends_in_device_timeout() -> None:
    bench = rig(camera_fault="hang", hang_timeout=20.0)
    with pytest.raises(DeviceTimeout, match="never completed"):
        bench.take(1.0)
