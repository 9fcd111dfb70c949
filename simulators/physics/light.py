"""The light that reaches the sensor: panel emission history × cover × filter, integrated over an exposure.

The panel, its cover and the filter wheel record every change with its clock time in a timeline; a frame
integrates the light over [start, start + exposure] from those timelines, so a frame started during the
panel's warm-up is dimmer, one started during its afterglow is not dark, and a wheel still moving blocks
light. Emission is relative to the panel at full brightness, steady state (1.0).

Between two changes the emission is A + B·exp(−(t − anchor)/τ) (warm-up after switching on, afterglow after
switching off) and the cover's closedness is linear in t, so every piece integrates in closed form. PWM
dimming is a square wave of the brightness's duty cycle; its on-time inside each piece is computed from a
random phase per frame (the camera is not synchronised with the panel), a clock that runs `pwm_error` off
nominal and cycle-to-cycle jitter, so exposures of a few periods scatter and long ones do not.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from dataclasses import dataclass, replace

import numpy as np

from drivers.base import CoverState, LightState
from simulators.physics.options import BenchOptions

_READY_WITHIN = 0.005  # the panel reports READY once its output is within 0.5 % of steady state


@dataclass(frozen=True)
class Epoch:
    """Emission from `start` until the next epoch: multiplier × (A + B·exp(−(t − anchor)/tau))."""

    start: float
    on: bool
    brightness: int
    duty: float  # the curve's output for the brightness: PWM duty cycle, or analogue level
    a: float
    b: float
    anchor: float
    tau: float
    dead: bool = False

    def emission(self, t: float) -> float:
        """Instantaneous emission (PWM averaged) at time t."""
        scale = self.duty if self.on else 1.0
        if self.tau <= 0 or self.b == 0:
            return scale * self.a
        return scale * (self.a + self.b * math.exp(-(t - self.anchor) / self.tau))


@dataclass(frozen=True)
class CoverMove:
    """The cover's closedness (1 closed, 0 open) goes linearly from c0 at t0 to c1 at t1."""

    t0: float
    c0: float
    t1: float
    c1: float

    def at(self, t: float) -> float:
        if t >= self.t1 or self.t1 <= self.t0:
            return self.c1
        if t <= self.t0:
            return self.c0
        return self.c0 + (self.c1 - self.c0) * (t - self.t0) / (self.t1 - self.t0)


def response(brightness: int, options: BenchOptions) -> float:
    """Panel output (0-1) for an integer brightness: linear PWM, gamma, or an EL-style threshold; a switch-only
    panel (`dimmable=0`) is at full output whatever it is asked."""
    if not options.dimmable:
        return 1.0
    top = options.max
    fraction = min(max(brightness, 0), top) / top
    if options.curve == "gamma":
        return float(fraction**options.gamma)
    if options.curve == "threshold":
        threshold = options.effective_threshold()
        if brightness <= threshold:
            return 0.0
        return (min(brightness, top) - threshold) / (top - threshold)
    return fraction


