"""The inside of the model-guided brightness search: what the trials so far say, and where to go next.

The trials set a bracket (the brightest too-dim one, the dimmest too-bright one); the panel model fitted to
their levels predicts the brightness for the window's centre; a prediction outside the bracket, or a model
that stops halving the bracket, falls back to bisection. Saturated trials still tell their level through
their unclipped percentiles, so an overshoot is not a wasted exposure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sequencer.panel_response import PanelResponse, PanelShape, fit_response
from sequencer.trials import Trial, Verdict, Window

__all__ = ["DEFAULT_START", "SearchState", "initial_brightness", "saturated_level"]

DEFAULT_START = 0.25
"""A cold search starts a quarter of the way up the range: low enough not to saturate most setups, high
enough to measure a signal that tells the scale."""
SAFE_LEVEL = 0.85
"""A trial whose mean stays below this fraction of the maximum ADU keeps most of its pixels unclipped."""
STEEPEST_GAMMA = 2.0
"""The steepest panel curve a cautious first step up allows for."""
UNCLIPPED = 0.95
"""Percentiles below this fraction of the maximum ADU are untouched by clipping (or full-well roll-off)."""
DARK_SIGNAL = 0.005
"""A trial whose signal is below this fraction of the target's shows no light (a threshold panel's dark)."""


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
            prior = PanelResponse(pedestal_adu, prior.scale, prior.threshold, prior.gamma)
        guess = prior.brightness_for(window.target_adu)
    if guess is None or not math.isfinite(guess):
        guess = low + DEFAULT_START * (high - low)
    return min(max(round(guess), low), high)


def saturated_level(trial: Trial, references: Sequence[Trial], pedestal: float, max_adu: int) -> float | None:
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
        prior: PanelResponse | PanelShape,
        learned: bool,
    ) -> None:
        self.window = window
        self.low, self.high = low, high
        self.pedestal_known = pedestal is not None
        self.pedestal = float(pedestal) if pedestal is not None else 0.0
        self.prior = prior.shape if isinstance(prior, PanelResponse) else prior
        self.learned = learned
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

    def model(self, consistent: Sequence[Trial]) -> PanelResponse | None:
        floor = DARK_SIGNAL * max(self.window.target_adu - self.pedestal, 1.0)
        points = self.levels(consistent)
        dark_below = -math.inf
        if self.pedestal_known:
            dark = [b for b, m in points if m - self.pedestal <= floor]
            dark_below = max(dark, default=-math.inf)
            points = [(b, m) for b, m in points if m - self.pedestal > floor]
        return fit_response(
            points,
            pedestal=self.pedestal,
            target_adu=self.window.target_adu,
            prior=self.prior,
            # Without a known pedestal a linear panel looks like one lit from below zero: allow that.
            threshold_floor=None if self.pedestal_known else float(self.low - 4 * (self.high - self.low + 1)),
            dark_below=dark_below,
        )

    # -- where to go next ----------------------------------------------------------------------------------
    def _aim(self) -> float:
        """The window's centre, nudged across it when the last two trials missed on the same side.

        Interpolating a curved panel tends to creep up on the target from one side; aiming a little past the
        centre closes the bracket from the other side instead.
        """
        window = self.window
        if len(self.trials) >= 2:
            last, before = self.trials[-1].verdict, self.trials[-2].verdict
            if last is Verdict.TOO_DIM and before is Verdict.TOO_DIM:
                return window.target_adu + 0.4 * (window.high_adu - window.target_adu)
            if last is not Verdict.TOO_DIM and before is not Verdict.TOO_DIM:
                return window.target_adu - 0.4 * (window.target_adu - window.low_adu)
        return window.target_adu

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
        """True when two steps have neither halved a two-sided bracket nor halved the best trial's miss (in
        log signal): the model is not converging, bisect instead."""
        if len(self.widths) < 3:
            return False
        before, now = self.widths[-3], self.widths[-1]
        if before is None or now is None or now * 2 <= before:
            return False
        miss_before, miss_now = self.misses[-3], self.misses[-1]
        return miss_before is None or miss_now is None or miss_now * 2 > miss_before

    def record(self, trial: Trial) -> None:
        self.trials.append(trial)
        lo, hi, consistent = self.bracket()
        self.widths.append(hi - lo if lo >= self.low and hi <= self.high else None)
        wanted = self.window.target_adu - self.pedestal
        misses = [abs(math.log((m - self.pedestal) / wanted)) for _, m in self.levels(consistent) if m > self.pedestal]
        self.misses.append(min(misses) if misses and wanted > 0 else None)

    def next_brightness(self) -> int:
        lo, hi, consistent = self.bracket()
        low_edge, high_edge = max(lo + 1, self.low), min(hi - 1, self.high)
        response = self.model(consistent)
        guess = response.brightness_for(self._aim()) if response is not None else None
        if guess is None or self._stalled():
            return self._bisect(lo, hi, consistent)
        if guess < low_edge - 0.5:  # below what is known to be too dim: the model is wrong, unless unbounded
            return low_edge if lo < self.low else self._bisect(lo, hi, consistent)
        if response is not None and not self.learned and hi > self.high:
            guess = self._cautious(guess, response, consistent)
        if guess > high_edge + 0.5:
            return high_edge if hi > self.high else self._bisect(lo, hi, consistent)
        return min(max(round(guess), low_edge), high_edge)

    def _cautious(self, guess: float, response: PanelResponse, consistent: Sequence[Trial]) -> float:
        """Limit a step up from one dim trial so that even a steep (gamma) panel is not driven to saturation.

        With one trial and nothing learnt, the model assumes a linear panel; on a gamma panel its step up
        overshoots many times over, and a fully clipped trial says nothing. A capped step lands, at worst,
        bright but measurable, and the two trials then measure the slope.
        """
        levels = self.levels(consistent)
        if any(m > self.window.target_adu for _, m in levels):
            return guess  # the target is bracketed by measured levels: interpolation, no risk
        lit = [(b, m - self.pedestal) for b, m in levels if m - self.pedestal > 0 and b > response.threshold]
        if len(lit) != 1:
            return guess  # two lit trials measure the slope: trust the fit
        b_top, s_top = max(lit)
        safe = SAFE_LEVEL * self.window.max_adu - self.pedestal
        if s_top >= safe:
            return guess
        cap = response.threshold + (b_top - response.threshold) * float((safe / s_top) ** (1.0 / STEEPEST_GAMMA))
        return min(guess, cap)

    def pedestal_estimate(self, response: PanelResponse | None, consistent: Sequence[Trial]) -> float:
        """The pedestal for exposure suggestions: given, or the fitted panel's mean at brightness 0 (where a
        panel is dark), never above the dimmest trial."""
        if self.pedestal_known:
            return self.pedestal
        lowest = min((t.mean for t in consistent), default=0.0)
        estimate = response.mean_at(min(0.0, float(self.low))) if response is not None else 0.0
        return min(max(estimate, 0.0), lowest)
