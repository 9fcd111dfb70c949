"""The faults a dry run can be put under, named once: `flatseq run FILE --dry-run --fault panel=dead`, the
testing API's `dry_run(..., faults=[...])` and a `sim://` URL's `inject=` option all read this table.

A fault is `DEVICE=FAULT`, in force from the start, or `DEVICE=FAULT@MOMENT[:N]`, striking when the bench sees
the Nth such moment (`simulators.devices.faults.Moment`), optionally until a later one:
`panel=dead@switch_on:2..switch_on:3` is a panel that dies when set 2 switches it on and works again for set 3.
Faults that are options of the bench (the camera's frame count, the cooler) are there from the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from simulators.devices.faults import EFFECTS, Faults, Moment, parse_moment

FAULTS_TABLE: Mapping[str, str] = {
    "camera=hang": "every exposure starts and never completes (the run's timeout fails the set)",
    "camera=unplugged": "every camera call fails as a vanished USB device does (the run stops)",
    "camera=disconnect_after:N": "the camera vanishes once N frames have been read (the run stops)",
    "cooler=stuck": "the cooler stalls above its set-point (5 °C): the cooling timeout fails each set",
    "panel=dead": "the light never lights and the panel reports an error (the set fails)",
    "panel=unplugged": "every panel call fails as a vanished device does",
    "panel=stuck_on": "light_off is accepted but the light stays on, and the panel says so (exit 3)",
    "wheel=stuck": "the wheel never arrives at its slot (the set fails)",
    "wheel=unplugged": "every wheel call fails as a vanished device does",
}
"""Every fault by name, with what it does. `@MOMENT[:N][..MOMENT[:N]]` applies to those without an argument
except `cooler=stuck`."""

_OPTIONS = {"camera=disconnect_after": "disconnect_after", "cooler=stuck": "cooler"}
"""Faults that are bench options rather than effects switched on and off (`EFFECTS`)."""

SEPARATOR = ";"
"""Between faults in one `inject=` option."""


@dataclass(frozen=True)
class Injection:
    """One fault as asked: which device, what, with its argument, and when it strikes and ends."""

    device: str
    fault: str
    argument: int | None = None
    at: tuple[Moment, int] | None = None
    until: tuple[Moment, int] | None = None

    @property
    def option(self) -> str | None:
        """The bench option this fault sets, if it is one."""
        return _OPTIONS.get(f"{self.device}={self.fault}")


def parse_injection(text: str) -> Injection:
    """`panel=dead`, `camera=disconnect_after:12`, `panel=unplugged@lit_exposure:5`,
    `panel=dead@switch_on:2..switch_on:3`; ValueError naming what is wrong and what is known."""
    spec, _, when = text.strip().partition("@")
    device, sep, what = spec.strip().lower().partition("=")
    if not sep:
        raise ValueError(f"{text!r}: expected DEVICE=FAULT (known: {', '.join(FAULTS_TABLE)})")
    fault, _, arg = what.partition(":")
    name = f"{device}={fault}"
    if not any(known.partition(":")[0] == name for known in FAULTS_TABLE):
        devices = sorted({k.partition("=")[0] for k in FAULTS_TABLE})
        if device not in devices:
            raise ValueError(f"{text!r}: no device {device!r} (known: {', '.join(devices)})")
        known = [k.partition("=")[2] for k in FAULTS_TABLE if k.startswith(f"{device}=")]
        raise ValueError(f"{text!r}: no {device} fault {fault!r} (known: {', '.join(known)})")
    argument = _argument(text, name, arg)
    at, until = _moments(text, name, when) if when else (None, None)
    return Injection(device, fault, argument, at, until)


def _argument(text: str, name: str, arg: str) -> int | None:
    takes = f"{name}:N" in FAULTS_TABLE
    if not takes:
        if arg:
            raise ValueError(f"{text!r}: {name} takes no argument")
        return None
    if not (arg.isascii() and arg.isdigit() and len(arg) <= 9):
        raise ValueError(f"{text!r}: {name} needs a whole number, e.g. {name}:12")
    return int(arg)


def _moments(text: str, name: str, when: str) -> tuple[tuple[Moment, int], tuple[Moment, int] | None]:
    if name in _OPTIONS:
        raise ValueError(f"{text!r}: {name} is there from the start; it takes no @MOMENT")
    first, dots, last = when.partition("..")
    try:
        at = parse_moment(first)
        until = parse_moment(last) if dots else None
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if until is not None and until[0] is at[0] and until[1] <= at[1]:
        raise ValueError(f"{text!r}: the fault must end after it strikes ({last} is not after {first})")
    return at, until


def parse_injections(value: str) -> list[Injection]:
    """The `inject=` option: faults separated by `;`."""
    return [parse_injection(part) for part in value.split(SEPARATOR) if part.strip()]


def bench_options(injections: Sequence[Injection]) -> dict[str, str]:
    """The bench options the faults set (`disconnect_after`, `cooler`)."""
    options: dict[str, str] = {}
    for injection in injections:
        if injection.option == "disconnect_after":
            options["disconnect_after"] = str(injection.argument)
        elif injection.option == "cooler":
            options["cooler"] = "stuck"
    return options


def arm(faults: Faults, injections: Sequence[Injection]) -> None:
    """Put the bench's devices under the faults that are effects: now, or at their moment."""
    for injection in injections:
        if injection.option is not None:
            continue
        device, effect = injection.device, injection.fault
        assert effect in EFFECTS[device]
        if injection.at is None:
            faults.inject(device, effect)
            continue
        faults.at(*injection.at, partial(faults.inject, device, effect))
        if injection.until is not None:
            faults.at(*injection.until, partial(faults.clear, device, effect))
