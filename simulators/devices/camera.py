"""The simulated cooled camera: start + poll exposures on the bench clock, frames from the bench's physics.

Timing: `start_exposure` records the start; `image_ready()` turns true once the clock reaches
start + exposure + readout time, so on a SystemClock a 4 s exposure takes 4 s and on a VirtualClock the
caller's `clock.sleep` makes it instant. The frame is rendered when first read, from the light the panel
actually emitted during the exposure window. The camera has no mechanical shutter unless the bench has
`shutter=1`: like an IMX455 camera, `light=False` is only recorded (dark-flats need the light off).

Faults (bench options):
- `fault=hang`: exposures never complete. `image_ready()` stays false; a caller should wait at most
  `exposure_deadline()` (start + exposure + readout) plus a margin, then raise DeviceTimeout. If polled
  `hang_timeout` seconds past the deadline, the camera raises DeviceTimeout itself.
- `disconnect_after=N`: once N frames have been read, every call raises DeviceDisconnected.
- `cooler=stuck`: the sensor stalls above its set-point; `cooler_at_setpoint()` stays false and
  `wait_for_cooler()` raises DeviceTimeout naming the temperature reached.
- `exposure_offset=0.02`: the sensor collects light 20 ms longer than the exposure asked (and reported), as
  behind a mechanical shutter: a camera whose low end is not linear in the exposure.
- `dark_exposure_error=0.05`: dark frames (light=False) expose 5 % longer than asked, and `last_exposure()`
  says so, as a camera with a timing fault would: the sequencer must catch dark-flats that do not match.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from drivers.base import CameraInfo, CameraSettings, ExposureReport, Frame
from drivers.errors import DeviceDisconnected, DeviceTimeout, InvalidOperation, InvalidValue, NotConnected
from drivers.regions import check_region
from simulators.devices.faults import Moment
from simulators.devices.views import CameraView
from simulators.physics.render import ExposureSignal

SETPOINT_RANGE = (-60.0, 40.0)
EXPOSURE_RESOLUTION = 1e-6
"""Seconds: the simulated shutter times exposures to the microsecond."""


@dataclass(frozen=True)
class ExposureRecord:
    """One exposure as the camera took it: for headers and for tests that check the physics."""

    index: int
    start: float
    seconds: float
    light: bool
    settings: CameraSettings
    temperature: float | None = None
    light_e: float | None = None
    """Photoelectrons per pixel at illumination 1 that reached the sensor (known once read)."""


class SimCamera:
    """A `drivers.base.Camera` on a bench, of which it sees only a `CameraView`.

    Thread-safe: the Alpaca emulator calls it from server threads.
    """

    def __init__(self, bench: CameraView) -> None:
        self._bench = bench
        sensor = bench.sensor
        self._name = f"sim camera ({sensor.name})"
        self._info = CameraInfo(
            name=self._name,
            width=sensor.width,
            height=sensor.height,
            max_adu=sensor.max_adu,
            pixel_size_um=sensor.pixel_size_um,
            exposure_min=sensor.min_exposure,
            exposure_max=sensor.max_exposure,
            gain_min=0,
            gain_max=sensor.gain_max,
            offset_min=0,
            offset_max=sensor.offset_max,
            max_binning=sensor.max_binning,
            readout_modes=tuple(mode.name for mode in sensor.readout_modes),
            can_cool=True,
            readout_time=sensor.readout_seconds(0),
            exposure_resolution=EXPOSURE_RESOLUTION,
            bayer=sensor.bayer,
            subframe=True,
        )
        self._lock = threading.RLock()
        self._connected = False
        self._settings = CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=None)
        self._current: ExposureRecord | None = None
        self._frame: Frame | None = None
        self._frames_read = 0
        self._started = 0
        self.last_exposure_record: ExposureRecord | None = None

    # connection -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def info(self) -> CameraInfo:
        return self._info

    def connect(self) -> None:
        self._bench.faults.observe(Moment.CONNECT)
        with self._lock:
            self._check_present()
            self._connected = True

    def disconnect(self) -> None:
        with self._lock:
            self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def frames_read(self) -> int:
        return self._frames_read

    def _check_present(self) -> None:
        if self._bench.faults.has("camera", "unplugged"):
            raise DeviceDisconnected(self._name, "the camera is gone from the bus (unplugged)")
        limit = self._bench.options.disconnect_after
        if limit is not None and self._frames_read >= limit:
            raise DeviceDisconnected(
                self._name, f"camera disconnected after {self._frames_read} frame(s) (disconnect_after={limit})"
            )

    def _check(self) -> None:
        self._check_present()
        if not self._connected:
            raise NotConnected(self._name, "not connected")

    # settings ---------------------------------------------------------------------------------
    def apply(self, settings: CameraSettings) -> None:
        with self._lock:
            self._check()
            if self._exposing():
                raise InvalidOperation(self._name, "cannot change settings during an exposure")
            info = self._info
            _in_range(self._name, "gain", settings.gain, info.gain_min, info.gain_max)
            _in_range(self._name, "offset", settings.offset, info.offset_min, info.offset_max)
            _in_range(self._name, "binning", settings.binning, 1, info.max_binning)
            _in_range(self._name, "readout_mode", settings.readout_mode, 0, len(info.readout_modes) - 1)
            check_region(self._name, settings.roi, info.width, info.height, settings.binning, info.subframe)
            if settings.temperature is not None:
                low, high = SETPOINT_RANGE
                if not low <= settings.temperature <= high:
                    raise InvalidValue(
                        self._name, f"temperature set-point {settings.temperature} °C out of range {low:g}-{high:g}"
                    )
            if settings.temperature != self._settings.temperature:
                self._bench.cooler.set(self._bench.clock.now(), settings.temperature)
            self._settings = settings

    def read_settings(self) -> CameraSettings:
        with self._lock:
            self._check()
            return self._settings

    def temperature(self) -> float | None:
        with self._lock:
            self._check()
            return round(self._bench.cooler.temperature(self._bench.clock.now()), 1)

    def cooler_power(self) -> float:
        """TEC power in percent (0 with the cooler off)."""
        with self._lock:
            self._check()
            return round(self._bench.cooler.power(self._bench.clock.now()), 1)

    def cooler_at_setpoint(self, tolerance: float = 0.5) -> bool:
        """Whether the sensor is within `tolerance` °C of the set-point (true with no set-point)."""
        with self._lock:
            self._check()
            return self._bench.cooler.at_setpoint(self._bench.clock.now(), tolerance)

    def wait_for_cooler(self, timeout: float = 600.0, tolerance: float = 0.5, poll: float = 1.0) -> float:
        """Wait on the bench clock until the set-point is reached; DeviceTimeout if it is not in time.

        Returns the temperature reached.
        """
        clock = self._bench.clock
        deadline = clock.now() + timeout
        while not self.cooler_at_setpoint(tolerance):
            if clock.now() >= deadline:
                temp = self.temperature()
                setpoint = self._settings.temperature
                raise DeviceTimeout(
                    self._name,
                    f"cooler stuck at {temp:.1f} °C, set-point {setpoint:.1f} °C not reached within {timeout:g} s "
                    f"(cooler power {self.cooler_power():.0f} %)",
                )
            clock.sleep(min(poll, max(deadline - clock.now(), 0.0)))
        return self.temperature() or 0.0

    # exposures --------------------------------------------------------------------------------
    @property
    def exposing(self) -> bool:
        """Whether an exposure is running (started, not aborted, not yet done): what a fault suite asks the
        camera itself once a run is over, connected or not."""
        with self._lock:
            return self._exposing()

    def _exposing(self) -> bool:
        return self._current is not None and self._frame is None and not self._due_passed()

    def _due(self) -> float:
        assert self._current is not None
        readout = self._bench.sensor.readout_seconds(self._current.settings.readout_mode)
        return self._current.start + self._current.seconds + readout

    def _due_passed(self) -> bool:
        return not self._bench.faults.has("camera", "hang") and self._bench.clock.now() >= self._due()

    def start_exposure(self, seconds: float, light: bool) -> None:
        self._bench.faults.exposure_started()  # outside the lock: a fault armed for this moment strikes first
        with self._lock:
            self._check()
            if self._exposing():
                raise InvalidOperation(self._name, "an exposure is already in progress")
            if not 0.0 <= seconds <= self._info.exposure_max:
                raise InvalidValue(self._name, f"exposure {seconds} s out of range 0-{self._info.exposure_max:g} s")
            actual = max(float(seconds), self._info.exposure_min)
            if not light:
                actual *= 1.0 + self._bench.options.dark_exposure_error
            self._started += 1
            self._current = ExposureRecord(
                index=self._started,
                start=self._bench.clock.now(),
                seconds=actual,
                light=bool(light),
                settings=self._settings,
            )
            self._frame = None

    def exposure_deadline(self) -> float | None:
        """Clock time by which a healthy camera has the current image ready (None if not exposing).

        Callers wait until this plus a margin (the sequencer uses a few seconds), then give up.
        """
        with self._lock:
            return self._due() if self._current is not None else None

    def image_ready(self) -> bool:
        with self._lock:
            self._check()
            if self._current is None:
                return False
            if self._frame is not None or self._due_passed():
                return True
            if self._bench.faults.has("camera", "hang"):
                overdue = self._bench.clock.now() - self._due()
                if overdue > self._bench.options.hang_timeout:
                    raise DeviceTimeout(
                        self._name,
                        f"{self._current.seconds:g} s exposure never completed "
                        f"({overdue:.0f} s past its readout; fault=hang)",
                    )
            return False

    def read_image(self) -> Frame:
        with self._lock:
            self._check()
            if self._current is None:
                raise InvalidOperation(self._name, "no image: no exposure was started (or it was aborted)")
            if self._frame is None:
                if not self._due_passed():
                    raise InvalidOperation(self._name, "image not ready: the exposure is still running")
                self._frame = self._render(self._current)
                self._frames_read += 1
            return self._frame

    def last_exposure(self) -> ExposureReport:
        """The exposure whose image was read last, as the camera timed it (None before the first image)."""
        with self._lock:
            record = self.last_exposure_record
            return ExposureReport() if record is None else ExposureReport(record.seconds, record.start)

    def abort_exposure(self) -> None:
        with self._lock:
            self._check()
            if self._current is not None and self._frame is None:
                self._current = None

    def _render(self, record: ExposureRecord) -> Frame:
        bench = self._bench
        rng = bench.frame_rng(record.index)
        blocked = bench.options.shutter and not record.light
        lit = max(record.seconds + bench.options.exposure_offset, 0.0)  # a shutter's travel: light beyond the asked
        light_e = 0.0 if blocked else bench.light_electrons(record.start, lit, rng)
        end = record.start + record.seconds
        scale, cfa = bench.colour_at(record.start + 0.5 * lit, record.settings.binning)
        temperature = 0.5 * (bench.cooler.temperature(record.start) + bench.cooler.temperature(end))
        settings = record.settings
        signal = ExposureSignal(
            light_e=light_e * scale,
            cfa=cfa,
            pattern=bench.light_pattern(record.start, lit, light_e, settings.binning),
            seconds=record.seconds,
            temperature=temperature,
            gain=settings.gain,
            offset=settings.offset,
            binning=settings.binning,
            readout_mode=settings.readout_mode,
        )
        frame = bench.render(signal, rng)
        if settings.roi is not None:  # the sensor is read out in the region only (its own pixels, not a rescale)
            x, y, w, h = settings.roi
            frame = np.ascontiguousarray(frame[y : y + h, x : x + w])
        self.last_exposure_record = ExposureRecord(
            index=record.index,
            start=record.start,
            seconds=record.seconds,
            light=record.light,
            settings=settings,
            temperature=temperature,
            light_e=light_e,
        )
        return frame


def _in_range(device: str, field: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(device, f"{field} {value!r} out of range {low}-{high}")
