"""The exposure search at a fixed light: which exposure puts a flat's mean inside the window.

The twin of the brightness search (`search`) for a light that cannot be dimmed, or is held at one brightness: a
pure function over `measure(exposure) -> FrameStats`, within the sequence's exposure range and the camera's.
N.I.N.A.'s Auto Exposure Flat (`autoexposure`) starts in the middle of the range and scales the raw mean; ours
reasons from the pedestal the run measured (one bias per camera setting) and the camera's linearity
(`linearity`): the signal above the pedestal is proportional to the exposure, so one measured level gives the
exposure for the window's centre, and the second trial lands. A camera whose low end is not linear (a
shutter's travel time) shows it in the second level; the line through both lands the third, and the lag learnt
carries over to the next set. From the trained table, the first trial lands.

The first trial of a cold search is short: a level is measurable from a fraction of a percent of the target up
to full scale, so a short trial measures almost any light the range can reach, where a long one clips (a frame
clipped all over only says "too much"). Saturated trials never count. A target the range cannot reach ends with
"too dim even at the longest exposure" / "too bright even at the shortest exposure" and what would work.
"""

from __future__ import annotations

import math

from sequencer.brightness.exposuretrials import (
    ExposureMeasure,
    ExposureRange,
    ExposureResult,
    ExposureTrial,
    LightLevel,
)
from sequencer.brightness.linearity import CameraResponse, Level, fit_levels
from sequencer.brightness.state import UNCLIPPED, saturated_level
from sequencer.brightness.suggest import too_bright, too_dim
from sequencer.brightness.trials import MAX_SATURATED_FRACTION, Verdict, Window, classify

__all__ = ["MAX_TRIALS", "cold_start", "find_exposure"]

MAX_TRIALS = 12
LEVEL_MIN = 0.002
"""Below this fraction of the target's signal a trial is dark: what it measures is a rough level at best."""
NO_LIGHT = 1e-4
"""Below this fraction of the target's signal (or `NO_LIGHT_ADU`) a trial shows no light at all: only a bound."""
NO_LIGHT_ADU = 3.0
"""ADU above the pedestal a dark frame may read with no light (the mean against the bias's median, dark signal)."""
FIRST_LEVEL = 0.01
"""A cold first trial is long enough that the dimmest light the range can reach gives this much of the
target's signal (and no longer: brighter lights must not clip)."""
CLIP_HEADROOM = 1.9
"""How far past the target a trial may go before it clips: UNCLIPPED full scale over a mid-scale target."""
CLIPPED_STEP = 30.0
"""After a frame clipped all over, the next trial is this much shorter than the longest exposure that could
still be in the window: measurable for lights up to that much brighter."""
DARK_STEP = 0.5 / LEVEL_MIN
"""After a dark frame, the next trial is this much longer: a light just under the dark bound lands near the
middle of the scale, much dimmer ones still measure."""
UNREACHABLE = 1.5
"""A target a measured level puts this far beyond the range's end fails at once, without a trial there."""
ROUGH_UNREACHABLE = 3.0
"""The same for a rough level (read from a dark or a saturated frame)."""


def cold_start(exposures: ExposureRange) -> float:
    """Where a search with nothing known starts (see the module docstring): the dimmest reachable light gives
    `FIRST_LEVEL` of the target, the brightest does not clip; over a range too wide for both, halfway (in
    log) between the two."""
    low, high = exposures.low, exposures.high
    dimmest_measurable = high * FIRST_LEVEL
    brightest_unclipped = low * CLIP_HEADROOM
    if dimmest_measurable <= brightest_unclipped:
        return exposures.snap(max(low, dimmest_measurable))
    return exposures.snap(math.sqrt(dimmest_measurable * brightest_unclipped))


