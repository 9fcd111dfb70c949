"""A light switched by hand: a tablet screen, an EL sheet on a switch, a T-shirt over the dew shield at dusk.

Steady while on (no PWM, no warm-up: a person switches it, then waits), dark while off; it reaches the sensor
through the filter in the beam like the panel's light, `manual_flux` e⁻/s per pixel through L. Each switch is
kept with its clock time, so a frame integrates exactly the part of its exposure the light was on.
"""

from __future__ import annotations

import bisect
import threading

from simulators.physics.light import WheelTimeline, transmission_seconds


class ManualLightSource:
    """When the light was switched on and off, on the bench clock. Thread-safe."""

    def __init__(self, start: float) -> None:
        self._lock = threading.Lock()
        self._times: list[float] = [start]
        self._states: list[bool] = [False]

    def switch(self, now: float, on: bool) -> None:
        with self._lock:
            if self._states[-1] == on:
                return
            self._times.append(max(now, self._times[-1]))
            self._states.append(on)
            if len(self._times) > 4096:
                del self._times[:2048], self._states[:2048]

    def is_on(self, now: float) -> bool:
        with self._lock:
            index = bisect.bisect_right(self._times, now) - 1
            return self._states[max(index, 0)]

    def on_spans(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """The parts of [t0, t1] the light was on (for a sky: the telescope uncapped)."""
        with self._lock:
            times, states = list(self._times), list(self._states)
        spans = []
        for i, (start, on) in enumerate(zip(times, states, strict=True)):
            end = times[i + 1] if i + 1 < len(times) else t1
            a, b = max(start, t0), min(end, t1)
            if on and b > a:
                spans.append((a, b))
        return spans

    def lit_seconds(self, wheel: WheelTimeline | None, t0: float, t1: float) -> float:
        """Seconds of L-equivalent light it gave in [t0, t1], through the wheel."""
        with self._lock:
            times, states = list(self._times), list(self._states)
        total = 0.0
        for i, (start, on) in enumerate(zip(times, states, strict=True)):
            end = times[i + 1] if i + 1 < len(times) else t1
            a, b = max(start, t0), min(end, t1)
            if on and b > a:
                total += transmission_seconds(wheel, a, b)
        return total
