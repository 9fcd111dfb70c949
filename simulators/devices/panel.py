"""The simulated flat panel (ASCOM CoverCalibrator semantics), optionally on a flip-flat cover.

Integer brightness 0..max (`max=`, default 255). After `light_on` the output warms up (`warmup=` time
constant): `light_state()` is SETTLING until it is within 0.5 % of steady state, then READY. After
`light_off` it glows on briefly (`afterglow=`). With `cover=1` the panel sits on a cover that takes
`cover_time` seconds to open or close, and lights the camera only while closed; it starts open. The
Alnitak and Alpaca emulators drive this object from server threads: every call is a short locked update.

Fault `fault=dead`: `light_on` is accepted but nothing lights and `light_state()` reports ERROR. Faults that
strike mid-run (`bench.faults`): also `unplugged` and `stuck_on` (see `simulators.devices.faults`).
`dimmable=0`: a switch-only panel (an EL panel on a switch, a panel whose driver has no brightness): one level,
`brightness_range` (max, max); `light_on` takes any brightness and lights at full output.
"""

from __future__ import annotations

from drivers.base import CoverState, LightState
from drivers.errors import DeviceDisconnected, InvalidValue, NotConnected, NotSupported
from simulators.devices.faults import Moment
from simulators.devices.views import PanelView


class SimPanel:
    """A `drivers.base.FlatPanel` on a bench (it sees only a `PanelView`)."""

    def __init__(self, bench: PanelView) -> None:
        self._bench = bench
        self._name = "sim panel" + (" (flip-flat)" if bench.options.cover else "")
        self._connected = False
        self._asked_on = False
        """Switched on and not off since: a light_on then is a brightness change, not a switch-on."""

    @property
    def name(self) -> str:
        return self._name

    def connect(self) -> None:
        self._bench.faults.observe(Moment.CONNECT)
        self._check_present()
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def _check_present(self) -> None:
        if self._bench.faults.has("panel", "unplugged"):
            raise DeviceDisconnected(self._name, "the panel is gone from the bus (unplugged)")

    def _check(self) -> None:
        self._check_present()
        if not self._connected:
            raise NotConnected(self._name, "not connected")

    def _now(self) -> float:
        return self._bench.clock.now()

    @property
    def brightness_range(self) -> tuple[int, int]:
        """0..max; a switch-only panel (`dimmable=0`) has one level, max."""
        top = self._bench.options.max
        return (0, top) if self._bench.options.dimmable else (top, top)

    def _validate(self, brightness: int) -> int:
        low, high = 0, self._bench.options.max  # a switch-only panel takes any brightness, and ignores it
        if isinstance(brightness, bool) or not isinstance(brightness, int) or not low <= brightness <= high:
            raise InvalidValue(self._name, f"brightness {brightness!r} out of range {low}-{high}")
        return brightness

    def light_on(self, brightness: int) -> None:
        self._check()
        value = self._validate(brightness)
        faults = self._bench.faults
        if not self._asked_on:
            self._asked_on = True
            faults.observe(Moment.SWITCH_ON)
        faults.observe(Moment.LIGHT_ON)
        self._check()  # a fault that struck at this moment
        dead = faults.has("panel", "dead")
        self._bench.light.switch_on(self._now(), value, dead=dead)
        faults.set_lit(not dead)

    def set_brightness(self, brightness: int) -> None:
        """Store a brightness without switching on (Alnitak `>B`); changes the output at once if on."""
        self._check()
        self._bench.light.set_brightness(self._now(), self._validate(brightness))

    def light_off(self) -> None:
        self._check()
        faults = self._bench.faults
        faults.observe(Moment.LIGHT_OFF)
        self._check()
        self._asked_on = False
        if faults.has("panel", "stuck_on"):
            return  # accepted, and the light stays on: `light_state()` says so
        self._bench.light.switch_off(self._now())
        faults.set_lit(False)

    def light_state(self) -> LightState:
        self._check()
        return self._bench.light.light_state(self._now())

    def brightness(self) -> int:
        """The brightness setting (kept while the light is off, as an Alnitak does)."""
        self._check()
        return self._bench.light.brightness

    @property
    def settle_time(self) -> float:
        """Seconds from light_on until READY with this panel's warm-up."""
        return self._bench.light.settle_time()

    @property
    def has_cover(self) -> bool:
        return self._bench.options.cover

    def _require_cover(self) -> None:
        self._check()
        if not self.has_cover:
            raise NotSupported(self._name, "this panel has no cover (open it with cover=1)")

    def open_cover(self) -> None:
        self._require_cover()
        self._bench.light.move_cover(self._now(), close=False)

    def close_cover(self) -> None:
        self._require_cover()
        self._bench.light.move_cover(self._now(), close=True)

    def cover_state(self) -> CoverState:
        self._check()
        return self._bench.light.cover_state(self._now())
