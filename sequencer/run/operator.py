"""Device work on the run's clock: one call at a time, every wait bounded and interruptible, every second
accounted to what it was spent on (the dry run reports the real duration from this)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from drivers.base import CameraSettings, CoverState, Equipment, ExposureReport, Frame, LightState
from drivers.clock import Clock
from drivers.errors import DeviceError, DeviceTimeout, InvalidValue
from sequencer.run.stop import StopToken

POLL = 0.01  # seconds between image_ready polls: small, so readout is not rounded up on the real clock
SLOW_POLL = 0.1  # cover, filter, cooler and panel polls
EXPOSURE_MARGIN = 30.0  # an image not ready this long after exposure + nominal readout is a camera fault
PANEL_READY_TIMEOUT = 60.0
PANEL_SLOW = 1.0  # seconds a panel may take to be ready before the progress says it is waited for
COVER_TIMEOUT = 60.0
FILTER_TIMEOUT = 60.0
COOLER_SETTLED = 0.5  # °C from the set-point counts as reached

Journal = Callable[..., None]


class Waits(Protocol):
    """Who is told about the waits (the progress): what the run waits for, and for how long at most."""

    def waiting(self, what: str, limit: float | None) -> None: ...

    def cooling(self, temperature: float, target: float, limit: float) -> None: ...

    def cooled(self, temperature: float, target: float) -> None: ...

    def cooling_stopped(self) -> None: ...


class _Unwatched:
    """Nobody is told (a recovery, a test)."""

    def waiting(self, what: str, limit: float | None) -> None:
        pass

    def cooling(self, temperature: float, target: float, limit: float) -> None:
        pass

    def cooled(self, temperature: float, target: float) -> None:
        pass

    def cooling_stopped(self) -> None:
        pass


@dataclass
class Timeline:
    """Seconds of run-clock time by what they were spent on."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, what: str, seconds: float) -> None:
        self.seconds[what] += max(0.0, seconds)

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in sorted(self.seconds.items())}


@dataclass
class Exposure:
    """A frame, when it was taken, and what the camera says it did.

    `start`/`end` are the run clock around the requested `exposure` (seconds); `reported` is the camera's own
    account (its actual duration and start, where it gives them): headers and the dark-flat check use that.
    """

    frame: Frame
    start: float
    end: float
    ready: float
    exposure: float
    ccd_temp: float | None
    reported: ExposureReport = field(default_factory=ExposureReport)

    @property
    def actual(self) -> float:
        """Seconds exposed: the camera's figure, else the request."""
        return self.reported.duration if self.reported.duration is not None else self.exposure

    @property
    def actual_start(self) -> float:
        """When the exposure started: the camera's figure, else the run clock at the request."""
        return self.reported.start if self.reported.start is not None else self.start


