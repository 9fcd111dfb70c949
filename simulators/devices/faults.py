"""Faults switched on while a run goes, at a moment the bench itself sees.

A fault set in the URL (`fault=hang`) is there from the start; a fault suite needs one that strikes in a
given phase of the run: the camera hanging in the brightness search's first trial, the panel unplugged during
the flats, the server frozen during the dark-flats. The bench knows the phase physically, without asking the
sequencer: a *lit* exposure is one started while the panel's light is on (a trial or a flat), a *dark* one is
started with the light off after it has been on (a dark-flat).

    bench.faults.at(Moment.LIT_EXPOSURE, 3, lambda: bench.faults.inject("camera", "hang"))

runs the action when the camera starts its third exposure with the light on, before that exposure begins.
Actions run outside the bench's locks, in the thread of the device call that saw the moment (a server thread
when the bench is served over Alpaca or INDI), so they may freeze or kill the process serving it.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

EFFECTS: Mapping[str, tuple[str, ...]] = {
    "camera": ("hang", "unplugged"),
    "panel": ("dead", "unplugged", "stuck_on"),
    "wheel": ("stuck", "unplugged"),
}
"""What each device can suffer: `hang` (exposures never complete), `dead` (the light never lights and the
panel reports an error), `stuck` (the wheel never arrives), `stuck_on` (light_off is accepted but the light
stays on, and the panel says so), `unplugged` (every call fails as a vanished USB device does)."""


class Moment(enum.Enum):
    """What a device call tells the bench about the run's phase."""

    CONNECT = "connect"
    LIGHT_ON = "light_on"
    LIGHT_OFF = "light_off"
    LIT_EXPOSURE = "lit_exposure"
    DARK_EXPOSURE = "dark_exposure"
    FILTER_MOVE = "filter_move"
    SWITCH_ON = "switch_on"
    """The light switched on after being switched off (or never on): a set's light-on, where `light_on` also
    counts each brightness change."""


@dataclass
class _Trigger:
    moment: Moment
    nth: int
    action: Callable[[], None]
    fired: bool = False


class Faults:
    """The faults in force on one bench, and the actions armed for moments still to come. Thread-safe."""

    def __init__(self, initial: Mapping[str, str | None] | None = None) -> None:
        self._lock = threading.Lock()
        self._effects: dict[str, set[str]] = {device: set() for device in EFFECTS}
        self._counts: dict[Moment, int] = dict.fromkeys(Moment, 0)
        self._triggers: list[_Trigger] = []
        self._lit = False
        self._was_lit = False
        for device, effect in (initial or {}).items():
            if effect is not None:
                self.inject(device, effect)

    def inject(self, device: str, effect: str) -> None:
        """Put `device` ("camera", "panel", "wheel") under `effect` from now on."""
        known = EFFECTS.get(device)
        if known is None:
            raise ValueError(f"no simulated device {device!r} (known: {', '.join(EFFECTS)})")
        if effect not in known:
            raise ValueError(f"not a {device} fault: {effect!r} (known: {', '.join(known)})")
        with self._lock:
            self._effects[device].add(effect)

    def clear(self, device: str, effect: str | None = None) -> None:
        """The device works again (replugged, unstuck): from `effect`, or from every fault."""
        with self._lock:
            if effect is None:
                self._effects[device].clear()
            else:
                self._effects[device].discard(effect)

    def has(self, device: str, effect: str) -> bool:
        with self._lock:
            return effect in self._effects[device]

    def at(self, moment: Moment, nth: int, action: Callable[[], None]) -> None:
        """Run `action` once, when `moment` happens for the `nth` time (1-based, counted since the bench began)."""
        if nth < 1:
            raise ValueError(f"moments are counted from 1, not {nth}")
        with self._lock:
            self._triggers.append(_Trigger(moment, nth, action))

    def count(self, moment: Moment) -> int:
        """How many times `moment` has happened."""
        with self._lock:
            return self._counts[moment]

    def observe(self, moment: Moment) -> None:
        """A device call saw `moment`: count it and run the actions armed for it."""
        due: list[Callable[[], None]] = []
        with self._lock:
            self._counts[moment] += 1
            for trigger in self._triggers:
                if not trigger.fired and trigger.moment is moment and trigger.nth == self._counts[moment]:
                    trigger.fired = True
                    due.append(trigger.action)
        for action in due:
            action()

    def set_lit(self, on: bool) -> None:
        """Whether the panel's light is now on, as the physics has it (what makes an exposure lit or dark)."""
        with self._lock:
            self._lit = on
            self._was_lit = self._was_lit or on

    def exposure_started(self) -> None:
        """The camera starts an exposure: lit if the light is on, dark if it is off after having been on."""
        with self._lock:
            lit, dark = self._lit, not self._lit and self._was_lit
        if lit:
            self.observe(Moment.LIT_EXPOSURE)
        elif dark:
            self.observe(Moment.DARK_EXPOSURE)


def parse_moment(text: str) -> tuple[Moment, int]:
    """`lit_exposure:3` → (LIT_EXPOSURE, 3); `light_off` → (LIGHT_OFF, 1)."""
    name, _, nth = text.strip().partition(":")
    try:
        moment = Moment(name.strip().lower())
    except ValueError:
        raise ValueError(f"no moment {name!r} (known: {', '.join(m.value for m in Moment)})") from None
    if not nth:
        return moment, 1
    if not (nth.isascii() and nth.isdigit() and 0 < len(nth) <= 6 and int(nth) >= 1):
        raise ValueError(f"{text!r}: the count after ':' is a whole number from 1")
    return moment, int(nth)


SERVER_ACTIONS = ("freeze", "kill", "garbage")
"""What a served bench's process can do at a moment, besides a device fault: stop dead (SIGSTOP: a frozen server,
its connections open and silent), die (SIGKILL: connections refused), or answer nonsense from then on."""


def parse_fault(text: str) -> tuple[Moment, int, str]:
    """`--fault MOMENT[:N]=ACTION` of the sim servers: `lit_exposure:3=freeze`, `light_off=panel.unplugged`.
    The action is one of SERVER_ACTIONS or DEVICE.EFFECT (see EFFECTS)."""
    when, sep, action = text.partition("=")
    if not sep:
        raise ValueError(f"{text!r}: expected MOMENT[:N]=ACTION, e.g. lit_exposure:3=freeze")
    moment, nth = parse_moment(when)
    action = action.strip().lower()
    device, dot, effect = action.partition(".")
    if action in SERVER_ACTIONS or (dot and effect in EFFECTS.get(device, ())):
        return moment, nth, action
    effects = [f"{d}.{e}" for d, known in EFFECTS.items() for e in known]
    raise ValueError(f"{text!r}: no action {action!r} (known: {', '.join([*SERVER_ACTIONS, *effects])})")
