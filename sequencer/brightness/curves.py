"""How likely each panel curve is, given what the trials said: for every (threshold, gamma) of the grid
(`prior`), the distribution of the scale ln k, from the measured levels in closed form (a Gaussian in
ln k) truncated by the bounds that clipped and dark trials set, and the curve's weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sequencer.brightness.prior import curve_grid
from sequencer.brightness.response import PanelShape

Array = npt.NDArray[np.float64]

RELATIVE_NOISE = 0.03
"""Trial-to-trial scatter of a measured level (PWM beat, warm-up drift, shot noise of the mean)."""
BOUND_SLACK = 2 * RELATIVE_NOISE
"""How far (in ln signal) a curve may pass on the wrong side of a clipped or dark trial's bound."""
BRIGHTEST = 1000.0
"""The most light, over what the target needs, a panel at full brightness is expected to give (a bright
panel behind a broadband filter at a narrowband exposure)."""


@dataclass(frozen=True)
class Observation:
    """What one trial says about the signal (ADU above the pedestal) at its brightness.

    `kind`: "level" (the signal, with relative uncertainty `sigma`), "at_least" (a clipped frame: the signal
    is at least this) or "dark" (no light: the signal is at most this).
    """

    brightness: float
    kind: str
    signal: float
    sigma: float = RELATIVE_NOISE


@dataclass(frozen=True)
class Targets:
    """Signal levels (ADU above the pedestal) that decide a trial's outcome."""

    low: float
    """The window's lower edge."""
    high: float
    """The window's upper edge."""
    clip: float
    """Above this every pixel clips: a frame that tells only a bound."""
    dark: float
    """Below this a frame shows no light."""
    noise: float
    """Absolute uncertainty of a measured signal (the pedestal's, read noise over the frame)."""


