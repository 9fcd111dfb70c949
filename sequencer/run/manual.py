"""A flat light switched by hand (`panel: manual`): a tablet, an EL sheet on a switch, a T-shirt at dusk.

It stands where a flat panel stands (a `drivers.base.FlatPanel`), so every rule and every guarantee of a run
holds for it: the machine's (no flats with the light off, a settle after each change), the dark-flats' (the
light confirmed off, then each dark-flat checked for light), the cleanup's last light-off and its loud "THE
PANEL MAY STILL BE ON". Where a panel would be switched, the user is asked instead, and the light counts as
switched once that is confirmed (`Confirm`): by pressing Enter at the terminal (`terminal`), or, with nobody to
ask (`--no-prompt`, no terminal), once test frames show the light came on or went off (`lightwatch`), within
a timeout. A switch that is not confirmed fails like a panel that does not answer.

In a dry run a simulated person (`stand_in`, a `sim://manual` device) does the switching when asked, so the
whole routine runs on the simulated bench.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from drivers.base import CoverState, FlatPanel, LightState
from drivers.errors import DeviceError, NotSupported

__all__ = ["NAME", "STAND_IN_ROLE", "Confirm", "ManualLight", "leak_hint"]

NAME = "manual flat light"
SKY_NAME = "the sky (the telescope capped and uncapped by hand)"
STAND_IN_ROLE = "manual_stand_in"
"""The equipment role of a dry run's simulated person (`sim://manual`)."""
Hand = Callable[[], None]


def leak_hint(sequence_file: str, run_dir: Path | None) -> str:
    """What a user with a light switched by hand does about a dark-flat that saw light: the dark-flat check is
    their safety net, and the set's flats are kept for a resume that takes only its dark-flats."""
    where = str(run_dir) if run_dir is not None else "RUN_DIR"
    return (
        "the telescope still sees light: cap it (and switch the flat light off), then take this set's dark-flats "
        f"with: flatseq run {sequence_file} --resume {where} (its flats are kept)"
    )


class Confirm(Protocol):
    """How a switch of a light by hand is asked for and confirmed."""

    def switch(self, on: bool, *, final: bool, hand: Hand | None) -> None:
        """Ask for the light on (or off) and return once that is confirmed; a `DeviceError` (DeviceTimeout) when
        it is not, in time. `final`: the run's last light-off, while the run is stopping (it must not be
        interrupted, and may not wait long for a person who may have gone). `hand`: a dry run's simulated person,
        who switches the light when asked."""
        ...


class ManualLight:
    """A `FlatPanel` whose light the user switches when asked (see the module docstring).

    `known_off`: whether the light is known to be off at the start (a run: nothing was asked for yet). After a
    crash (`flatseq recover`) it is not: flatseq may have asked for it, so switching it off must be confirmed.
    """

    def __init__(self, *, stand_in: FlatPanel | None = None, known_off: bool = True, sky: bool = False) -> None:
        self.stand_in = stand_in
        self.sky = sky
        """`panel: sky`: the light is the twilight sky; "on" is the telescope uncapped, "off" capped."""
        self.confirm: Confirm | None = None
        """Installed by the run once it knows how to ask (a terminal) or to watch (the camera)."""
        self.closing = False
        """Set by the run's cleanup before its last light-off."""
        self._on: bool | None = False if known_off else None
        """True: asked on (or asked off, unconfirmed); False: confirmed off, or never asked for; None: unknown."""

    @property
    def name(self) -> str:
        return SKY_NAME if self.sky else NAME

    def connect(self) -> None:
        if self.stand_in is not None:
            self.stand_in.connect()

    def disconnect(self) -> None:
        if self.stand_in is not None:
            self.stand_in.disconnect()

    @property
    def brightness_range(self) -> tuple[int, int]:
        """One level: on."""
        return 1, 1

    def light_on(self, brightness: int) -> None:
        """Ask for the light on and return once it is confirmed (a person may take a while: not "at once")."""
        del brightness  # a light switched by hand has one level
        if self._on is True:
            return
        self._switch(True)

    def light_off(self) -> None:
        """Ask for the light off (or the telescope capped), unless it is known to be off already."""
        if self._on is False:
            return
        self._switch(False)

    def _switch(self, on: bool) -> None:
        if self.confirm is None:
            state = "on" if on else "off"
            raise DeviceError(
                NAME,
                f"flatseq cannot switch a light by hand and has nobody to ask: switch it {state} yourself"
                + ("" if on else " (the run may have asked for it before it stopped)"),
            )
        hand = None
        if self.stand_in is not None:
            stand_in = self.stand_in
            hand = (lambda: stand_in.light_on(stand_in.brightness_range[1])) if on else stand_in.light_off
        try:
            self.confirm.switch(on, final=self.closing, hand=hand)
        except BaseException:
            self._on = None  # asked, not confirmed: it may be either
            raise
        self._on = on

    def doubt(self) -> None:
        """Light was seen where there should be none (a dark-flat): the light may be on, whatever was confirmed;
        the next light-off asks again."""
        self._on = None

    def light_state(self) -> LightState:
        """READY once confirmed on; OFF once confirmed off (or never asked for); READY while unsure, so that
        nothing that needs the dark (dark-flats) runs on an unconfirmed light-off."""
        return LightState.OFF if self._on is False else LightState.READY

    def brightness(self) -> int:
        return 1

    @property
    def has_cover(self) -> bool:
        return False

    def open_cover(self) -> None:
        raise NotSupported(NAME, "a light switched by hand has no cover")

    def close_cover(self) -> None:
        raise NotSupported(NAME, "a light switched by hand has no cover")

    def cover_state(self) -> CoverState:
        return CoverState.NOT_PRESENT
