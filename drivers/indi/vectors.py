"""INDI properties as the client keeps them: vectors of members, their state and permission, parsed from the
`defXXXVector` / `setXXXVector` elements a server sends, and the `newXXXVector` text a client sends back.

Values are typed by kind: Number members hold floats (INDI's sexagesimal "12:30:00" too), Switch members
bools, Text members strings, Light members a state; BLOB members hold nothing here (images go straight from
the socket into their frame, see `stream`).
"""

from __future__ import annotations

import enum
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

KINDS = ("Number", "Switch", "Text", "Light", "BLOB")
Value = float | bool | str | None


class PropertyState(enum.Enum):
    """A vector's state as INDI defines it."""

    IDLE = "Idle"
    OK = "Ok"
    BUSY = "Busy"
    ALERT = "Alert"


@dataclass
class Member:
    """One element of a vector; `minimum`/`maximum`/`step` are a Number's, `label` any member's."""

    name: str
    label: str = ""
    value: Value = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None


@dataclass
class Vector:
    """One property of one device, as last defined and updated.

    `updated` is the client's sequence number of the last message that touched it; `alert` holds the sequence
    number and text of the last Alert it went into, so a waiter started before it cannot miss it.
    """

    kind: str
    device: str
    name: str
    label: str = ""
    state: PropertyState = PropertyState.IDLE
    perm: str = "ro"
    rule: str = ""
    members: dict[str, Member] = field(default_factory=dict)
    message: str = ""
    updated: int = 0
    alert: tuple[int, str] | None = None

    @property
    def writable(self) -> bool:
        return self.perm in ("rw", "wo")

    def value(self, member: str) -> Value:
        found = self.members.get(member)
        return None if found is None else found.value

    def number(self, member: str) -> float | None:
        value = self.value(member)
        return value if isinstance(value, float) else None

    def on(self) -> list[str]:
        """A Switch vector's members that are On, in order."""
        return [m.name for m in self.members.values() if m.value is True]

    def describe(self) -> str:
        """`CCD_GAIN [Ok] GAIN=100`: for error messages."""
        values = " ".join(f"{m.name}={_show(m.value)}" for m in self.members.values())
        return f"{self.name} [{self.state.value}] {values}".rstrip()


def parse_number(text: str) -> float:
    """An INDI number: decimal, or sexagesimal with ':', ';' or ' ' between the parts (sign applies to all)."""
    cleaned = text.strip()
    for sep in (";", " "):
        cleaned = cleaned.replace(sep, ":")
    parts = [p for p in cleaned.split(":") if p != ""]
    if not parts:
        raise ValueError(f"not an INDI number: {text!r}")
    if len(parts) == 1:
        return float(parts[0])
    negative = parts[0].startswith("-")
    total = 0.0
    for depth, part in enumerate(parts):
        total += abs(float(part)) / (60.0**depth)
    return -total if negative else total


def element_kind(tag: str) -> tuple[str, str] | None:
    """("def"|"set"|"new", kind) for a vector tag such as `setNumberVector`, else None."""
    for verb in ("def", "set", "new"):
        if tag.startswith(verb) and tag.endswith("Vector"):
            kind = tag[len(verb) : -len("Vector")]
            if kind in KINDS:
                return verb, kind
    return None


def _state(text: str | None, default: PropertyState) -> PropertyState:
    if text is None:
        return default
    for state in PropertyState:
        if state.value.lower() == text.strip().lower():
            return state
    raise ValueError(f"unknown property state {text!r}")


def _member_value(kind: str, text: str | None) -> Value:
    raw = (text or "").strip()
    if kind == "Number":
        return parse_number(raw)
    if kind == "Switch":
        if raw.lower() not in ("on", "off"):
            raise ValueError(f"a switch is On or Off, not {raw!r}")
        return raw.lower() == "on"
    if kind == "Light":
        return _state(raw, PropertyState.IDLE).value
    if kind == "Text":
        return text.strip() if text else ""
    return None


def _optional_float(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    value = parse_number(text)
    return value if math.isfinite(value) else None


def define(element: ET.Element, kind: str, seq: int) -> Vector:
    """A new vector from a `defXXXVector` element (ValueError when it is malformed)."""
    attrs = element.attrib
    vector = Vector(
        kind=kind,
        device=attrs.get("device", ""),
        name=attrs.get("name", ""),
        label=attrs.get("label", ""),
        state=_state(attrs.get("state"), PropertyState.IDLE),
        perm=attrs.get("perm", "ro" if kind == "Light" else "rw"),
        rule=attrs.get("rule", ""),
        message=attrs.get("message", ""),
        updated=seq,
    )
    if not vector.name:
        raise ValueError(f"<{element.tag}> without a name")
    for child in element:
        name = child.attrib.get("name", "")
        if not name:
            raise ValueError(f"<{child.tag}> without a name in {vector.name}")
        member = Member(name=name, label=child.attrib.get("label", name))
        if kind == "Number":
            member.minimum = _optional_float(child.attrib.get("min"))
            member.maximum = _optional_float(child.attrib.get("max"))
            member.step = _optional_float(child.attrib.get("step"))
        if kind != "BLOB":
            member.value = _member_value(kind, child.text)
        vector.members[name] = member
    if vector.state is PropertyState.ALERT:
        vector.alert = (seq, vector.message)
    return vector


def update(vector: Vector, element: ET.Element, seq: int) -> None:
    """Apply a `setXXXVector` element: the state, the message, the members it names (ValueError if malformed)."""
    attrs = element.attrib
    vector.state = _state(attrs.get("state"), vector.state)
    vector.message = attrs.get("message", "")
    for child in element:
        member = vector.members.get(child.attrib.get("name", ""))
        if member is None:
            continue  # a member the definition did not have: nothing to keep it in
        if vector.kind == "Number":
            for attr, setter in (("min", "minimum"), ("max", "maximum"), ("step", "step")):
                if attr in child.attrib:
                    setattr(member, setter, _optional_float(child.attrib[attr]))
        if vector.kind != "BLOB":
            member.value = _member_value(vector.kind, child.text)
    vector.updated = seq
    if vector.state is PropertyState.ALERT:
        vector.alert = (seq, vector.message)


def new_vector(kind: str, device: str, name: str, values: Mapping[str, Value]) -> bytes:
    """The `newXXXVector` a client sends to set members (numbers as repr floats, switches On/Off)."""
    if kind not in ("Number", "Switch", "Text"):
        raise ValueError(f"a client does not send {kind} vectors")
    parts = [f"<new{kind}Vector device={quoteattr(device)} name={quoteattr(name)}>"]
    for member, value in values.items():
        parts.append(f"<one{kind} name={quoteattr(member)}>{escape(_format(value))}</one{kind}>")
    parts.append(f"</new{kind}Vector>\n")
    return "".join(parts).encode("utf-8")


def get_properties(device: str | None = None) -> bytes:
    target = f" device={quoteattr(device)}" if device else ""
    return f'<getProperties version="1.7"{target}/>\n'.encode()


def enable_blob(device: str, mode: str, name: str | None = None) -> bytes:
    prop = f" name={quoteattr(name)}" if name else ""
    return f"<enableBLOB device={quoteattr(device)}{prop}>{mode}</enableBLOB>\n".encode()


def _format(value: Value) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def _show(value: Value) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
