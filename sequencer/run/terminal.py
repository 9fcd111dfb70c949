"""Asking the user at the terminal to switch a light by hand: the prompt, then Enter.

"Switch the flat light on, then press Enter"; "Cap the telescope / switch the light off, then press Enter".
A person answers in real time whatever the run's clock (a dry run's is virtual), so the wait is counted in real
time, in slices of `select` on the terminal: bounded by the timeout, and a stop (Ctrl-C) is seen within a
slice. The run's last light-off is asked the same way but is not interrupted by the stop under way (a second
Ctrl-C ends it, and the run then says the light may still be on). Input typed before the prompt is discarded:
only an Enter pressed after it confirms.
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from drivers.errors import DeviceDisconnected, DeviceTimeout
from sequencer.core.units import format_duration
from sequencer.run.manual import NAME, Hand
from sequencer.run.stop import Interrupted, StopToken

__all__ = ["OFF_PROMPT", "ON_PROMPT", "Terminal", "TerminalConfirm"]

ON_PROMPT = "Switch the flat light on, then press Enter"
OFF_PROMPT = "Cap the telescope / switch the light off, then press Enter"
FINAL_PROMPT = "The run is over: cap the telescope / switch the flat light off, then press Enter"
PROMPTS = (ON_PROMPT, OFF_PROMPT, FINAL_PROMPT)
SKY_PROMPTS = (
    "Uncap the telescope, point it at the twilight sky (tracking off), then press Enter",
    "Cap the telescope for the dark-flats, then press Enter",
    "The run is over: cap the telescope, then press Enter",
)
"""For sky flats (`panel: sky`): the sky is the light, the cap its switch."""
SLICE = 0.2
"""Seconds of each wait on the terminal (real time)."""


@dataclass(frozen=True)
class Terminal:
    """Where the user is: the terminal's input (a file descriptor) and where prompts are written."""

    input_fd: int
    output: TextIO

    def discard_typed(self) -> None:
        """Drop what was typed before the prompt (a stray Enter must not confirm it)."""
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self.input_fd, termios.TCIFLUSH)

    def say(self, text: str) -> None:
        self.output.write(text)
        self.output.flush()

    def wait_for_enter(self, timeout: float, stopped: Callable[[], bool]) -> bool:
        """Whether Enter was pressed within `timeout` real seconds (False: timed out or `stopped()`)."""
        waited = 0.0
        while waited < timeout:
            if stopped():
                return False
            ready, _, _ = select.select([self.input_fd], [], [], SLICE)
            if not ready:
                waited += SLICE
                continue
            data = os.read(self.input_fd, 1024)
            if not data:
                raise DeviceDisconnected(NAME, "the terminal closed while waiting for Enter")
            if b"\n" in data or b"\r" in data:
                return True
        return False


class TerminalConfirm:
    """`Confirm` by prompt and Enter. `context()` names the set being taken (for the prompt); `before()` ends
    a progress line left open on the terminal."""

    def __init__(
        self,
        terminal: Terminal,
        stop: StopToken,
        timeout: float,
        *,
        context: Callable[[], str] = lambda: "",
        before: Callable[[], None] = lambda: None,
        prompts: tuple[str, str, str] = PROMPTS,
    ) -> None:
        self.prompts = prompts
        self.terminal = terminal
        self.stop = stop
        self.timeout = timeout
        self.context = context
        self.before = before
        self.asked: list[str] = []
        """The prompts shown, in order (for the journal)."""

    def switch(self, on: bool, *, final: bool, hand: Hand | None) -> None:
        on_text, off_text, final_text = self.prompts
        text = on_text if on else (final_text if final else off_text)
        where = self.context()
        self.before()
        self.terminal.discard_typed()
        self.terminal.say(f"\n>>> {f'[{where}] ' if where else ''}{text}: ")
        self.asked.append(text)
        confirmed = self.terminal.wait_for_enter(self.timeout, lambda: not final and self.stop.requested)
        if not confirmed and not final and self.stop.requested:
            self.terminal.say("\n")
            raise Interrupted(self.stop.signum or 2)
        if not confirmed:
            self.terminal.say("\n")
            state = "on" if on else "off"
            raise DeviceTimeout(NAME, f"nobody confirmed the light {state} within {format_duration(self.timeout)}")
        if hand is not None:
            hand()
