"""A light switched by hand on the bench, and the simulated person who switches it.

`SimManualLight` is what a test switches (`bench.manual_light.switch(True)`), as a user would at the telescope.
`SimManualHand` is that person for a dry run of `panel: manual` (`sim://manual`): a `drivers.base.FlatPanel`
whose light_on and light_off switch the light at once when the run asks. The run never trusts it: it confirms
the light by the user's Enter or by test frames, as it does for a real person.
"""

from __future__ import annotations

from drivers.base import CoverState, LightState
from drivers.clock import Clock
from drivers.errors import NotConnected, NotSupported
from simulators.physics.manual import ManualLightSource


class SimManualLight:
    """The light itself: on or off, on the bench clock."""

    def __init__(self, source: ManualLightSource, clock: Clock) -> None:
        self._source = source
        self._clock = clock

    def switch(self, on: bool) -> None:
        self._source.switch(self._clock.now(), bool(on))

    @property
    def is_on(self) -> bool:
        return self._source.is_on(self._clock.now())


class SimManualHand:
    """A `drivers.base.FlatPanel` that is a person switching the bench's manual light when asked."""

    def __init__(self, light: SimManualLight) -> None:
        self._light = light
        self._connected = False
        self.switches: list[bool] = []
        """Every switch it made, in order (for tests)."""

    @property
    def name(self) -> str:
        return "sim person at the manual light"

    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def _check(self) -> None:
        if not self._connected:
            raise NotConnected(self.name, "not connected")

    @property
    def brightness_range(self) -> tuple[int, int]:
        return 1, 1

    def light_on(self, brightness: int) -> None:
        self._check()
        self._light.switch(True)
        self.switches.append(True)

    def light_off(self) -> None:
        self._check()
        self._light.switch(False)
        self.switches.append(False)

    def light_state(self) -> LightState:
        self._check()
        return LightState.READY if self._light.is_on else LightState.OFF

    def brightness(self) -> int:
        return 1

    @property
    def has_cover(self) -> bool:
        return False

    def open_cover(self) -> None:
        raise NotSupported(self.name, "no cover")

    def close_cover(self) -> None:
        raise NotSupported(self.name, "no cover")

    def cover_state(self) -> CoverState:
        return CoverState.NOT_PRESENT
