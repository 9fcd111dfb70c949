"""The brightness search at a fixed exposure: which panel brightness puts a flat's mean inside the window.

A pure function over `measure(brightness) -> FrameStats` (the caller sets the panel, takes one exposure and
measures it), so it is tested without devices and benchmarked against N.I.N.A.'s method (`bisection`).

N.I.N.A.'s Auto Brightness Flat bisects the integer range and ignores what each trial's mean says about the
panel. Ours weighs every curve a panel may follow (linear, gamma, lit above a threshold: `prior`) by
how well it explains the trials, clipped and dark ones included, and takes as the next trial the brightness
expected to end the search soonest (`odds`): one that lands if the curves agree there, else one that
measures a level whatever the curve, within a budget of four trials. Cold, a linear panel needs about two
trials, a gamma or threshold panel about three; with the curve learnt on an earlier set (`prior`), one or
two. Saturated trials never count as in the window, and unreachable targets come back with the reason and
the exposure that would reach them.
"""

from __future__ import annotations

import math

from sequencer.brightness.bisection import bisection_search
from sequencer.brightness.response import PanelResponse, PanelShape
from sequencer.brightness.state import SearchState, initial_brightness, saturated_level
from sequencer.brightness.trials import (
    MAX_SATURATED_FRACTION,
    Measure,
    SearchResult,
    Trial,
    Verdict,
    Window,
    check_range,
    classify,
    is_saturated,
)

__all__ = [
    "MAX_SATURATED_FRACTION",
    "Measure",
    "SearchResult",
    "Trial",
    "Verdict",
    "Window",
    "bisection_search",
    "find_brightness",
    "initial_brightness",
    "is_saturated",
]


def _failure(search: SearchState, exposure: float) -> tuple[str, float | None] | None:
    """Why the target cannot be reached and the exposure that would reach it, or None to go on searching."""
    lo, hi, consistent = search.bracket()
    window = search.window
    response = None if search.pedestal_known else search.model(consistent)
    pedestal = search.pedestal_estimate(response, consistent)
    by_brightness = {t.brightness: t for t in consistent}

    def exposure_for(level: float) -> float | None:
        signal, wanted = level - pedestal, window.target_adu - pedestal
        return exposure * wanted / signal if signal > 0 and wanted > 0 else None

    def too_bright(trial: Trial, where: str) -> tuple[str, float | None]:
        if trial.verdict is not Verdict.SATURATED:
            return f"too bright {where} (mean {trial.mean:.0f} ADU > {window.high_adu:.0f})", exposure_for(trial.mean)
        level = saturated_level(trial, [t for t in consistent if t is not trial], pedestal, window.max_adu)
        if level is not None:
            return f"too bright {where} (saturated, about {level:.0f} ADU)", exposure_for(level)
        # Every pixel clipped: only a bound is known. A shorter exposure than needed is the safe side (the
        # search then has brightness to spare), so suggest a quarter of the bound.
        bound = exposure_for(trial.mean)
        clipped = f"{trial.stats.saturated_fraction:.1%} of pixels clipped"
        if bound is None:
            return f"too bright {where} (saturated: {clipped})", None
        return f"too bright {where} (saturated: {clipped}; the exposure must be well under {bound:.3g} s)", bound / 4

    if hi == search.low:
        return too_bright(by_brightness[hi], f"at the minimum brightness {hi}")
    if lo == search.high:
        trial = by_brightness[lo]
        suggestion = exposure_for(trial.mean)
        text = f"too dim at the maximum brightness {lo} (mean {trial.mean:.0f} ADU < {window.low_adu:.0f})"
        if suggestion is None:
            text += "; no light above the pedestal: is the panel on and the cover closed?"
        return text, suggestion
    if hi - lo == 1 and lo >= search.low and hi <= search.high:
        dim, bright = by_brightness[lo], by_brightness[hi]
        if search.is_dark(dim):
            return too_bright(bright, f"at the minimum brightness {hi} (the lowest that gives light: {lo} is dark)")
        return _gap_failure(search, dim, bright, pedestal, exposure)
    return None