class Operator:
    """The devices, driven one call at a time with timeouts on the injected clock."""

    def __init__(
        self,
        equipment: Equipment,
        clock: Clock,
        stop: StopToken,
        timeline: Timeline,
        journal: Journal | None = None,
        waits: Waits | None = None,
    ) -> None:
        self.eq = equipment
        self.waits: Waits = waits or _Unwatched()
        self.clock = clock
        self.stop = stop
        self.timeline = timeline
        self.journal = journal or (lambda *a, **k: None)
        self._exposing: tuple[float, float] | None = None  # (start, seconds)

    # ---- camera ----

    def start_exposure(self, seconds: float, light: bool, *, interruptible: bool = True) -> float:
        """Start an exposure; `interruptible=False` for the cleanup's own test frames (a stop is under way)."""
        if interruptible:
            self.stop.check()
        start = self.clock.now()
        self.eq.camera.start_exposure(seconds, light)
        self._exposing = (start, seconds)
        return start

    def finish_exposure(self, category: str, *, interruptible: bool = True) -> Exposure:
        """Wait for the exposure started last, read it, and book its time under `category`."""
        assert self._exposing is not None, "no exposure in progress"
        start, seconds = self._exposing
        camera = self.eq.camera
        remaining = start + seconds - self.clock.now()
        if remaining > 0:
            if interruptible:
                self.stop.sleep(self.clock, remaining)
            else:
                self.clock.sleep(remaining)
        deadline = start + seconds + camera.info.readout_time + EXPOSURE_MARGIN
        while not camera.image_ready():
            if interruptible:
                self.stop.check()
            if self.clock.now() > deadline:
                self.abort_exposure()
                raise DeviceTimeout(
                    camera.name,
                    f"the {seconds:g} s exposure was not ready {self.clock.now() - start:.0f} s after it started",
                )
            self.clock.sleep(POLL)
        ready = self.clock.now()
        frame = camera.read_image()
        reported = camera.last_exposure()
        self._exposing = None
        end = start + seconds
        self.timeline.add(f"{category} exposure", seconds)
        self.timeline.add(f"{category} readout", ready - end)
        return Exposure(frame, start, end, ready, seconds, camera.temperature(), reported)

    def abort_exposure(self) -> None:
        if self._exposing is not None:
            self._exposing = None
            self.journal("device", device=self.eq.camera.name, call="abort_exposure")
            self.eq.camera.abort_exposure()

    @property
    def exposing(self) -> bool:
        return self._exposing is not None

    def apply_settings(self, settings: CameraSettings) -> None:
        self.eq.camera.apply(settings)
        self.journal("camera_settings", settings=settings.__dict__)

    def cool(self, set_point: float, timeout: float, tolerance: float) -> float:
        """Wait until the sensor is within COOLER_SETTLED of the set-point; DeviceTimeout with the last reading."""
        camera = self.eq.camera
        start = self.clock.now()
        temp = camera.temperature()
        waited = False
        try:
            while temp is not None and abs(temp - set_point) > min(COOLER_SETTLED, tolerance):
                self.waits.cooling(temp, set_point, timeout)
                waited = True
                self.stop.check()
                if self.clock.now() - start > timeout:
                    raise DeviceTimeout(
                        camera.name,
                        f"the cooler did not reach {set_point:g} °C in {timeout:g} s (sensor at {temp:.1f} °C)",
                    )
                self.clock.sleep(SLOW_POLL * 10)
                temp = camera.temperature()
        except BaseException:
            self.waits.cooling_stopped()
            raise
        if waited and temp is not None:
            self.waits.cooled(temp, set_point)
        self.timeline.add("cooling", self.clock.now() - start)
        return temp if temp is not None else set_point

    # ---- panel ----

    def light_on(self, brightness: int) -> None:
        self.stop.check()
        panel = self.eq.panel
        self.journal("device", device=panel.name, call="light_on", brightness=brightness)
        panel.light_on(brightness)
        self._wait_panel(lambda s: s is LightState.READY, "ready after light on")

    def light_off(self) -> None:
        """Switch the light off and confirm it is off; never interrupted, it is the safe state."""
        panel = self.eq.panel
        self.journal("device", device=panel.name, call="light_off")
        panel.light_off()
        state = panel.light_state()
        if state not in (LightState.OFF,):
            raise DeviceError(panel.name, "the light did not switch off", answered=state.value)

    def _wait_panel(self, ok: Callable[[LightState], bool], what: str) -> None:
        panel = self.eq.panel
        start = self.clock.now()
        told = False
        while True:
            state = panel.light_state()
            if ok(state):
                break
            if state is LightState.ERROR:
                raise DeviceError(panel.name, f"the panel reports an error instead of {what}")
            if not told and self.clock.now() - start >= PANEL_SLOW:
                told = True  # a panel warming up for long is worth a word; one ready at once is not
                self.waits.waiting(f"{panel.name} {what}", PANEL_READY_TIMEOUT)
            if self.clock.now() - start > PANEL_READY_TIMEOUT:
                raise DeviceTimeout(panel.name, f"the panel was not {what} after {PANEL_READY_TIMEOUT:g} s")
            self.stop.sleep(self.clock, SLOW_POLL)
        self.timeline.add("panel", self.clock.now() - start)

    def move_cover(self, close: bool) -> None:
        panel = self.eq.panel
        target = CoverState.CLOSED if close else CoverState.OPEN
        if panel.cover_state() is target:
            return
        self.journal("device", device=panel.name, call="close_cover" if close else "open_cover")
        self.waits.waiting(f"{panel.name}: cover {'closing' if close else 'opening'}", COVER_TIMEOUT)
        if close:
            panel.close_cover()
        else:
            panel.open_cover()
        start = self.clock.now()
        while (state := panel.cover_state()) is not target:
            if state is CoverState.ERROR:
                raise DeviceError(panel.name, f"the cover reports an error while moving to {target.value}")
            if self.clock.now() - start > COVER_TIMEOUT:
                raise DeviceTimeout(
                    panel.name, f"the cover is {state.value}, not {target.value}, after {COVER_TIMEOUT:g} s"
                )
            self.stop.sleep(self.clock, SLOW_POLL)
        self.timeline.add("cover", self.clock.now() - start)

    # ---- filter wheel ----

    def select_filter(self, name: str) -> None:
        wheel = self.eq.wheel
        if wheel is None:
            raise InvalidValue("filter wheel", f"filter {name!r} asked for but there is no filter wheel")
        names = wheel.names()
        if name not in names:
            raise InvalidValue(wheel.name, f"no filter {name!r} in the wheel (it has: {', '.join(names)})")
        index = names.index(name)
        if wheel.position() == index:
            return
        self.journal("device", device=wheel.name, call="move_to", index=index, filter=name)
        self.waits.waiting(f"{wheel.name}: moving to {name} (slot {index})", FILTER_TIMEOUT)
        wheel.move_to(index)
        start = self.clock.now()
        while wheel.position() != index:
            if self.clock.now() - start > FILTER_TIMEOUT:
                raise DeviceTimeout(
                    wheel.name, f"the wheel did not reach slot {index} ({name}) in {FILTER_TIMEOUT:g} s"
                )
            self.stop.sleep(self.clock, SLOW_POLL)
        self.timeline.add("filter", self.clock.now() - start)


def settings_dict(settings: CameraSettings) -> dict[str, Any]:
    return dict(settings.__dict__)
