"""What every served INDI device shares: CONNECTION and DRIVER_INFO from the start, its working properties
defined on connecting and deleted on disconnecting (as INDI's own drivers do), and the messages that go out.

A device answers a client's `newXXXVector` (`new`) and is polled by the server (`poll`) for what its
simulated hardware did meanwhile; both return the messages to broadcast, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from drivers.clock import Clock
from drivers.errors import DeviceError
from simulators.indi import properties as p
from simulators.indi.fitsblob import FitsBlob

Outgoing = bytes | FitsBlob
Handler = Callable[[Mapping[str, p.Value]], list[Outgoing]]


class ServedDevice(Protocol):
    """One device of the simulated bench, as the INDI server sees it."""

    @property
    def core(self) -> DeviceCore: ...

    def new(self, name: str, values: Mapping[str, p.Value]) -> list[Outgoing]:
        """A client asks for new values of property `name`."""
        ...

    def poll(self) -> list[Outgoing]:
        """What changed on the bench since the last poll."""
        ...


@dataclass
class DeviceCore:
    """Name, clock, properties and connection of one served device."""

    name: str
    clock: Clock
    interface: int
    executable: str
    props: dict[str, p.Prop] = field(default_factory=dict)
    working: list[p.Prop] = field(default_factory=list)
    connected: bool = False

    def __post_init__(self) -> None:
        self.props["CONNECTION"] = p.switches(
            self.name, "CONNECTION", "Connection", [("CONNECT", "Connect"), ("DISCONNECT", "Disconnect")], "DISCONNECT"
        )
        self.props["DRIVER_INFO"] = p.texts(
            self.name,
            "DRIVER_INFO",
            "Driver Info",
            {
                "DRIVER_NAME": ("Name", self.name),
                "DRIVER_EXEC": ("Exec", self.executable),
                "DRIVER_VERSION": ("Version", "1.0"),
                "DRIVER_INTERFACE": ("Interface", str(self.interface)),
            },
            group="General Info",
            perm="ro",
        )

    @property
    def now(self) -> float:
        return self.clock.now()

    def visible(self) -> list[p.Prop]:
        """What a getProperties is answered with now."""
        shown = [self.props["CONNECTION"], self.props["DRIVER_INFO"]]
        return shown + (self.working if self.connected else [])

    def set(self, prop: p.Prop, state: str | None = None, message: str | None = None) -> bytes:
        if state is not None:
            prop.state = state
        return prop.update(self.now, message)

    def alert(self, prop: p.Prop, why: str) -> list[Outgoing]:
        """The property refuses: Alert with the reason, as INDI drivers report a failed request."""
        return [self.set(prop, "Alert", why)]

    def connection(self, values: Mapping[str, p.Value], connect: Callable[[], None]) -> list[Outgoing]:
        """CONNECT defines the working properties, DISCONNECT deletes them."""
        prop = self.props["CONNECTION"]
        wanted = values.get("CONNECT") is True or values.get("DISCONNECT") is False
        if wanted == self.connected:
            return [self.set(prop, "Ok")]
        if wanted:
            try:
                connect()
            except DeviceError as exc:
                return self.alert(prop, exc.message)
            prop.choose("CONNECT")
            self.connected = True
            return [self.set(prop, "Ok"), *(w.define(self.now) for w in self.working)]
        prop.choose("DISCONNECT")
        self.connected = False
        return [*(p.delete(self.name, w.name, self.now) for w in self.working), self.set(prop, "Idle")]

    def lost(self, why: str) -> list[Outgoing]:
        """The simulated hardware went away (a fault): CONNECTION in Alert, as a driver that lost its device."""
        prop = self.props["CONNECTION"]
        if prop.state == "Alert":
            return []
        return [self.set(prop, "Alert", why), p.message(self.name, self.now, f"[ERROR] {why}")]


def accept(prop: p.Prop, values: Mapping[str, p.Value]) -> dict[str, p.Value]:
    """The prop's values with those a client sent (unknown members ignored); a Switch's OneOfMany rule kept."""
    merged = prop.values()
    if prop.kind == "Switch" and prop.rule == "OneOfMany" and any(v is True for v in values.values()):
        merged = dict.fromkeys(merged, False)
    for name, value in values.items():
        if name in merged:
            merged[name] = value
    return merged


def out_of_range(prop: p.Prop, values: Mapping[str, p.Value]) -> str | None:
    """Why a Number update is refused (a value outside its member's range), as INDI words it; None if fine."""
    for name, value in values.items():
        element = prop.elements.get(name)
        if element is None or not isinstance(value, float):
            continue
        if element.maximum >= element.minimum and not element.minimum <= value <= element.maximum:
            return (
                f"Invalid range for value ({name}). Valid range is from {element.minimum:g} to "
                f"{element.maximum:g}. Requested value is {value:g}"
            )
    return None
