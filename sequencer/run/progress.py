"""Live progress for people: set, frame n/N, brightness, ADU, ETA. One line per event when not a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

from drivers.clock import Clock
from sequencer.core.stats import FrameStats
from sequencer.core.units import format_duration
from sequencer.run.capture import Measured


def channel_levels(stats: FrameStats) -> str:
    """A colour frame's channel means ("  R 33207 G 16490 B 9986"), so a clipping red shows; "" for mono."""
    if not stats.channels:
        return ""
    return "  " + " ".join(f"{k} {c.mean:.0f}" for k, c in stats.channels.items())


class Progress:
    """Prints progress lines; on a terminal the frame lines overwrite each other."""

    def __init__(self, clock: Clock, total_seconds: float, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.clock = clock
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.start = clock.now()
        self.total = total_seconds
        self.set_label = ""
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.show_brightness = True
        """False for a light switched by hand: it has no brightness to show."""
        self._open_line = False

    def set_started(self, label: str) -> None:
        self.set_label = label
        self.say(f"[{label}]")

    def frame(self, kind: str, n: int, total: int, m: Measured, brightness: int | None) -> None:
        if self.quiet:
            return
        elapsed = self.clock.now() - self.start
        eta = max(0.0, self.total - elapsed)
        count = f"{n}/{total}" if total else f"#{n}"
        bright = f"  brightness {brightness}" if brightness is not None and self.show_brightness else ""
        line = (
            f"  [{self.set_label}] {kind} {count} at {m.exposure.exposure:g}s{bright}"
            f"  mean {m.stats.mean:.0f} ADU"
            f"  ({m.stats.mean / (m.stats.max_adu + 1):.1%}){channel_levels(m.stats)}  ETA {format_duration(eta)}"
        )
        if self.tty:
            self._write("\r\033[K" + line)
            self._open_line = True
        elif (kind != "flat" and kind != "dark-flat") or n == total or n == 1:
            self._write(line + "\n")

    def say(self, text: str) -> None:
        if self.quiet:
            return
        self.end_line()
        self._write(text + "\n")

    def end_line(self) -> None:
        """End a frame line left open on a terminal (before a prompt, or another line)."""
        if self._open_line:
            self._write("\n")
            self._open_line = False

    def _write(self, text: str) -> None:
        """Progress is for people: if nobody reads it any more (a closed pipe), the run goes on silently."""
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:
            self.quiet = True