class PanelTimeline:
    """The panel's light and cover history on the bench clock. Thread-safe and cheap to update."""

    def __init__(self, options: BenchOptions, start: float) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._epochs: list[Epoch] = [Epoch(start, False, 0, 0.0, 0.0, 0.0, start, 0.0)]
        self._brightness = 0
        closed = 0.0 if options.cover else 1.0
        self._moves: list[CoverMove] = [CoverMove(start, closed, start, closed)]
        self._cover_target: CoverState = CoverState.OPEN if options.cover else CoverState.NOT_PRESENT

    # light --------------------------------------------------------------------------------------
    def switch_on(self, now: float, brightness: int, dead: bool = False) -> None:
        """Light on at a brightness; from off it warms up, if already on only the duty cycle changes."""
        with self._lock:
            self._switch_on(now, brightness, dead)

    def set_brightness(self, now: float, brightness: int) -> None:
        """Store a brightness; if the light is on it changes at once (PWM duty), without a new warm-up."""
        with self._lock:
            self._brightness = brightness
            last = self._epochs[-1]
            if last.on:
                self._switch_on(now, brightness, last.dead)

    def _switch_on(self, now: float, brightness: int, dead: bool) -> None:
        opts = self._options
        self._brightness = brightness
        last = self._epochs[-1]
        duty = 0.0 if dead else response(brightness, opts)
        if last.on and last.dead == dead:
            epoch = replace(last, start=now, brightness=brightness, duty=duty)
        else:
            epoch = Epoch(now, True, brightness, duty, 1.0, -(1.0 - opts.warmup_start), now, opts.warmup, dead)
        self._append(epoch)

    def switch_off(self, now: float) -> None:
        opts = self._options
        with self._lock:
            last = self._epochs[-1]
            if not last.on:
                return
            glow = last.emission(now) * opts.afterglow_level
            self._append(Epoch(now, False, last.brightness, 0.0, 0.0, glow, now, opts.afterglow))

    def _append(self, epoch: Epoch) -> None:
        if epoch.start < self._epochs[-1].start:  # clock went backwards: keep the timeline ordered
            epoch = replace(epoch, start=self._epochs[-1].start)
        self._epochs.append(epoch)
        if len(self._epochs) > 4096:
            del self._epochs[:2048]

    @property
    def brightness(self) -> int:
        with self._lock:
            return self._brightness

    def is_on(self) -> bool:
        with self._lock:
            return self._epochs[-1].on

    def light_state(self, now: float) -> LightState:
        with self._lock:
            last = self._epochs[-1]
        if not last.on:
            return LightState.OFF
        if last.dead:
            return LightState.ERROR
        deficit = abs(last.b)
        if last.tau > 0 and deficit > _READY_WITHIN:
            settle = last.tau * math.log(deficit / _READY_WITHIN)
            if now < last.anchor + settle:
                return LightState.SETTLING
        return LightState.READY

    def settle_time(self) -> float:
        """Seconds from switching on until READY: the wait a sequence needs after light_on."""
        deficit = 1.0 - self._options.warmup_start
        if self._options.warmup <= 0 or deficit <= _READY_WITHIN:
            return 0.0
        return self._options.warmup * math.log(deficit / _READY_WITHIN)

    def epochs(self) -> list[Epoch]:
        with self._lock:
            return list(self._epochs)

    # cover --------------------------------------------------------------------------------------
    def move_cover(self, now: float, close: bool) -> None:
        with self._lock:
            current = self._moves[-1].at(now)
            target = 1.0 if close else 0.0
            duration = abs(target - current) * self._options.cover_time
            self._moves.append(CoverMove(now, current, now + duration, target))
            self._cover_target = CoverState.CLOSED if close else CoverState.OPEN
            if len(self._moves) > 1024:
                del self._moves[:512]

    def cover_state(self, now: float) -> CoverState:
        with self._lock:
            if not self._options.cover:
                return CoverState.NOT_PRESENT
            if now < self._moves[-1].t1:
                return CoverState.MOVING
            return self._cover_target

    def cover_moves(self) -> list[CoverMove]:
        with self._lock:
            return list(self._moves)


@dataclass(frozen=True)
class WheelMove:
    """From `start` the wheel moves toward `slot`, arriving at `arrive` (inf if it never does)."""

    start: float
    slot: int
    arrive: float


class WheelTimeline:
    """Which filter is in the beam over time; nothing passes while the wheel turns."""

    def __init__(self, transmissions: list[float], start: float) -> None:
        self._transmissions = transmissions
        self._lock = threading.Lock()
        self._moves: list[WheelMove] = [WheelMove(start, 0, start)]

    def move(self, now: float, slot: int, arrive: float) -> None:
        with self._lock:
            self._moves.append(WheelMove(now, slot, arrive))
            if len(self._moves) > 1024:
                del self._moves[:512]

    def last_move(self) -> WheelMove:
        with self._lock:
            return self._moves[-1]

    def moves(self) -> list[WheelMove]:
        with self._lock:
            return list(self._moves)

    def transmission_of(self, slot: int) -> float:
        return self._transmissions[slot]


