"""An ASCOM Alpaca filter wheel (IFilterWheelV1..V3) as a flatseq `FilterWheel`: Position -1 means moving."""

from __future__ import annotations

from drivers.alpaca.device import AlpacaLink
from drivers.errors import InvalidValue, NotConnected


class AlpacaFilterWheel:
    """`drivers.base.FilterWheel` over Alpaca; slot names are read once on connecting."""

    def __init__(self, link: AlpacaLink) -> None:
        self._link = link
        self._t = link.transport
        self._names: list[str] | None = None

    @property
    def name(self) -> str:
        return self._link.name

    def connect(self) -> None:
        self._link.connect()
        self._names = [str(name) for name in self._t.get("names")]

    def disconnect(self) -> None:
        self._names = None
        self._link.disconnect()

    def names(self) -> list[str]:
        if self._names is None:
            raise NotConnected(self.name, "not connected: filter names not read yet")
        return list(self._names)

    def position(self) -> int | None:
        slot = int(self._t.get("position"))
        return None if slot < 0 else slot

    def move_to(self, index: int) -> None:
        names = self.names()
        if not 0 <= index < len(names):
            raise InvalidValue(
                self.name, f"has no slot {index}; its slots are 0..{len(names) - 1} ({', '.join(names)})"
            )
        self._t.put("position", Position=int(index))
