"""Live progress for people: set, frame n/N, brightness, ADU, ETA; cooling, waits and trials as they happen.

On a terminal one *live* line is redrawn in place (a frame, the cooling) until the next *history* line, which
is printed below it; history stays on screen (trials, waits, a set's start and end, the cooling reached). Without a
terminal (a log file, CI) each event is one line and the live line is not drawn, except now and then.
"""

from __future__ import annotations

import sys
from typing import TextIO

from drivers.clock import Clock
from sequencer.core.stats import FrameStats
from sequencer.core.units import format_duration
from sequencer.run.capture import Measured

COOLING_LOG_EVERY = 30.0
"""Seconds between cooling lines without a terminal."""


def channel_levels(stats: FrameStats) -> str:
    """A colour frame's channel means ("  R 33207 G 16490 B 9986"), so a clipping red shows; "" for mono."""
    if not stats.channels:
        return ""
    return "  " + " ".join(f"{k} {c.mean:.0f}" for k, c in stats.channels.items())


class Progress:
    """Prints progress lines; on a terminal the live line is redrawn and history stays."""

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
        self._cooling: tuple[float, float, float] | None = None  # (start time, start temperature, last log)
        self._last: tuple[float, float] | None = None  # (time, temperature) of the last cooling reading

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
        if kind not in ("flat", "dark-flat"):  # a trial: history, each one seen
            self.say(line)
        elif self.tty:
            self.live(line)
        elif n == total or n == 1:
            self._write(line + "\n")

    def waiting(self, what: str, limit: float | None) -> None:
        """A wait on a device or the clock starts: what for, and how long before it is given up."""
        bound = f" (gives up after {format_duration(limit)})" if limit is not None else ""
        self.say(f"  waiting: {what}{bound}")

    def cooling(self, temperature: float, target: float, limit: float) -> None:
        """A reading while the sensor cools: current and target temperature, rate, ETA, and the timeout."""
        if self.quiet:
            return
        now = self.clock.now()
        if self._cooling is None:
            self._cooling = (now, temperature, now)
            self._last = (now, temperature)
            self.say(
                f"  [{self.set_label}] cooling the sensor to {target:g} °C, now {temperature:.1f} °C "
                f"(gives up after {format_duration(limit)})"
            )
            return
        started, first, _ = self._cooling
        self._last = (now, temperature)
        rate = (temperature - first) / (now - started) if now > started else 0.0  # the mean: readings are coarse
        towards = rate * (target - temperature)
        eta = f"ETA {format_duration(abs(target - temperature) / abs(rate))}" if towards > 0 else "ETA ?"
        line = (
            f"  [{self.set_label}] cooling: sensor {temperature:.1f} °C → {target:g} °C, {rate * 60:+.1f} °C/min, "
            f"{eta}  (waited {format_duration(now - started)} of {format_duration(limit)})"
        )
        if self.tty:
            self.live(line)
        elif now - self._cooling[2] >= COOLING_LOG_EVERY:
            self._cooling = (started, self._cooling[1], now)
            self._write(line + "\n")

    def cooled(self, temperature: float, target: float) -> None:
        """The set-point is reached: one history line with the temperatures and the time it took."""
        if self._cooling is None:
            return
        started, first, _ = self._cooling
        self._cooling = self._last = None
        took = format_duration(self.clock.now() - started)
        self.say(
            f"  [{self.set_label}] cooled: sensor {temperature:.1f} °C (set-point {target:g} °C, "
            f"from {first:.1f} °C) in {took}"
        )

    def cooling_stopped(self) -> None:
        """The cooling wait ended without reaching the set-point (the error says why)."""
        self._cooling = self._last = None
        self.end_line()

    def live(self, text: str) -> None:
        """Redraw the live line (a terminal only)."""
        if self.quiet:
            return
        self._write("\r\033[K" + text)
        self._open_line = True

    def say(self, text: str) -> None:
        """A history line: on a terminal the live line is left as it last was (the last frame, the last cooling
        reading) and the next update draws a new one below."""
        if self.quiet:
            return
        self.end_line()
        self._write(text + "\n")

    def end_line(self) -> None:
        """End a live line left open on a terminal (before a prompt, or another line)."""
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