def _gap_failure(
    search: SearchState, dim: Trial, bright: Trial, pedestal: float, exposure: float
) -> tuple[str, float | None]:
    """Adjacent brightness steps straddle the window: the panel is too coarse at this level.

    A longer exposure would need a lower brightness, where steps are coarser still; a shorter one moves the
    target up the range, where one step changes the light by less. Suggest the exposure that puts the
    target where a step is about a fifth of the window.
    """
    window = search.window
    reason = (
        f"no brightness step lands in the window {window.describe()}: brightness {dim.brightness} gives "
        f"{dim.mean:.0f} ADU, {bright.brightness} gives {bright.mean:.0f} ADU"
    )
    dim_signal, bright_signal = dim.mean - pedestal, bright.mean - pedestal
    if dim_signal <= 0 or bright_signal <= dim_signal or dim.brightness <= 0:
        return reason, None
    gamma = math.log(bright_signal / dim_signal) / math.log(bright.brightness / dim.brightness)
    relative_window = (window.high_adu - window.low_adu) / max(window.target_adu - pedestal, 1.0)
    wanted = min(float(search.high), max(float(bright.brightness), 5.0 * gamma / max(relative_window, 1e-3)))
    signal_there = dim_signal * (wanted / dim.brightness) ** gamma
    return f"{reason}: the panel's steps are too coarse here", exposure * (window.target_adu - pedestal) / signal_there


def find_brightness(
    measure: Measure,
    window: Window,
    brightness_range: tuple[int, int],
    *,
    exposure: float,
    start: int | None = None,
    pedestal_adu: float | None = None,
    max_trials: int = 12,
    prior: PanelResponse | PanelShape | None = None,
    max_saturated_fraction: float = MAX_SATURATED_FRACTION,
) -> SearchResult:
    """Find the integer brightness whose flat mean lies in `window`, at a fixed `exposure` (seconds).

    `measure(b)` takes one exposure at brightness b and returns its statistics; the in-window trial is
    `result.flat`, to be kept as flat #1. `start`: the first brightness (the trained table's), else
    `initial_brightness`. `pedestal_adu`: the mean of a dark frame at this exposure (offset + dark signal);
    without it the model absorbs the pedestal and exposure suggestions use its estimate (the model's mean at
    brightness 0). `prior`: the panel learnt earlier, as a shape (threshold, gamma) or as an earlier set's
    `result.response` rescaled to this set's light (which also gives the start); a response whose curve
    rests on fewer than two measured levels gives its scale but not its curve. `result.response` is the
    likeliest curve through this search's trials, with the levels it rests on.
    """
    low, high = check_range(brightness_range, max_trials)
    search = SearchState(window, low, high, pedestal_adu, prior)
    if start is None:
        start = initial_brightness(window, (low, high), prior=prior, pedestal_adu=pedestal_adu)
    brightness = min(max(int(start), low), high)
    while True:
        stats = measure(brightness)
        verdict = classify(stats, window, max_saturated_fraction)
        search.record(Trial(brightness, stats, verdict))
        if verdict is Verdict.IN_WINDOW:
            return _result(search, ok=True)
        failure = _failure(search, exposure)
        if failure is not None:
            return _result(search, ok=False, reason=failure[0], suggested_exposure=failure[1])
        if len(search.trials) >= max_trials:
            return _result(search, ok=False, reason=f"did not converge in {max_trials} trials")
        brightness = search.next_brightness()


def _result(
    search: SearchState, *, ok: bool, reason: str | None = None, suggested_exposure: float | None = None
) -> SearchResult:
    _, _, consistent = search.bracket()
    response = search.model(consistent)
    last = search.trials[-1]
    return SearchResult(
        ok=ok,
        brightness=last.brightness if ok else None,
        trials=list(search.trials),
        reason=reason,
        suggested_exposure=suggested_exposure,
        kept=len(search.trials) - 1 if ok else None,
        response=response,
        pedestal_adu=search.pedestal_estimate(response, consistent),
    )
