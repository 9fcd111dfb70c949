"""The inside of the model-guided brightness search: what the trials so far say, and where to go next.

The trials set a bracket (the brightest too-dim one, the dimmest too-bright one) that the next trial never
leaves. Each trial becomes an observation of the signal at its brightness: a level (saturated trials still
tell theirs through their unclipped percentiles, so an overshoot is not a wasted exposure), a lower bound
(clipped all over) or an upper one (no light). Once a level is measured the odds over panel curves
(`odds`) choose the next trial; before that, explicit steps down from clipped frames (sized by the
clip level over the target) or up from dark ones. Odds that stop converging fall back to bisection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from sequencer.brightness.curves import BRIGHTEST, Observation, Targets
from sequencer.brightness.odds import PanelOdds
from sequencer.brightness.response import LINEAR, PanelResponse, PanelShape
from sequencer.brightness.trials import Trial, Verdict, Window
from sequencer.core.stats import FrameStats

__all__ = ["DEFAULT_START", "SearchState", "initial_brightness", "saturated_level"]

DEFAULT_START = 0.25
"""A cold search starts a quarter of the way up the range: low enough that a panel a few times brighter than
the target needs still measures (every pixel clipped says only "too much"), high enough that a panel lit
only above a threshold (EL panels) shows light and a gamma panel's faint low end is still measurable."""
UNCLIPPED = 0.95
"""Percentiles below this fraction of the maximum ADU are untouched by clipping (or full-well roll-off)."""
DARK_SIGNAL = 0.005
"""A trial whose signal is below this fraction of the target's shows no light (a threshold panel's dark)."""
SIGNAL_FLOOR = 0.002
"""Uncertainty of a measured signal in ADU, as a fraction of the target's: the pedestal's error, residual
afterglow; it makes faint levels say little about the scale."""
SATURATED_NOISE = 0.05
"""Relative uncertainty of a clipped frame's level read from its unclipped percentiles, scaled by an
unclipped trial's percentile-to-mean ratios."""
UNREFERENCED_NOISE = 0.2
"""The same without an unclipped trial to scale by: the percentile stands in for the mean."""
DIMMEST_PIXELS = 0.85
"""The dimmest pixels' level over the mean (vignetting) until an unclipped trial measures it."""


def initial_brightness(
    window: Window,
    brightness_range: tuple[int, int],
    *,
    prior: PanelResponse | PanelShape | None = None,
    pedestal_adu: float | None = None,
) -> int:
    """Where a search starts without a trained brightness: where `prior` (a response carried over from an
    earlier set, rescaled to this one) puts the window's centre, else a quarter of the way up the range."""
    low, high = int(brightness_range[0]), int(brightness_range[1])
    guess: float | None = None
    if isinstance(prior, PanelResponse):
        if pedestal_adu is not None:
            prior = PanelResponse(pedestal_adu, prior.scale, prior.threshold, prior.gamma, prior.levels)
        guess = prior.brightness_for(window.target_adu)
    if guess is None or not math.isfinite(guess):
        guess = low + DEFAULT_START * (high - low)
    return min(max(round(guess), low), high)


class Measured(Protocol):
    """A trial of either search: its statistics and its mean."""

    @property
    def stats(self) -> FrameStats: ...

    @property
    def mean(self) -> float: ...


