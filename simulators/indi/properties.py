"""The server's side of INDI properties: what a device defines, its current values and state, and the
`defXXXVector` / `setXXXVector` text that tells clients about them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

Value = float | bool | str


@dataclass
class Element:
    """One member: a Number's range and printf format, a Switch's On/Off, a Text's string."""

    name: str
    label: str
    value: Value = ""
    minimum: float = 0.0
    maximum: float = 0.0
    step: float = 0.0
    format: str = "%g"


@dataclass
class Prop:
    """One property of a served device."""

    kind: str  # Number, Switch, Text, BLOB
    device: str
    name: str
    label: str
    group: str = "Main Control"
    perm: str = "rw"
    rule: str = "OneOfMany"
    state: str = "Idle"
    elements: dict[str, Element] = field(default_factory=dict)
    timeout: int = 60

    def values(self) -> dict[str, Value]:
        return {name: element.value for name, element in self.elements.items()}

    def number(self, name: str) -> float:
        value = self.elements[name].value
        assert isinstance(value, float)
        return value

    def on(self) -> str | None:
        """The name of the switch that is On (OneOfMany), if any."""
        return next((n for n, e in self.elements.items() if e.value is True), None)

    def choose(self, name: str | None) -> None:
        for member, element in self.elements.items():
            element.value = member == name

    def define(self, now: float) -> bytes:
        head = (
            f"<def{self.kind}Vector device={quoteattr(self.device)} name={quoteattr(self.name)} "
            f"label={quoteattr(self.label)} group={quoteattr(self.group)} state={quoteattr(self.state)} "
            f"perm={quoteattr(self.perm)}"
            + (f" rule={quoteattr(self.rule)}" if self.kind == "Switch" else "")
            + f' timeout="{self.timeout}" timestamp="{timestamp(now)}">'
        )
        parts = [head]
        for element in self.elements.values():
            attrs = f"name={quoteattr(element.name)} label={quoteattr(element.label)}"
            if self.kind == "Number":
                attrs += (
                    f" format={quoteattr(element.format)} min={quoteattr(repr(element.minimum))}"
                    f" max={quoteattr(repr(element.maximum))} step={quoteattr(repr(element.step))}"
                )
            if self.kind == "BLOB":
                parts.append(f"<defBLOB {attrs}/>")
            else:
                parts.append(f"<def{self.kind} {attrs}>{escape(text(element.value))}</def{self.kind}>")
        parts.append(f"</def{self.kind}Vector>\n")
        return "".join(parts).encode()

    def update(self, now: float, message: str | None = None) -> bytes:
        """The setXXXVector with every member, the state, and `message` (why an Alert, for instance)."""
        said = f" message={quoteattr(message)}" if message else ""
        parts = [
            f"<set{self.kind}Vector device={quoteattr(self.device)} name={quoteattr(self.name)} "
            f'state={quoteattr(self.state)} timeout="{self.timeout}" timestamp="{timestamp(now)}"{said}>'
        ]
        for element in self.elements.values():
            parts.append(
                f"<one{self.kind} name={quoteattr(element.name)}>{escape(text(element.value))}</one{self.kind}>"
            )
        parts.append(f"</set{self.kind}Vector>\n")
        return "".join(parts).encode()


def numbers(
    device: str, name: str, label: str, members: Iterable[tuple[str, str, float, float, float, float]], **kw: object
) -> Prop:
    """A Number property from (name, label, value, min, max, step) rows."""
    prop = Prop("Number", device, name, label, **kw)  # type: ignore[arg-type]
    for member, member_label, value, low, high, step in members:
        prop.elements[member] = Element(member, member_label, float(value), float(low), float(high), float(step))
    return prop


def switches(
    device: str, name: str, label: str, members: Iterable[tuple[str, str]], on: str | None, **kw: object
) -> Prop:
    prop = Prop("Switch", device, name, label, **kw)  # type: ignore[arg-type]
    for member, member_label in members:
        prop.elements[member] = Element(member, member_label, member == on)
    return prop


def texts(device: str, name: str, label: str, members: Mapping[str, tuple[str, str]], **kw: object) -> Prop:
    prop = Prop("Text", device, name, label, **kw)  # type: ignore[arg-type]
    for member, (member_label, value) in members.items():
        prop.elements[member] = Element(member, member_label, value)
    return prop


def message(device: str, now: float, text_: str) -> bytes:
    return f'<message device={quoteattr(device)} timestamp="{timestamp(now)}" message={quoteattr(text_)}/>\n'.encode()


def delete(device: str, name: str | None, now: float) -> bytes:
    which = f" name={quoteattr(name)}" if name else ""
    return f'<delProperty device={quoteattr(device)}{which} timestamp="{timestamp(now)}"/>\n'.encode()


def timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def text(value: Value) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, float):
        return f"{value:.10g}"
    return value
