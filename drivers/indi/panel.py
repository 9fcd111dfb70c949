"""An INDI light box (with or without a dust cap) as a flatseq `FlatPanel`.

Light box: FLAT_LIGHT_CONTROL (FLAT_LIGHT_ON/OFF) and FLAT_LIGHT_INTENSITY, whose range is the property's own
min..max (INDI's simulator says 0-255, other boxes say otherwise). A box without FLAT_LIGHT_INTENSITY can only
be switched: it has one level (1), and flatseq finds the exposure instead of the brightness. The light is
READY when on and Ok, SETTLING while Busy, ERROR on Alert. Cover: INDI's dust cap, CAP_PARK (PARK closes the
cover over the telescope, UNPARK opens it), MOVING while Busy. Wheel: FILTER_SLOT (1-based in INDI, 0-based
here) and FILTER_NAME.
"""

from __future__ import annotations

from drivers.base import CoverState, LightState
from drivers.errors import InvalidOperation, InvalidValue, NotSupported
from drivers.indi.link import IndiLink
from drivers.indi.vectors import PropertyState, Vector

LIGHT = "FLAT_LIGHT_CONTROL"
INTENSITY = "FLAT_LIGHT_INTENSITY"
INTENSITY_VALUE = "FLAT_LIGHT_INTENSITY_VALUE"
CAP = "CAP_PARK"


class IndiLightBox:
    """The light box and dust cap parts of an INDI device."""

    def __init__(self, link: IndiLink) -> None:
        self._link = link

    @property
    def brightness_range(self) -> tuple[int, int]:
        """FLAT_LIGHT_INTENSITY's own min..max; (0, 0) before connecting (the protocol check reads it)."""
        if not self._link.connected:
            return 0, 0
        if not self._dimmable():
            return 1, 1
        member = self._intensity().members[INTENSITY_VALUE]
        return round(member.minimum or 0), round(member.maximum or 0)

    def light_on(self, brightness: int) -> None:
        self._require_light()
        low, high = self.brightness_range
        if isinstance(brightness, bool) or not low <= brightness <= high:
            raise InvalidValue(self._link.name, f"brightness {brightness!r} out of range {low}-{high}")
        if self.has_cover and self.cover_state() is CoverState.OPEN:
            raise InvalidOperation(self._link.name, "the cover is open: close it (CAP_PARK) before switching on")
        if self._dimmable():
            self._link.set(INTENSITY, {INTENSITY_VALUE: float(brightness)})
        self._link.set(LIGHT, self._link.switch_values(LIGHT, "FLAT_LIGHT_ON"), accept_busy=True)

    def light_off(self) -> None:
        self._require_light()
        self._link.set(LIGHT, self._link.switch_values(LIGHT, "FLAT_LIGHT_OFF"))

    def light_state(self) -> LightState:
        vector = self._require_light()
        if vector.state is PropertyState.BUSY:
            self._link.news(LIGHT)
            vector = self._require_light()
        if vector.state is PropertyState.ALERT:
            return LightState.ERROR
        if vector.value("FLAT_LIGHT_ON") is not True:
            return LightState.OFF
        return LightState.SETTLING if vector.state is PropertyState.BUSY else LightState.READY

    def brightness(self) -> int:
        if not self._dimmable():
            self._require_light()
            return 1
        value = self._intensity().number(INTENSITY_VALUE)
        return 0 if value is None else round(value)

    def _dimmable(self) -> bool:
        """Whether the box has FLAT_LIGHT_INTENSITY (else it is switched only)."""
        vector = self._link.find(INTENSITY)
        return vector is not None and INTENSITY_VALUE in vector.members

    @property
    def has_cover(self) -> bool:
        return self._link.connected and self._link.has(CAP)

    def open_cover(self) -> None:
        self._require_cover()
        self._link.set(CAP, self._link.switch_values(CAP, "UNPARK"), accept_busy=True)

    def close_cover(self) -> None:
        self._require_cover()
        self._link.set(CAP, self._link.switch_values(CAP, "PARK"), accept_busy=True)

    def cover_state(self) -> CoverState:
        self._link.require_connected()
        vector = self._link.find(CAP)
        if vector is None:
            return CoverState.NOT_PRESENT
        if vector.state is PropertyState.BUSY:
            self._link.news(CAP)
            vector = self._link.vector(CAP)
        if vector.state is PropertyState.ALERT:
            return CoverState.ERROR
        if vector.state is PropertyState.BUSY:
            return CoverState.MOVING
        if vector.value("PARK") is True:
            return CoverState.CLOSED
        if vector.value("UNPARK") is True:
            return CoverState.OPEN
        return CoverState.UNKNOWN

    def _require_light(self) -> Vector:
        self._link.require_connected()
        vector = self._link.find(LIGHT)
        if vector is None:
            raise NotSupported(self._link.name, f"is not a light box: it has no {LIGHT} property")
        return vector

    def _intensity(self) -> Vector:
        self._require_light()
        vector = self._link.find(INTENSITY)
        if vector is None or INTENSITY_VALUE not in vector.members:
            raise NotSupported(self._link.name, f"cannot be dimmed: it has no {INTENSITY}.{INTENSITY_VALUE}")
        return vector

    def _require_cover(self) -> None:
        self._link.require_connected()
        if not self._link.has(CAP):
            raise NotSupported(self._link.name, f"has no cover (no {CAP} property)")