def saturated_level(trial: Measured, references: Sequence[Measured], pedestal: float, max_adu: int) -> float | None:
    """The mean a saturated trial would have had, from its unclipped percentiles.

    Vignetting, dust and PRNU do not change between trials, so each percentile sits at a fixed fraction of
    the mean (above the pedestal), which any unsaturated trial gives; the highest percentile still below
    clipping gives the best estimate. Without such a reference the percentile itself stands in for the mean
    (a flat is within some tens of percent of flat): rough, but enough to step to a measurable level.
    None when every percentile is clipped.
    """
    best: tuple[float, float] | None = None
    for percent, value in trial.stats.percentiles.items():
        if value >= UNCLIPPED * max_adu or value - pedestal <= 0:
            continue
        ratios = sorted(
            (ref.stats.percentiles[percent] - pedestal) / (ref.mean - pedestal)
            for ref in references
            if percent in ref.stats.percentiles and ref.mean - pedestal > 0.02 * (max_adu - pedestal)
        )
        ratios = [r for r in ratios if r > 0]
        ratio = ratios[len(ratios) // 2] if ratios else 1.0
        if best is None or percent > best[0]:
            best = (percent, pedestal + (value - pedestal) / ratio)
    return best[1] if best is not None else None


class SearchState:
    """The state of one model-guided search: the trials so far, the bracket they set, the fitted panel."""

    def __init__(
        self,
        window: Window,
        low: int,
        high: int,
        pedestal: float | None,
        prior: PanelResponse | PanelShape | None,
    ) -> None:
        self.window = window
        self.low, self.high = low, high
        self.pedestal_known = pedestal is not None
        self.pedestal = float(pedestal) if pedestal is not None else 0.0
        # A shape passed in is learnt; a response's shape only if it rests on two levels or more.
        self.learned = isinstance(prior, PanelShape) or (isinstance(prior, PanelResponse) and prior.shape_known)
        self.prior_levels = prior.levels if isinstance(prior, PanelResponse) else 2
        self.prior = prior.shape if isinstance(prior, PanelResponse) else prior or LINEAR
        self.trials: list[Trial] = []
        self.widths: list[int | None] = []
        self.misses: list[float | None] = []

    # -- what the trials say -------------------------------------------------------------------------------
    def bracket(self) -> tuple[int, int, list[Trial]]:
        """(largest too-dim brightness, smallest too-bright one, the trials consistent with both).

        Newest trials win: when noise or drift makes an older trial contradict a newer one, the older is
        dropped. Unknown sides sit one step outside the range.
        """
        lo, hi = self.low - 1, self.high + 1
        consistent: list[Trial] = []
        for trial in reversed(self.trials):
            b = trial.brightness
            if trial.verdict is Verdict.TOO_DIM:
                if b >= hi:
                    continue
                lo = max(lo, b)
            elif trial.verdict in (Verdict.TOO_BRIGHT, Verdict.SATURATED):
                if b <= lo:
                    continue
                hi = min(hi, b)
            consistent.append(trial)
        return lo, hi, consistent

    def levels(self, consistent: Sequence[Trial]) -> list[tuple[float, float]]:
        """(brightness, mean) of every trial that has a usable level, saturated ones estimated."""
        references = [t for t in consistent if t.verdict is not Verdict.SATURATED]
        points = [(float(t.brightness), t.mean) for t in references]
        for trial in consistent:
            if trial.verdict is Verdict.SATURATED:
                level = saturated_level(trial, references, self.pedestal, self.window.max_adu)
                if level is not None:
                    points.append((float(trial.brightness), level))
        return points

    def odds(self, consistent: Sequence[Trial], observations: Sequence[Observation] | None = None) -> PanelOdds:
        """The odds over panel curves the consistent trials give."""
        return PanelOdds(
            self.observations(consistent) if observations is None else observations,
            self.targets(consistent),
            (self.low, self.high),
            prior=self.prior if self.learned else None,
            pedestal_known=self.pedestal_known,
            trials=len(self.trials),
        )

    def model(self, consistent: Sequence[Trial]) -> PanelResponse | None:
        """The likeliest panel response: what the trained table keeps and the next set starts from. Its shape
        rests on this search's measured levels and, if the search started from a learnt shape, on that's."""
        observations = self.observations(consistent)
        response = self.odds(consistent, observations).likeliest(self.pedestal)
        if response is None:
            return None
        measured = len({o.brightness for o in observations if o.kind == "level"})
        return replace(response, levels=measured + (self.prior_levels if self.learned else 0))

    # -- where to go next ----------------------------------------------------------------------------------
    def observations(self, consistent: Sequence[Trial]) -> list[Observation]:
        """What each trial says about the signal at its brightness: a level, a bound (clipped), or darkness."""
        floor = DARK_SIGNAL * max(self.window.target_adu - self.pedestal, 1.0)
        references = [t for t in consistent if t.verdict is not Verdict.SATURATED]
        found: list[Observation] = []
        for trial in consistent:
            signal = trial.mean - self.pedestal
            if trial.verdict is Verdict.SATURATED:
                found.append(Observation(trial.brightness, "at_least", max(signal, 1.0)))
                level = saturated_level(trial, references, self.pedestal, self.window.max_adu)
                if level is not None and level > self.pedestal:
                    sigma = SATURATED_NOISE if references else UNREFERENCED_NOISE
                    found.append(Observation(trial.brightness, "level", level - self.pedestal, sigma))
            elif self.pedestal_known and signal <= floor:
                found.append(Observation(trial.brightness, "dark", floor))
            elif signal > 0:
                found.append(Observation(trial.brightness, "level", signal))
        return found

    def targets(self, consistent: Sequence[Trial]) -> Targets:
        """The signal levels that decide a trial's outcome, in ADU above the pedestal."""
        window, pedestal = self.window, self.pedestal
        wanted = max(window.target_adu - pedestal, 1.0)
        ratios = []
        for trial in consistent:
            percentiles = trial.stats.percentiles
            if trial.verdict is not Verdict.SATURATED and percentiles and trial.mean - pedestal > 0.02 * wanted:
                ratios.append((percentiles[min(percentiles)] - pedestal) / (trial.mean - pedestal))
        # How far below the mean the dimmest pixels sit (vignetting): the frame clips all over once they do.
        ratio = min(max(sorted(ratios)[len(ratios) // 2], 0.3), 1.0) if ratios else DIMMEST_PIXELS
        return Targets(
            low=max(window.low_adu - pedestal, 1.0),
            high=max(window.high_adu - pedestal, 2.0),
            clip=max(UNCLIPPED * window.max_adu - pedestal, 3.0) / ratio,
            dark=DARK_SIGNAL * wanted,
            noise=SIGNAL_FLOOR * wanted,
        )

    def next_brightness(self) -> int:
        lo, hi, consistent = self.bracket()
        low_edge, high_edge = max(lo + 1, self.low), min(hi - 1, self.high)
        if low_edge == 0 and high_edge > 0:
            low_edge = 1  # 0 is off on most panels: try it only when 1 is known too bright
        observations = self.observations(consistent)
        if not any(o.kind == "level" for o in observations):
            return self._without_a_level(lo, hi, low_edge, high_edge, consistent)
        if not self._stalled():
            odds = self.odds(consistent, observations)
            tried = {t.brightness for t in self.trials}
            choice = odds.best(low_edge, high_edge, tried, ends_if_dim=hi - 1, ends_if_bright=lo + 1)
            if choice is not None:
                return choice
        return self._bisect(lo, hi, consistent)

    def _without_a_level(self, lo: int, hi: int, low_edge: int, high_edge: int, consistent: Sequence[Trial]) -> int:
        """The next trial while no trial has measured a level: only clipped frames above, dark ones below.

        A frame clipped all over says the light is at least `headroom` times the target's (the clip level
        over the target, from the window and the pedestal). Above the light's start (the highest dark trial,
        else 0 or the bottom of the range) the step down aims where a linear panel (or the learnt curve) would
        land if the frame was only just clipped: a gamma or threshold panel then still shows light, and a
        panel far brighter clips again, and the next step goes further, splitting in ratio what could still be
        over. With only dark trials, halve what is left above.
        """
        if hi > self.high:
            if lo < self.low:
                return min(max(initial_brightness(self.window, (self.low, self.high)), low_edge), high_edge)
            return min(high_edge, lo + max(1, (self.high - lo + 1) // 2))
        targets = self.targets(consistent)
        headroom = max(targets.clip / max(targets.low * targets.high, 1.0) ** 0.5, 1.5)
        clipped = sum(1 for t in consistent if t.verdict is Verdict.SATURATED and t.brightness >= hi)
        # The light's start and growth: the learnt shape, else linear from the highest dark trial (or from 0).
        start = float(lo) if lo >= self.low else float(min(self.low, 0))
        gamma = 1.0
        if self.learned and self.prior.threshold < hi:
            start, gamma = max(start, self.prior.threshold), self.prior.gamma
        if lo >= self.low:
            # Dark below, clipped above: the light starts somewhere in between, where is what matters.
            return int(min(max((lo + hi) // 2, low_edge), high_edge))
        if clipped <= 1:
            over = headroom
        else:
            # Clipped again: the light is well over, by up to what puts the target on the lowest step that
            # gives light, or where a panel `BRIGHTEST` times brighter than needed at full would. Split that
            # in ratio.
            lowest = max(float(low_edge), start + 1.0, start + (self.high - start) * BRIGHTEST ** (-1.0 / gamma))
            over = math.sqrt(headroom * max(((hi - start) / (lowest - start)) ** gamma, headroom))
        guess = round(start + (hi - start) * over ** (-1.0 / gamma))
        return int(min(max(guess, low_edge), high_edge))

    def _bisect(self, lo: int, hi: int, consistent: Sequence[Trial]) -> int:
        """Halve the bracket: in ratio (panels are judged by ratios, curves bend toward the dim end), or in
        brightness when the dim side is dark (a threshold panel: the light starts somewhere in between)."""
        lo_known, hi_known = lo >= self.low, hi <= self.high
        if lo_known and hi_known:
            if lo > 0 and not self._dark(lo, consistent):
                return min(max(round(math.sqrt(lo * hi)), lo + 1), hi - 1)
            return (lo + hi) // 2
        if hi_known:
            # Only "too bright" with no usable level: saturated at least twofold, by how much is unknown.
            # Split what is left below in ratio; landing too dim still measures the panel, saturating does not.
            floor = max(self.low, 1)
            ceiling = max(hi / 2.0, floor)
            return max(self.low, min(hi - 1, round(math.sqrt(floor * ceiling))))
        if lo_known:  # only darkness so far: halve what is left above
            return min(self.high, lo + max(1, (self.high - lo + 1) // 2))
        return initial_brightness(self.window, (self.low, self.high))

    def _dark(self, brightness: int, consistent: Sequence[Trial]) -> bool:
        """Whether the trial at `brightness` showed no light above the pedestal."""
        return self.pedestal_known and any(t.brightness == brightness and self.is_dark(t) for t in consistent)

    def is_dark(self, trial: Trial) -> bool:
        """No light above the pedestal (given, or else the dimmest trial's level)."""
        pedestal = self.pedestal if self.pedestal_known else min(t.mean for t in self.trials)
        floor = DARK_SIGNAL * max(self.window.target_adu - pedestal, 1.0)
        return trial.verdict is Verdict.TOO_DIM and trial.mean - pedestal <= floor

    def _stalled(self) -> bool:
        """True when three steps have neither halved a two-sided bracket nor halved the best trial's miss (in
        log signal): the odds are not converging (a panel off the family, or one drifting), bisect instead."""
        if len(self.widths) < 4:
            return False
        before, now = self.widths[-4], self.widths[-1]
        if before is None or now is None or now * 2 <= before:
            return False
        miss_before, miss_now = self.misses[-4], self.misses[-1]
        return miss_before is None or miss_now is None or miss_now * 2 > miss_before

    def record(self, trial: Trial) -> None:
        self.trials.append(trial)
        lo, hi, consistent = self.bracket()
        self.widths.append(hi - lo if lo >= self.low and hi <= self.high else None)
        wanted = self.window.target_adu - self.pedestal
        misses = [abs(math.log((m - self.pedestal) / wanted)) for _, m in self.levels(consistent) if m > self.pedestal]
        self.misses.append(min(misses) if misses and wanted > 0 else None)

    def pedestal_estimate(self, response: PanelResponse | None, consistent: Sequence[Trial]) -> float:
        """The pedestal for exposure suggestions: given, or the fitted panel's mean at brightness 0 (where a
        panel is dark), never above the dimmest trial."""
        if self.pedestal_known:
            return self.pedestal
        lowest = min((t.mean for t in consistent), default=0.0)
        estimate = response.mean_at(min(0.0, float(self.low))) if response is not None else 0.0
        return min(max(estimate, 0.0), lowest)