def integrate_light(
    panel: PanelTimeline,
    wheel: WheelTimeline | None,
    options: BenchOptions,
    t0: float,
    t1: float,
    rng: np.random.Generator,
) -> float:
    """Seconds of full-brightness L-equivalent light reaching the sensor in [t0, t1].

    Multiply by the panel flux (e⁻/s per pixel) and the illumination map for photoelectrons.
    """
    if t1 <= t0:
        return 0.0
    epochs = panel.epochs()
    moves = panel.cover_moves()
    wheel_moves = wheel.moves() if wheel is not None else []
    cuts = {t0, t1}
    cuts.update(e.start for e in epochs if t0 < e.start < t1)
    for m in moves:
        cuts.update(t for t in (m.t0, m.t1) if t0 < t < t1)
    for w in wheel_moves:
        cuts.update(t for t in (w.start, w.arrive) if t0 < t < t1)
    times = sorted(cuts)
    starts = [e.start for e in epochs]
    pwm = _Pwm(options, rng)
    total = 0.0
    for a, b in itertools.pairwise(times):
        mid = 0.5 * (a + b)
        epoch = epochs[max(bisect.bisect_right(starts, mid) - 1, 0)]
        transmission = _transmission_at(wheel, wheel_moves, mid)
        if transmission == 0.0:
            pwm.advance(b - a)
            continue
        ca, cb = _closedness(moves, a), _closedness(moves, b)
        piece = _integrate_piece(epoch, a, b, ca, cb)
        if epoch.on:
            piece *= pwm.on_fraction(b - a, epoch.duty) if options.pwm_hz > 0 else epoch.duty
        else:
            pwm.advance(b - a)
        total += piece * transmission
    return total


def transmission_seconds(wheel: WheelTimeline | None, t0: float, t1: float) -> float:
    """Seconds of L-equivalent light a steady source gives through the wheel in [t0, t1] (nothing while it turns)."""
    if t1 <= t0:
        return 0.0
    moves = wheel.moves() if wheel is not None else []
    cuts = {t0, t1}
    for w in moves:
        cuts.update(t for t in (w.start, w.arrive) if t0 < t < t1)
    times = sorted(cuts)
    return sum((b - a) * _transmission_at(wheel, moves, 0.5 * (a + b)) for a, b in itertools.pairwise(times))


def _closedness(moves: list[CoverMove], t: float) -> float:
    for move in reversed(moves):
        if move.t0 <= t:
            return move.at(t)
    return moves[0].c0


def _transmission_at(wheel: WheelTimeline | None, moves: list[WheelMove], t: float) -> float:
    if wheel is None:
        return 1.0
    for move in reversed(moves):
        if move.start <= t:
            return 0.0 if t < move.arrive else wheel.transmission_of(move.slot)
    return wheel.transmission_of(moves[0].slot)


def _integrate_piece(epoch: Epoch, a: float, b: float, ca: float, cb: float) -> float:
    """∫ₐᵇ (A + B·e^(−(t−anchor)/τ)) · c(t) dt with c linear from ca to cb (without the duty factor)."""
    length = b - a
    p, q = ca, (cb - ca) / length
    total = epoch.a * (p * length + 0.5 * q * length * length)
    if epoch.b != 0 and epoch.tau > 0:
        tau = epoch.tau
        start = math.exp(-(a - epoch.anchor) / tau)
        if start > 0:
            inner = tau * (p + q * tau) - tau * math.exp(-length / tau) * (p + q * length + q * tau)
            total += epoch.b * start * inner
    return total


class _Pwm:
    """A PWM square wave with a random phase per frame, a clock off nominal, and phase jitter."""

    def __init__(self, options: BenchOptions, rng: np.random.Generator) -> None:
        self._hz = options.pwm_hz * (1.0 + options.pwm_error)
        self._jitter = options.pwm_jitter
        self._rng = rng
        self._phase = float(rng.uniform(0.0, 1.0))

    def _cycles(self, seconds: float) -> float:
        n = seconds * self._hz
        if self._jitter > 0 and n > 0:
            n += self._jitter * math.sqrt(n) * float(self._rng.standard_normal())
        return max(n, 0.0)

    def advance(self, seconds: float) -> None:
        if self._hz > 0:
            self._phase += self._cycles(seconds)

    def on_fraction(self, seconds: float, duty: float) -> float:
        if duty <= 0.0:
            self.advance(seconds)
            return 0.0
        if duty >= 1.0:
            self.advance(seconds)
            return 1.0
        n = self._cycles(seconds)
        start = self._phase
        self._phase += n
        if n <= 0:
            return duty
        on = _on_cycles(start + n, duty) - _on_cycles(start, duty)
        return on / n


def _on_cycles(phase: float, duty: float) -> float:
    """Cycles of "on" from phase 0 to `phase` for a wave that is on for the first `duty` of each cycle."""
    whole = math.floor(phase)
    return whole * duty + min(phase - whole, duty)
