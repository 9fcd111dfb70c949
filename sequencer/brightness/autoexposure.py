"""N.I.N.A.'s Auto Exposure Flat, reproduced as the baseline the exposure bench and tests compare against.

From its description (DOMAIN.md: fixed brightness, proportional step t × target / measured with a linear fit
check, bisection fallback; it converges on the second frame for a linear camera) and its published behaviour:
the first trial is the middle of [min, max]; after a trial whose raw mean is 10-90 % of full scale the next is
the last exposure scaled by target / measured (the raw mean, pedestal included), clamped to the range; else it
bisects the bracket. Exposures are rounded to 5 decimals. Trials measured at 10-90 % are kept as
(exposure, mean) pairs; from two on, a least-squares line is tested (R² ≥ 0.95), and after three failed tests the
camera counts as non-linear: pure bisection from then on. A trial at either end of the range is the last; at
most 21. It judges the mean alone (no saturation check, no pedestal).
"""

from __future__ import annotations

from sequencer.brightness.exposuretrials import ExposureMeasure, ExposureRange, ExposureResult, ExposureTrial
from sequencer.brightness.trials import Verdict, Window

__all__ = ["nina_exposure_search"]

ITERATIONS = 21
END_TOLERANCE = 1e-5
LINEAR_R_SQUARED = 0.95
LINEARITY_TESTS = 3
PROPORTIONAL_FROM, PROPORTIONAL_TO = 0.1, 0.9


def _r_squared(pairs: list[tuple[float, float]]) -> float:
    n = len(pairs)
    sx = sum(x for x, _ in pairs)
    sy = sum(y for _, y in pairs)
    sxy = sum(x * y for x, y in pairs)
    sxx = sum(x * x for x, _ in pairs)
    denominator = n * sxx - sx * sx
    if denominator == 0:
        return 1.0
    slope = (n * sxy - sx * sy) / denominator
    intercept = (sy - slope * sx) / n
    mean_y = sy / n
    total = sum((y - mean_y) ** 2 for _, y in pairs)
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in pairs)
    return 1.0 - residual / total if total > 0 else 1.0


def nina_exposure_search(measure: ExposureMeasure, window: Window, exposures: ExposureRange) -> ExposureResult:
    """N.I.N.A.'s Auto Exposure Flat over [exposures.low, exposures.high] (its grid and rounding ignored, as
    N.I.N.A. has none): the same call shape and result as `find_exposure`."""
    low, high = exposures.low, exposures.high
    current_min, current_max = low, high
    target = window.target_adu / window.full_scale
    last_exposure, last_fraction = 0.0, 0.0
    linear, tests = True, 0
    pairs: list[tuple[float, float]] = []
    trials: list[ExposureTrial] = []
    iteration = 0
    while iteration < ITERATIONS:
        seconds = round((current_max + current_min) / 2, 5)
        if linear and last_exposure != 0 and PROPORTIONAL_FROM <= last_fraction <= PROPORTIONAL_TO:
            seconds = min(max(round(last_exposure * target / last_fraction, 5), low), high)
        if abs(seconds - low) < END_TOLERANCE or abs(seconds - high) < END_TOLERANCE:
            iteration = ITERATIONS  # a trial at an end of the range is the last
        stats = measure(seconds)
        last_exposure, last_fraction = seconds, stats.mean / window.max_adu
        if PROPORTIONAL_FROM < last_fraction < PROPORTIONAL_TO:
            pairs.append((seconds, stats.mean))
        if linear and len(pairs) >= 2:
            tests += 1
            if _r_squared(pairs) < LINEAR_R_SQUARED and tests >= LINEARITY_TESTS:
                linear = False
        if window.contains(stats.mean):
            trials.append(ExposureTrial(seconds, stats, Verdict.IN_WINDOW))
            return ExposureResult(True, seconds, trials, kept=len(trials) - 1)
        dim = stats.mean < window.low_adu
        trials.append(ExposureTrial(seconds, stats, Verdict.TOO_DIM if dim else Verdict.TOO_BRIGHT))
        if dim:
            current_min = seconds
        else:
            current_max = seconds
        iteration += 1
    if abs(high - current_min) < END_TOLERANCE:
        return ExposureResult(False, None, trials, reason=f"too dim at the maximum exposure {high:g} s")
    return ExposureResult(False, None, trials, reason=f"too bright at the minimum exposure {low:g} s")
