"""Which panel curves a search weighs before any trial, and how likely each is: the prior of `odds`.

A curve of the family (`response`) is a threshold (where light starts) and a gamma (how it grows).
Panels users own: PWM-dimmed LEDs are dark at 0 and linear; analogue and EL panels follow a gamma curve, or
light up only above a threshold; a few stay lit at their lowest setting (a threshold below zero). With a
shape learnt on this panel earlier (another filter or exposure), most of the odds go to that shape.

The thresholds weighed are dense just below the lowest trial that showed light, where a threshold matters
most (one step there can change the light by tens of percent); each grid point stands for the interval to
its neighbours, so the odds do not depend on how the grid happens to be laid out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sequencer.brightness.response import PanelShape

__all__ = ["GAMMA_RANGE", "GAMMA_STEP", "CurveGrid", "curve_grid"]

Array = npt.NDArray[np.float64]

GAMMA_RANGE = (0.7, 3.0)
"""Curves weighed: from a panel whose light saturates (LED droop) to an EL panel's steep start."""
GAMMAS = 29
"""Gammas on the grid (log-spaced): 5 % apart."""
GAMMA_STEP = (GAMMA_RANGE[1] / GAMMA_RANGE[0]) ** (1.0 / (GAMMAS - 1))
THRESHOLDS = 44
"""Thresholds on the grid below the lowest lit trial (41, evenly spread, when no trial showed light)."""

LINEAR_ODDS, GAMMA_ODDS, THRESHOLD_ODDS, ANY_ODDS = 0.3, 0.25, 0.25, 0.2
"""Prior odds of a panel dark at 0 and linear; dark at 0 with any gamma; linear above a threshold (or lit
at its lowest setting); any threshold and gamma."""
NEAR_LINEAR = 0.06
"""Spread of ln(gamma) of a panel called linear."""
LEARNT_ODDS = 0.8
"""Odds that a shape learnt on this panel still holds (the rest: as if nothing were known)."""
LEARNT_GAMMA_SPREAD = 0.06
"""How far (in ln gamma) a learnt gamma may be off."""


def learnt_threshold_spread(span: float) -> float:
    """How far (in steps) a learnt threshold may be off: a fraction of a step, more on a finer range."""
    return 0.3 + 0.002 * span


@dataclass(frozen=True)
class CurveGrid:
    """The curves weighed (one per element of `threshold`, `gamma`) and their prior odds (`weight`)."""

    threshold: Array
    gamma: Array
    weight: Array
    thresholds: Array
    """The distinct thresholds on the grid, sorted."""


def curve_grid(
    lowest_lit: float | None, brightness_range: tuple[int, int], prior: PanelShape | None, pedestal_known: bool
) -> CurveGrid:
    """The curves to weigh given the lowest brightness that showed light (None if none did yet)."""
    low, high = brightness_range
    span = float(max(high - low, 1))
    # Where light may start: from well below the range (a panel lit at its lowest setting, or an unknown
    # pedestal absorbed into the curve) to half-way up (an EL panel).
    floor = low - (0.25 if pedestal_known else 4.0) * span - 1.0
    ceiling = low + 0.5 * span
    if prior is not None:  # a shape learnt from noisy trials can be wild: keep it among the curves weighed
        prior = PanelShape(prior.threshold, min(max(prior.gamma, GAMMA_RANGE[0]), GAMMA_RANGE[1]))
    thresholds = _thresholds(lowest_lit, floor, ceiling, prior, span)
    gammas = np.unique(np.concatenate([np.geomspace(*GAMMA_RANGE, GAMMAS), [1.0], [prior.gamma] if prior else []]))
    t, g = (a.ravel() for a in np.meshgrid(thresholds, gammas, indexing="ij"))
    return CurveGrid(t, g, _odds(t, g, thresholds, floor, ceiling, prior, span), thresholds)


def _thresholds(lowest_lit: float | None, floor: float, ceiling: float, prior: PanelShape | None, span: float) -> Array:
    if lowest_lit is None:
        grid = np.linspace(floor, ceiling, THRESHOLDS - 3)
    else:
        nearest = 4e-5 * span  # a hundredth of a step on a 0-255 panel: the same fraction of any range
        top = lowest_lit - nearest
        grid = top - np.geomspace(nearest, max(top - floor, 2 * nearest), THRESHOLDS)
        grid = grid[grid >= floor]
    extra = [0.0]
    if prior is not None:
        extra += list(prior.threshold + np.linspace(-3.0, 3.0, 13) * learnt_threshold_spread(span))
    points = np.concatenate([grid, np.asarray(extra, dtype=float)])
    if lowest_lit is not None:
        points = points[points < lowest_lit]
    unique: Array = np.unique(points)
    return unique


def _cell_widths(values: Array, of: Array) -> Array:
    """For each element of `of` (drawn from `values`), the width of its grid cell (to the midpoints)."""
    edges = np.concatenate([[values[0]], 0.5 * (values[1:] + values[:-1]), [values[-1]]])
    index = np.searchsorted(values, of)
    widths: Array = np.diff(edges)[index]
    return widths


def _odds(
    t: Array, g: Array, thresholds: Array, floor: float, ceiling: float, prior: PanelShape | None, span: float
) -> Array:
    inside = (t >= floor) & (t <= ceiling)
    spread_t = np.where(inside, _cell_widths(thresholds, t) / max(ceiling - floor, 1e-9), 0.0)
    at_zero = (t == 0.0).astype(float)
    ln_gammas = np.log(np.unique(g))
    spread_g = _cell_widths(ln_gammas, np.log(g)) / math.log(GAMMA_RANGE[1] / GAMMA_RANGE[0])
    near_one = np.exp(-0.5 * (np.log(g) / NEAR_LINEAR) ** 2)
    near_one /= float(np.exp(-0.5 * (ln_gammas / NEAR_LINEAR) ** 2).sum())
    generic: Array = (
        LINEAR_ODDS * at_zero * near_one
        + GAMMA_ODDS * at_zero * spread_g
        + THRESHOLD_ODDS * spread_t * near_one
        + ANY_ODDS * spread_t * spread_g
    )
    if prior is None:
        return generic
    sigma_t = learnt_threshold_spread(span)
    learnt = np.exp(
        -0.5 * ((t - prior.threshold) / sigma_t) ** 2 - 0.5 * (np.log(g / prior.gamma) / LEARNT_GAMMA_SPREAD) ** 2
    )
    learnt /= max(float(learnt.sum()), 1e-300)
    mixed: Array = (1 - LEARNT_ODDS) * generic / max(float(generic.sum()), 1e-300) + LEARNT_ODDS * learnt
    return mixed