def _normal_cdf_exact(x: Array) -> Array:
    """The standard normal CDF (Abramowitz & Stegun 7.1.26, error below 1e-7): numpy has no erf."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    result: Array = 0.5 * (1.0 + np.sign(x) * erf)
    return result


_CDF_X = np.linspace(-8.0, 8.0, 3201)
_CDF_Y = _normal_cdf_exact(_CDF_X)
_CDF_X.setflags(write=False)
_CDF_Y.setflags(write=False)


def normal_cdf(x: Array) -> Array:
    """The standard normal CDF, interpolated from a table (error below 1e-6; the costs need far less)."""
    result: Array = np.interp(x, _CDF_X, _CDF_Y)
    return result


@dataclass(frozen=True)
class CurveOdds:
    """The curves still in play: their (threshold, gamma), weight, and ln k distribution (a Gaussian of `mean`
    and `sd` truncated to [`lower`, `upper`], holding `mass` of the untruncated one)."""

    t: Array
    g: Array
    weight: Array
    mean: Array
    sd: Array
    lower: Array
    upper: Array
    mass: Array
    thresholds: Array
    """The distinct thresholds of the grid the curves came from."""
    has_levels: bool
    usable: bool


def fit_levels(levels: Sequence[Observation], t: Array, g: Array, noise: float) -> tuple[Array, Array, Array]:
    """Per curve: the weighted mean of ln k over the measured levels, its precision, and the misfit chi²."""
    b = np.array([o.brightness for o in levels])
    y = np.array([o.signal for o in levels])
    sigma2 = np.array([o.sigma**2 for o in levels]) + (noise / y) ** 2
    lit_by = b[None, :] - t[:, None]
    estimates = np.log(y)[None, :] - g[:, None] * np.log(np.maximum(lit_by, 1e-9))
    precision_each = 1.0 / sigma2
    precision = precision_each.sum()
    ln_k = (estimates * precision_each).sum(axis=1) / precision
    chi2 = ((estimates - ln_k[:, None]) ** 2 * precision_each).sum(axis=1)
    chi2 = np.where(np.all(lit_by > 0, axis=1), chi2, np.inf)
    return ln_k, np.full_like(t, precision), chi2


def _light_budget(t: Array, g: Array, targets: Targets, low: int, high: int) -> tuple[Array, Array]:
    """The broad prior on ln k, set by the light budget whatever the curve: at full brightness the panel gives
    from half the target's signal up to `BRIGHTEST` times it, or twice what puts the target on the lowest step
    that gives light, if that is less (beyond it the target is out of reach anyway)."""
    target = math.sqrt(targets.low * targets.high)
    full_lit = np.log(np.maximum(high - t, 1e-3))
    first_lit = np.maximum(np.floor(t) + 1.0, max(low, 1)) - t
    brightest = np.minimum(math.log(BRIGHTEST), math.log(2.0) + g * (full_lit - np.log(first_lit)))
    k_low = math.log(0.5 * target) - g * full_lit
    k_high = np.maximum(math.log(target) + brightest - g * full_lit, k_low + 1.0)
    return k_low, k_high


def _bounds(
    bounds_low: Sequence[Observation], darks: Sequence[Observation], t: Array, g: Array, weight: Array
) -> tuple[Array, Array, Array]:
    """ln k at least (clipped frames: curves that give no light there are out) and at most (dark frames)."""
    at_least, at_most = np.full_like(t, -np.inf), np.full_like(t, np.inf)
    for o in bounds_low:
        lit_by = o.brightness - t
        weight = np.where(lit_by > 0, weight, 0.0)
        at_least = np.maximum(at_least, math.log(o.signal) - g * np.log(np.maximum(lit_by, 1e-9)))
    for o in darks:
        lit_by = o.brightness - t
        bound = math.log(max(o.signal, 1e-9)) - g * np.log(np.maximum(lit_by, 1e-9))
        at_most = np.where(lit_by > 0, np.minimum(at_most, bound), at_most)
    return at_least, at_most, weight


def _from_levels(
    levels: Sequence[Observation], t: Array, g: Array, noise: float, weight: Array, prior_width: Array
) -> tuple[Array, Array, Array, float]:
    """ln k's mean and spread per curve from the measured levels, the weights they give, and how much the
    scatter exceeds the assumed noise."""
    ln_k, precision, chi2 = fit_levels(levels, t, g, noise)
    weight = np.where(np.isfinite(chi2), weight, 0.0)
    chi2 = np.where(np.isfinite(chi2), chi2, 0.0)
    # Scatter beyond the assumed noise (a noisy panel, or a panel off the family) widens every curve's
    # ln k instead of singling out whichever happens to thread the points.
    best = float(chi2[weight > 0].min()) if np.any(weight > 0) else 0.0
    # (Three levels or fewer are threaded exactly by some curve of the family: what is left is the grid.)
    inflate = max(1.0, best / (len(levels) - 3)) if len(levels) > 3 else 1.0
    sd = np.sqrt(inflate / precision)
    weight = weight * np.exp(-0.5 * (chi2 - best) / inflate) / prior_width
    return ln_k, sd, weight, inflate


def weigh_curves(
    observations: Sequence[Observation],
    targets: Targets,
    brightness_range: tuple[int, int],
    prior: PanelShape | None,
    pedestal_known: bool,
) -> CurveOdds:
    """The odds over every curve of the grid given the observations (see the module docstring)."""
    low, high = brightness_range
    levels = [o for o in observations if o.kind == "level" and o.signal > 0]
    bounds_low = [o for o in observations if o.kind == "at_least" and o.signal > 0]
    darks = [o for o in observations if o.kind == "dark"]
    lit = [o.brightness for o in levels + bounds_low]
    grid = curve_grid(min(lit) if lit else None, brightness_range, prior, pedestal_known)
    t, g = grid.threshold, grid.gamma
    k_low, k_high = _light_budget(t, g, targets, low, high)
    prior_width = k_high - k_low
    at_least, at_most, weight = _bounds(bounds_low, darks, t, g, grid.weight)
    inflate = 1.0
    if levels:
        mean, sd, weight, inflate = _from_levels(levels, t, g, targets.noise, weight, prior_width)
    # The bounds are as certain as the levels are (a curve of the family only approximates a panel, and
    # a noisy level pulls it): a little slack, so that noise cannot squeeze a curve into a corner.
    slack = BOUND_SLACK * math.sqrt(inflate)
    if levels:
        # Measured levels outweigh the light-budget prior: a panel brighter than it allows is unlikely,
        # not impossible (a decade beyond costs a factor e^-0.5).
        beyond = np.maximum(np.maximum(mean - k_high, k_low - mean), 0.0) / math.log(10.0)
        weight = weight * np.exp(-0.5 * beyond**2)
        lower, upper = at_least - slack, at_most + slack
    else:
        lower, upper = np.maximum(k_low, at_least - slack), np.minimum(k_high, at_most + slack)
        sd = np.full_like(t, 1e3)  # no level: ln k spread evenly between its bounds
        mean = 0.5 * (lower + upper)
        weight = weight * np.clip(upper - lower, 0.0, None) / prior_width
    mass = normal_cdf((upper - mean) / sd) - normal_cdf((lower - mean) / sd)
    weight = np.where((upper > lower) & (mass > 1e-12), weight * mass, 0.0)
    total = float(weight.sum())
    keep = weight > 1e-4 * float(weight.max()) if total > 0 else weight > 0
    return CurveOdds(
        t=t[keep],
        g=g[keep],
        weight=weight[keep] / (total if total > 0 else 1.0),
        mean=mean[keep],
        sd=sd[keep],
        lower=lower[keep],
        upper=upper[keep],
        mass=mass[keep],
        thresholds=grid.thresholds,
        has_levels=bool(levels),
        usable=total > 0 and bool(np.any(keep)),
    )
