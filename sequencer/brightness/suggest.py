"""What an exposure search says when the range cannot reach the window: what it saw, and what would work.

"too dim even at the longest exposure 30 s" / "too bright even at the shortest exposure 0.1 s", then the
measurement, then the remedies a user has at the telescope: a longer (or shorter) exposure bound, another
brightness on a dimmable panel (its PWM is linear, so the brightness scales with the light needed), a
brighter light, or a neutral-density filter of a standard strength.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sequencer.brightness.exposuretrials import ExposureTrial, LightLevel
from sequencer.brightness.trials import Verdict, Window

__all__ = ["nd_filter", "round_up", "seconds", "too_bright", "too_dim"]

ND_FILTERS = ((2, "0.3"), (4, "0.6"), (8, "0.9"), (16, "1.2"), (32, "1.5"), (64, "1.8"), (100, "2.0"), (1000, "3.0"))
"""Neutral-density filters as sold: the factor the light is divided by, and the optical density."""
ND_MARGIN = 1.2
"""A suggested filter cuts the light this much more than needed, so the exposure is not at the range's end."""
MAX_EXPOSURE_SHOWN = 3600.0


def nd_filter(factor: float) -> str:
    """The weakest standard ND filter that divides the light by `factor` with a margin: "ND8 (density 0.9)"."""
    for strength, density in ND_FILTERS:
        if strength >= factor * ND_MARGIN:
            return f"ND{strength}, density {density}"
    return f"density {math.log10(factor * ND_MARGIN):.1f}"


def seconds(value: float) -> str:
    """Seconds as a message shows them: 0.0562, 2.35, 46, 1200 (never 1e+03)."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def round_up(value: float, digits: int = 2) -> float:
    """`value` rounded up to `digits` significant digits: a bound to suggest (66.01 s → 67 s)."""
    if value <= 0:
        return value
    scale = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return float(math.ceil(value / scale - 1e-9) * scale)


def _at(trials: Sequence[ExposureTrial], seconds: float) -> ExposureTrial | None:
    matches = [t for t in trials if abs(t.exposure - seconds) <= 1e-9]
    return matches[-1] if matches else None


def too_dim(
    trials: Sequence[ExposureTrial],
    window: Window,
    longest: float,
    pedestal: float,
    needed: float | None,
    factor: float | None,
    light: LightLevel | None,
    dark_bound: float | None = None,
) -> str:
    """The reason for a target the longest exposure cannot reach (`factor`: light needed over light there;
    `dark_bound`: with no light seen, the most signal the longest exposure could give)."""
    text = f"too dim even at the longest exposure {longest:g} s"
    there = _at(trials, longest)
    if there is not None:
        text += f" (mean {there.mean:.0f} ADU < {window.low_adu:.0f})"
    elif needed is not None:
        text += f" (it would take about {seconds(needed)} s)"
    if factor is None:
        lit = max(trials, key=lambda t: t.exposure)
        where = "the cover closed" if light is not None else "the telescope uncapped"
        text += (
            f": no light above the pedestal at {lit.exposure:g} s (mean {lit.mean:.0f} ADU, pedestal {pedestal:.0f} ADU"
        )
        if dark_bound is not None and lit.exposure < longest:
            text += f"; {longest:g} s would give at most {dark_bound:.0f} ADU of light"
        return text + f"); is the light on and {where}?"
    remedies = []
    if needed is not None and needed <= MAX_EXPOSURE_SHOWN:
        remedies.append(f"a max_exposure of about {round_up(needed * 1.1):g} s")
    if light is not None and light.dimmable and light.brightness < light.high:
        wanted = light.brightness * factor * 1.1
        if wanted <= light.high:
            remedies.append(f"a brightness of about {math.ceil(wanted)} (of {light.high})")
        else:
            remedies.append(f"a light about {factor:.2g}x as bright (even brightness {light.high} is not enough)")
    else:
        remedies.append(f"a light about {factor:.2g}x as bright")
    return text + "; what would work: " + ", or ".join(remedies)


def too_bright(
    trials: Sequence[ExposureTrial],
    window: Window,
    shortest: float,
    pedestal: float,
    needed: float | None,
    factor: float | None,
    bound: float | None,
    light: LightLevel | None,
) -> str:
    """The reason for a target the shortest exposure overshoots (`factor`: light wanted over light there,
    below 1; `bound`: at most this, when every pixel clipped)."""
    text = f"too bright even at the shortest exposure {shortest:g} s"
    there = _at(trials, shortest)
    if there is not None and there.verdict is Verdict.SATURATED:
        text += f" (saturated: {there.stats.saturated_fraction:.1%} of pixels clipped)"
    elif there is not None:
        text += f" (mean {there.mean:.0f} ADU > {window.high_adu:.0f})"
    elif needed is not None:
        text += f" (it would take about {seconds(needed)} s)"
    cut = 1.0 / factor if factor is not None else (1.0 / bound if bound is not None else None)
    if cut is None:
        return text
    at_least = "at least " if factor is None else ""
    remedies = [f"an ND filter cutting the light {at_least}{cut:.2g}x ({nd_filter(cut)})"]
    if light is not None and light.dimmable and light.brightness > light.low:
        wanted = light.brightness / (cut * ND_MARGIN)
        if wanted >= max(light.low, 1):
            remedies.append(f"a brightness of {'at most' if factor is None else 'about'} {math.floor(wanted)}")
    if needed is not None and needed > 0:
        remedies.append(f"a min_exposure of about {seconds(needed / 1.1)} s, if the camera and the light allow it")
    return text + "; what would work: " + ", or ".join(remedies)
