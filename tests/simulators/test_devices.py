"""Simulated camera and filter wheel as devices: protocol, timing on both clocks, settings, cooler, seeds."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from drivers.base import Camera, CameraSettings, FilterWheel
from drivers.clock import SystemClock, VirtualClock, wait_until
from drivers.errors import InvalidOperation, InvalidValue, NotConnected
from simulators.devices.bench import Bench
from simulators.physics.sensor import SENSORS


def rig(clock: Any = None, **options: Any) -> Bench:
    bench = Bench(sensor="small", seed=3, clock=clock or VirtualClock(), **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    return bench


def test_camera_implements_the_protocol_with_sensor_ranges() -> None:
    bench = rig()
    camera = bench.camera
    assert isinstance(camera, Camera)
    assert camera.name == "sim camera (small)"
    info = camera.info
    assert (info.width, info.height) == (320, 214)
    assert info.max_adu == 65535 and info.can_cool
    assert info.gain_max == 300 and info.offset_max == 300 and info.max_binning == 4
    assert info.readout_modes[0] == "Photographic 16bit"
    assert info.readout_time == pytest.approx(0.05)
    assert Bench(sensor="imx455", clock=VirtualClock()).camera.info.readout_time == pytest.approx(1.5)


def test_presets() -> None:
    assert (SENSORS["imx455"].width, SENSORS["imx455"].height) == (9576, 6388)
    assert (SENSORS["imx571"].width, SENSORS["imx571"].height) == (6252, 4176)
    assert SENSORS["small"].e_per_adu(0) == SENSORS["imx455"].e_per_adu(0)
    assert Bench(sensor="IMX571", clock=VirtualClock()).sensor.name == "imx571"


def test_calls_on_a_disconnected_camera_raise_not_connected() -> None:
    bench = Bench(clock=VirtualClock())
    with pytest.raises(NotConnected, match=r"sim camera \(small\): not connected"):
        bench.camera.start_exposure(1.0, True)
    bench.camera.connect()
    bench.camera.disconnect()
    with pytest.raises(NotConnected):
        bench.camera.read_settings()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (CameraSettings(gain=301, offset=50), r"gain 301 out of range 0-300"),
        (CameraSettings(gain=100, offset=-1), r"offset -1 out of range 0-300"),
        (CameraSettings(gain=100, offset=50, binning=5), r"binning 5 out of range 1-4"),
        (CameraSettings(gain=100, offset=50, readout_mode=3), r"readout_mode 3 out of range 0-2"),
        (CameraSettings(gain=100, offset=50, temperature=-80.0), r"set-point -80.0 °C out of range -60-40"),
    ],
)
def test_apply_validates_every_field_against_the_camera_info(settings: CameraSettings, message: str) -> None:
    bench = rig()
    with pytest.raises(InvalidValue, match=message):
        bench.camera.apply(settings)


def test_settings_read_back_and_cannot_change_during_an_exposure() -> None:
    bench = rig()
    settings = CameraSettings(gain=120, offset=30, binning=2, readout_mode=1, temperature=-10.0)
    bench.camera.apply(settings)
    assert bench.camera.read_settings() == settings
    bench.camera.start_exposure(2.0, True)
    with pytest.raises(InvalidOperation, match="during an exposure"):
        bench.camera.apply(CameraSettings(gain=0, offset=30))


def test_exposure_is_ready_after_exposure_plus_readout() -> None:
    bench = rig()
    camera, clock = bench.camera, bench.clock
    assert camera.image_ready() is False
    with pytest.raises(InvalidOperation, match="no exposure was started"):
        camera.read_image()
    camera.start_exposure(4.0, True)
    assert camera.exposure_deadline() == pytest.approx(clock.now() + 4.05)
    clock.sleep(4.0)
    assert camera.image_ready() is False
    with pytest.raises(InvalidOperation, match="still running"):
        camera.read_image()
    with pytest.raises(InvalidOperation, match="already in progress"):
        camera.start_exposure(1.0, True)
    clock.sleep(0.06)
    assert camera.image_ready() is True
    frame = camera.read_image()
    assert frame.dtype == np.uint16 and frame.shape == (214, 320)
    assert camera.read_image() is frame  # the image stays until the next exposure
    record = camera.last_exposure_record
    assert record is not None and record.seconds == 4.0 and record.light is True


def test_abort_discards_the_exposure() -> None:
    bench = rig()
    bench.camera.start_exposure(10.0, True)
    bench.clock.sleep(1.0)
    bench.camera.abort_exposure()
    bench.clock.sleep(20.0)
    assert bench.camera.image_ready() is False
    bench.camera.start_exposure(1.0, True)  # and the camera is free again


def test_exposure_range_is_checked() -> None:
    bench = rig()
    with pytest.raises(InvalidValue, match=r"exposure -1.0 s out of range 0-3600 s"):
        bench.camera.start_exposure(-1.0, True)
    with pytest.raises(InvalidValue, match="out of range"):
        bench.camera.start_exposure(4000.0, True)


def test_a_4s_exposure_on_the_virtual_clock_never_sleeps_for_real(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sleeping(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called on a virtual clock")

    monkeypatch.setattr(time, "sleep", no_sleeping)
    clock = VirtualClock()
    bench = rig(clock=clock)
    bench.camera.start_exposure(4.0, True)
    assert wait_until(clock, bench.camera.image_ready, timeout=10.0, poll=0.5)
    bench.camera.read_image()
    assert clock.elapsed >= 4.05


def test_a_short_exposure_on_the_system_clock_really_waits() -> None:
    clock = SystemClock()
    bench = rig(clock=clock)
    started = clock.now()
    bench.camera.start_exposure(0.2, True)
    ready_at_once = bench.camera.image_ready()
    assert not ready_at_once or clock.now() - started >= 0.25  # ready only once the time has really passed
    assert wait_until(clock, bench.camera.image_ready, timeout=10.0, poll=0.02)
    assert clock.now() - started >= 0.25  # exposure + readout, never less
    assert bench.camera.read_image().shape == (214, 320)


def test_same_seed_and_calls_give_identical_frames() -> None:
    def session(seed: int) -> list[np.ndarray]:
        bench = Bench(seed=seed, clock=VirtualClock(start=1000.0))
        for device in (bench.camera, bench.panel, bench.wheel):
            device.connect()
        bench.camera.apply(CameraSettings(gain=100, offset=50))
        frames = [bench.take(0.0)]
        bench.panel.light_on(30)
        bench.clock.sleep(0.3)
        frames += [bench.take(0.05), bench.take(0.05)]
        return frames

    first, again, other = session(3), session(3), session(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    assert not np.array_equal(first[1], first[2])  # frames differ from each other, not just between seeds


def test_cooler_ramps_toward_the_set_point_at_its_rate() -> None:
    bench = rig(ambient=15.0, cool_rate=0.25)
    camera = bench.camera
    assert camera.temperature() == 15.0
    assert camera.cooler_power() == 0.0
    camera.apply(CameraSettings(gain=100, offset=50, temperature=-10.0))
    bench.clock.sleep(10.0)
    assert camera.temperature() == pytest.approx(12.5)
    assert camera.cooler_at_setpoint() is False
    assert camera.cooler_power() == 100.0
    reached = camera.wait_for_cooler(timeout=200.0)
    assert reached == pytest.approx(-10.0, abs=0.5)
    bench.clock.sleep(5.0)
    assert camera.temperature() == -10.0
    assert 0 < camera.cooler_power() < 100
    camera.apply(CameraSettings(gain=100, offset=50, temperature=None))
    bench.clock.sleep(1000.0)
    assert camera.temperature() == 15.0


def test_cooler_cannot_pull_more_than_its_delta_below_ambient() -> None:
    bench = rig(ambient=15.0)
    bench.camera.apply(CameraSettings(gain=100, offset=50, temperature=-30.0))
    bench.clock.sleep(1000.0)
    assert bench.camera.temperature() == pytest.approx(-20.0)
    assert bench.camera.cooler_at_setpoint() is False


def test_frames_carry_the_dark_current_of_the_sensor_temperature() -> None:
    warm = rig(glow=0, hot_pixels=0, ambient=20.0)
    warm.camera.apply(CameraSettings(gain=100, offset=50))
    cooled = rig(glow=0, hot_pixels=0, ambient=20.0)
    cooled.camera.apply(CameraSettings(gain=100, offset=50, temperature=8.0))
    cooled.camera.wait_for_cooler()
    cooled.clock.sleep(5.0)
    assert cooled.camera.temperature() == pytest.approx(8.0)
    warm_level = warm.take(60.0).mean() - 500
    cool_level = cooled.take(60.0).mean() - 500
    assert warm_level / cool_level == pytest.approx(4.0, rel=0.05)  # 12 °C = two doublings
    assert cooled.camera.last_exposure_record is not None
    assert cooled.camera.last_exposure_record.temperature == pytest.approx(8.0)


def test_wheel_moves_slot_by_slot_and_blocks_light_while_moving() -> None:
    bench = rig(move_time=1.0)
    wheel = bench.wheel
    assert isinstance(wheel, FilterWheel)
    assert wheel.names() == ["L", "R", "G", "B", "Ha", "OIII", "SII"]
    assert wheel.position() == 0
    wheel.move_to(2)
    assert wheel.position() is None
    bench.clock.sleep(1.9)
    assert wheel.position() is None
    bench.clock.sleep(0.2)
    assert wheel.position() == 2
    wheel.move_to(6)  # the short way round: 3 slots
    bench.clock.sleep(3.05)
    assert wheel.position() == 6
    with pytest.raises(InvalidValue, match=r"slot 7 out of range 0-6"):
        wheel.move_to(7)
    bench.camera.apply(CameraSettings(gain=100, offset=50))
    bench.panel.light_on(100)
    bench.clock.sleep(5.0)
    lit = bench.take(1.0).mean() - 500
    wheel.move_to(2)  # 3 slots back: 3 s of no light
    moving = bench.take(1.0).mean() - 500
    assert lit > 2000 and abs(moving) < 1.0


def test_filters_and_transmissions_are_options() -> None:
    bench = rig(filters="Lum,Ha,Dark,Custom", **{"transmission.custom": "0.5"})
    assert bench.wheel.names() == ["Lum", "Ha", "Dark", "Custom"]
    assert [bench.wheel.transmission(i) for i in range(4)] == [1.0, 0.035, 0.0, 0.5]
    assert Bench(clock=VirtualClock(), filters=["X"]).transmission("X") == 1.0