class _Search:
    """The trials so far, what each says about the signal, and the bracket they set."""

    def __init__(self, window: Window, exposures: ExposureRange, pedestal: float, prior: CameraResponse | None):
        self.window = window
        self.exposures = exposures
        self.pedestal = pedestal
        self.prior = prior
        self.trials: list[ExposureTrial] = []
        self.target = max(window.target_adu - pedestal, 1.0)
        """The signal the window's centre asks for, ADU above the pedestal."""
        self.clip = UNCLIPPED * window.max_adu - pedestal

    def tried(self, seconds: float) -> bool:
        return any(abs(t.exposure - seconds) <= 1e-9 for t in self.trials)

    def signal(self, trial: ExposureTrial) -> float:
        return trial.mean - self.pedestal

    def level(self, trial: ExposureTrial) -> Level | None:
        """The trial's signal, if it measured one (a saturated trial's from its unclipped pixels)."""
        if trial.verdict is Verdict.SATURATED:
            references = [t for t in self.trials if t.verdict is not Verdict.SATURATED]
            mean = saturated_level(trial, references, self.pedestal, self.window.max_adu)
            if mean is None or mean - self.pedestal <= self.clip:
                return None  # every pixel clipped, or too little unclipped to say more than "clipped"
            return Level(trial.exposure, mean - self.pedestal, rough=True)
        signal = self.signal(trial)
        if signal < self.no_light:
            return None
        return Level(trial.exposure, signal, rough=signal < LEVEL_MIN * self.target)

    @property
    def no_light(self) -> float:
        return max(NO_LIGHT * self.target, NO_LIGHT_ADU)

    def is_dark(self, trial: ExposureTrial) -> bool:
        """No light at all: the trial bounds the light, it measures nothing."""
        return trial.verdict is not Verdict.SATURATED and self.signal(trial) < self.no_light

    def rough(self) -> bool:
        """Whether the fitted response rests on rough levels only."""
        return not any((lv := self.level(t)) is not None and not lv.rough for t in self.trials)

    def model(self) -> CameraResponse | None:
        levels = [lv for t in self.trials if (lv := self.level(t)) is not None]
        prior_lag = self.prior.lag if self.prior is not None and self.prior.lag_known else None
        return fit_levels(levels, self.pedestal, self.target, prior_lag)

    def bracket(self) -> tuple[float | None, float | None]:
        """The longest too-dim exposure and the shortest too-bright one tried."""
        dim = [t.exposure for t in self.trials if t.verdict is Verdict.TOO_DIM]
        bright = [t.exposure for t in self.trials if t.verdict in (Verdict.TOO_BRIGHT, Verdict.SATURATED)]
        return (max(dim) if dim else None), (min(bright) if bright else None)

    def needed(self) -> float | None:
        """The exposure the fitted response gives for the window's centre."""
        model = self.model()
        return model.exposure_for(self.window.target_adu) if model is not None else None

    def next_exposure(self) -> float | None:
        """The next trial: where the response puts the target, kept strictly inside the bracket; None when
        every candidate there was tried (the grid is too coarse for the window)."""
        dim, bright = self.bracket()
        wanted = self.needed()
        if wanted is None:
            wanted = self._from_bounds(dim, bright)
        if dim is not None and wanted <= dim:
            wanted = math.sqrt(dim * bright) if bright is not None else dim * 2
        if bright is not None and wanted >= bright:
            wanted = math.sqrt(dim * bright) if dim is not None else bright / 2
        return self._untried(wanted, dim, bright)

    def _from_bounds(self, dim: float | None, bright: float | None) -> float:
        """No level measured yet: up a long way from a dark frame, down a long way from a clipped one."""
        darks = [t.exposure for t in self.trials if self.is_dark(t)]
        if darks and (bright is None or max(darks) * DARK_STEP < bright):
            return max(darks) * DARK_STEP
        if bright is not None:
            longest_in_window = bright * self.window.high_adu / max(self.window.max_adu, 1.0)
            return longest_in_window / CLIPPED_STEP
        return dim * 2 if dim is not None else cold_start(self.exposures)

    def _untried(self, wanted: float, dim: float | None, bright: float | None) -> float | None:
        """`wanted` on the grid, or the grid's other neighbour of it, if untried and inside the bracket."""
        snapped = self.exposures.snap(wanted)
        below, above = self.exposures.neighbours(wanted)
        for candidate in (snapped, above if snapped == below else below, above):
            inside = (dim is None or candidate > dim) and (bright is None or candidate < bright)
            if inside and not self.tried(candidate):
                return candidate
        return None


