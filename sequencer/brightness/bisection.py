"""N.I.N.A.'s Auto Brightness Flat search, reproduced as the baseline the bench and tests compare against."""

from __future__ import annotations

from sequencer.brightness.response import PanelResponse, PanelShape
from sequencer.brightness.trials import (
    MAX_SATURATED_FRACTION,
    Measure,
    SearchResult,
    Trial,
    Verdict,
    Window,
    check_range,
)

__all__ = ["bisection_search"]


def bisection_search(
    measure: Measure,
    window: Window,
    brightness_range: tuple[int, int],
    *,
    exposure: float,
    start: int | None = None,
    pedestal_adu: float | None = None,
    max_trials: int = 21,
    prior: PanelResponse | PanelShape | None = None,
    max_saturated_fraction: float = MAX_SATURATED_FRACTION,
) -> SearchResult:
    """N.I.N.A.'s Auto Brightness Flat, the baseline: bisection of the integer range on the raw mean.

    Each trial sets round((min + max) / 2) (round half to even, as .NET's Math.Round), moves min up when too
    dim and max down when too bright, and stops at the first trial in the window, after a trial at either end
    of the range, or after 21 trials. Like N.I.N.A. it ignores `start`, the pedestal and saturation (a
    saturated frame is just "too bright" by its mean); the arguments are accepted so both searches can be
    called alike. Also like N.I.N.A., a target beyond the top of 0-255 never reaches 255: round(254.5) is
    254, so the search repeats 254 until its 21 trials are spent.
    """
    del start, pedestal_adu, prior, max_saturated_fraction
    low, high = check_range(brightness_range, max_trials)
    current_min, current_max = low, high
    trials: list[Trial] = []
    for _ in range(max_trials):
        brightness = round((current_max + current_min) / 2)
        stats = measure(brightness)
        if window.contains(stats.mean):
            trials.append(Trial(brightness, stats, Verdict.IN_WINDOW))
            return SearchResult(True, brightness, trials, kept=len(trials) - 1)
        dim = stats.mean < window.low_adu
        trials.append(Trial(brightness, stats, Verdict.TOO_DIM if dim else Verdict.TOO_BRIGHT))
        if dim:
            current_min = brightness
        else:
            current_max = brightness
        if brightness in (low, high):
            break
    if current_min == high:
        return SearchResult(False, None, trials, reason=f"too dim at the maximum brightness {high}")
    if current_max == low:
        return SearchResult(False, None, trials, reason=f"too bright at the minimum brightness {low}")
    return SearchResult(False, None, trials, reason=f"did not converge in {len(trials)} trials")
