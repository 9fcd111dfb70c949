"""An INDI filter wheel as a flatseq `FilterWheel`: FILTER_SLOT (1-based in INDI, 0-based here) and the names
in FILTER_NAME; a wheel of its own or one a camera drives (INDI's CCD simulator has one). Busy is moving."""

from __future__ import annotations

from drivers.errors import DeviceError, InvalidValue, NotSupported
from drivers.indi.link import IndiLink
from drivers.indi.vectors import PropertyState, Vector

SLOT = "FILTER_SLOT"
SLOT_VALUE = "FILTER_SLOT_VALUE"


class IndiWheel:
    """The filter wheel part of an INDI device (a wheel of its own, or one a camera drives)."""

    def __init__(self, link: IndiLink) -> None:
        self._link = link
        self._moved = 0

    def names(self) -> list[str]:
        first, count = self._slots()
        listed = self._link.find("FILTER_NAME")
        texts = [str(m.value or "") for m in listed.members.values()] if listed is not None else []
        return [texts[i] if i < len(texts) and texts[i] else f"Filter {first + i}" for i in range(count)]

    def position(self) -> int | None:
        vector = self._slot()
        if vector.state is PropertyState.BUSY:
            self._link.news(SLOT)
            vector = self._slot()
        self._link.check_alert(SLOT, self._moved)
        if vector.state is PropertyState.BUSY:
            return None
        value = vector.number(SLOT_VALUE)
        if value is None:
            raise DeviceError(self._link.name, f"reports no {SLOT}.{SLOT_VALUE}")
        return round(value) - self._slots()[0]

    def move_to(self, index: int) -> None:
        names = self.names()
        if isinstance(index, bool) or not 0 <= index < len(names):
            raise InvalidValue(
                self._link.name, f"has no slot {index}; its slots are 0..{len(names) - 1} ({', '.join(names)})"
            )
        first = self._slots()[0]
        self._moved = self._link.set(SLOT, {SLOT_VALUE: float(first + index)}, accept_busy=True)

    def _slot(self) -> Vector:
        self._link.require_connected()
        vector = self._link.find(SLOT)
        if vector is None or SLOT_VALUE not in vector.members:
            raise NotSupported(self._link.name, f"is not a filter wheel: it has no {SLOT} property")
        return vector

    def _slots(self) -> tuple[int, int]:
        """The first slot's INDI number (1) and how many slots there are, from FILTER_SLOT's range."""
        member = self._slot().members[SLOT_VALUE]
        first = round(member.minimum if member.minimum is not None else 1)
        last = round(member.maximum if member.maximum is not None else first)
        return first, max(last - first + 1, 1)