def find_exposure(
    measure: ExposureMeasure,
    window: Window,
    exposures: ExposureRange,
    *,
    pedestal_adu: float,
    start: float | None = None,
    prior: CameraResponse | None = None,
    light: LightLevel | None = None,
    max_trials: int = MAX_TRIALS,
    max_saturated_fraction: float = MAX_SATURATED_FRACTION,
) -> ExposureResult:
    """Find the exposure (seconds, in `exposures`) whose flat mean lies in `window`, the light held fixed.

    `measure(t)` takes one exposure of t seconds and returns its statistics; the in-window trial is
    `result.flat`, to be kept as flat #1. `pedestal_adu`: the bias level at these camera settings. `start`: the
    first exposure (the trained table's, or the previous set's), else where `prior` puts the target, else
    `cold_start`. `prior`: the camera's response learnt earlier; its lag, once measured, carries over. `light`:
    the panel's brightness and range, for what would work when the target is out of reach (None: a light
    switched by hand).
    """
    search = _Search(window, exposures, float(pedestal_adu), prior)
    if start is None and prior is not None:
        start = prior.exposure_for(window.target_adu)
    seconds: float | None = exposures.snap(start) if start is not None else cold_start(exposures)
    while seconds is not None:
        stats = measure(seconds)
        verdict = classify(stats, window, max_saturated_fraction)
        search.trials.append(ExposureTrial(seconds, stats, verdict))
        if verdict is Verdict.IN_WINDOW:
            return _result(search, ok=True)
        failure = _unreachable(search, light)
        if failure is not None:
            return failure
        if len(search.trials) >= max(1, max_trials):
            return _result(search, ok=False, reason=f"did not converge in {len(search.trials)} trials")
        seconds = search.next_exposure()
    return _gap(search)


def _result(search: _Search, *, ok: bool, reason: str | None = None, **extra: float | None) -> ExposureResult:
    last = search.trials[-1]
    return ExposureResult(
        ok=ok,
        exposure=last.exposure if ok else None,
        trials=list(search.trials),
        reason=reason,
        kept=len(search.trials) - 1 if ok else None,
        response=search.model(),
        pedestal_adu=search.pedestal,
        needed=extra.get("needed"),
        light_factor=extra.get("light_factor"),
    )


def _unreachable(search: _Search, light: LightLevel | None) -> ExposureResult | None:
    """The failure, if the trials so far show that no exposure in the range can reach the window."""
    shortest, longest = search.exposures.shortest, search.exposures.longest
    needed = search.needed()
    trials = search.trials
    at_longest = [t for t in trials if t.exposure >= longest - 1e-9 and t.verdict is Verdict.TOO_DIM]
    darks = [t for t in trials if search.is_dark(t)]
    dark_at_longest = any(search.is_dark(t) for t in at_longest)
    bound_dark = bool(darks) and search.no_light * longest / max(t.exposure for t in darks) < (
        search.window.low_adu - search.pedestal
    )
    margin = ROUGH_UNREACHABLE if search.rough() else UNREACHABLE
    if needed is None and (dark_at_longest or bound_dark):
        bound = search.no_light * longest / max(t.exposure for t in darks)
        reason = too_dim(search.trials, search.window, longest, search.pedestal, None, None, light, bound)
        return _result(search, ok=False, reason=reason)
    if at_longest or (needed is not None and needed > longest * margin):
        factor = needed / longest if needed is not None else None
        reason = too_dim(search.trials, search.window, longest, search.pedestal, needed, factor, light)
        return _result(search, ok=False, reason=reason, needed=needed, light_factor=factor)
    at_shortest = [
        t for t in trials if t.exposure <= shortest + 1e-9 and t.verdict in (Verdict.TOO_BRIGHT, Verdict.SATURATED)
    ]
    if at_shortest or (needed is not None and needed < shortest / margin):
        factor = needed / shortest if needed is not None else None
        cut_bound: float | None = None
        if factor is None and at_shortest:  # clipped all over: only how much too bright it is at least
            cut_bound = (search.window.high_adu - search.pedestal) / max(search.clip, 1.0)
        reason = too_bright(search.trials, search.window, shortest, search.pedestal, needed, factor, cut_bound, light)
        return _result(search, ok=False, reason=reason, needed=needed, light_factor=factor)
    return None


def _gap(search: _Search) -> ExposureResult:
    """Neighbouring exposures of the grid straddle the window: the step is too coarse at this level."""
    dim, bright = search.bracket()
    step = search.exposures.step
    by_exposure = {t.exposure: t for t in search.trials}
    if dim is None or bright is None:
        return _result(search, ok=False, reason=f"did not converge in {len(search.trials)} trials")
    grid = f"the {step:g} s grid" if step is not None else "the exposures the camera takes"
    reason = (
        f"no exposure on {grid} lands in the window {search.window.describe()}: {dim:g} s gives "
        f"{by_exposure[dim].mean:.0f} ADU, {bright:g} s gives {by_exposure[bright].mean:.0f} ADU"
    )
    if step is not None:
        reason += f"; a finer exposure_step (at most {max(dim * 0.1, 1e-6):.2g} s) or a dimmer light"
    return _result(search, ok=False, reason=reason, needed=search.needed())
