"""Odds over panel curves given the trials so far, and the next trial that is expected to cost the fewest.

A search rarely has enough trials to fit a panel: one measured level says nothing of the curve, two leave
a threshold traded against a gamma. Instead of betting on one fitted curve, weigh every curve of the family
(`panel_response`: mean = pedestal + k·(b − threshold)^gamma) by how likely it was a priori and how well it
explains the trials, and judge each candidate brightness by what would happen there under all of them:

- in the window: the search ends;
- a level it measures (too dim, or too bright with unclipped pixels left): about one more trial to go;
- a frame clipped all over, or no light at all: only a bound, about two more trials;
- beyond the end of the range: the search ends with the exposure to use instead.

The next trial is the brightness whose expected remaining cost is least. That one rule covers what used to
be special cases: a linear panel lands on the second trial (most curves agree with one measured level
nearby), a cautious step up on an unknown panel (a steep curve would clip everything), a threshold panel
near its threshold (only a brightness that most curves put in the window), the way down after a frame
clipped all over (low enough to measure whatever the curve, not so low a threshold panel stays dark).

Odds are kept on a grid of (threshold, gamma) (`panel_prior`); for each, the scale k follows from the measured
levels in closed form (a Gaussian in ln k, truncated by the bounds clipped and dark trials set).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sequencer.brightness.prior import GAMMA_STEP, curve_grid
from sequencer.brightness.response import PanelResponse, PanelShape

__all__ = ["Observation", "PanelOdds", "Targets"]

Array = npt.NDArray[np.float64]

RELATIVE_NOISE = 0.03
"""Trial-to-trial scatter of a measured level (PWM beat, warm-up drift, shot noise of the mean)."""
BOUND_SLACK = 2 * RELATIVE_NOISE
"""How far (in ln signal) a curve may pass on the wrong side of a clipped or dark trial's bound."""
BRIGHTEST = 1000.0
"""The most light, over what the target needs, a panel at full brightness is expected to give (a bright
panel behind a broadband filter at a narrowband exposure)."""
LATER_TRIALS = 2.0
"""Further trials after a measured miss whose next trial misses too: two levels then pin the curve."""
BLIND_TRIALS = 2.6
"""Further trials after a miss that gives only a bound (every pixel clipped, or no light): one to measure,
one to land, often a third since the curve is still unknown."""
BUDGET = 4
"""Trials a search should not exceed: a plan's odds of going over are weighed (`OVER_BUDGET` trials' worth),
so the search hedges where a bolder step would save a trial on average but cost two when wrong, and once
over, simply goes for the fewest."""
OVER_BUDGET = 3.0
COARSE_CANDIDATES = 80
"""Ranges up to this many steps are judged step by step; wider ones on a grid, then step by step near the best."""
MISS_STEPS = (0.1, 0.25, 0.5, 0.8, 1.2, 1.8, 2.6)
"""Bins of a missed level, in ln(signal) from the window's edge."""


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


def _phi_exact(x: Array) -> Array:
    """The standard normal CDF (Abramowitz & Stegun 7.1.26, error below 1e-7): numpy has no erf."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    result: Array = 0.5 * (1.0 + np.sign(x) * erf)
    return result


_PHI_X = np.linspace(-8.0, 8.0, 3201)
_PHI_Y = _phi_exact(_PHI_X)
_PHI_X.setflags(write=False)
_PHI_Y.setflags(write=False)


def _phi(x: Array) -> Array:
    """The standard normal CDF, interpolated from a table (error below 1e-6; the costs need far less)."""
    result: Array = np.interp(x, _PHI_X, _PHI_Y)
    return result


class PanelOdds:
    """The odds over (threshold, gamma), each with the distribution of ln k the trials leave it."""

    def __init__(
        self,
        observations: Sequence[Observation],
        targets: Targets,
        brightness_range: tuple[int, int],
        *,
        prior: PanelShape | None = None,
        pedestal_known: bool = True,
        trials: int = 0,
    ) -> None:
        self.targets = targets
        self.trials = trials
        low, high = brightness_range
        self.low, self.high = low, high
        levels = [o for o in observations if o.kind == "level" and o.signal > 0]
        bounds_low = [o for o in observations if o.kind == "at_least" and o.signal > 0]
        darks = [o for o in observations if o.kind == "dark"]
        lit = [o.brightness for o in levels + bounds_low]
        grid = curve_grid(min(lit) if lit else None, brightness_range, prior, pedestal_known)
        self._observations, self._thresholds_grid = list(observations), grid.thresholds
        t, g, weight = grid.threshold, grid.gamma, grid.weight

        # ln k for each curve: measured levels give a Gaussian, clipped frames a lower bound, dark ones an upper
        # bound. A broad prior closes it, set by the light budget whatever the curve: at full brightness the
        # panel gives from half the target's signal up to `BRIGHTEST` times it, or twice what puts the target
        # on the lowest step that gives light, if that is less (beyond it the target is out of reach anyway).
        target = math.sqrt(targets.low * targets.high)
        full_lit = np.log(np.maximum(high - t, 1e-3))
        first_lit = np.maximum(np.floor(t) + 1.0, max(low, 1)) - t
        brightest = np.minimum(math.log(BRIGHTEST), math.log(2.0) + g * (full_lit - np.log(first_lit)))
        k_low = math.log(0.5 * target) - g * full_lit
        k_high = np.maximum(math.log(target) + brightest - g * full_lit, k_low + 1.0)
        prior_width = k_high - k_low
        at_least, at_most = np.full_like(t, -np.inf), np.full_like(t, np.inf)
        for o in bounds_low:
            lit_by = o.brightness - t
            weight = np.where(lit_by > 0, weight, 0.0)
            at_least = np.maximum(at_least, math.log(o.signal) - g * np.log(np.maximum(lit_by, 1e-9)))
        for o in darks:
            lit_by = o.brightness - t
            bound = math.log(max(o.signal, 1e-9)) - g * np.log(np.maximum(lit_by, 1e-9))
            at_most = np.where(lit_by > 0, np.minimum(at_most, bound), at_most)
        self.has_levels = bool(levels)
        inflate = 1.0
        if levels:
            ln_k, precision, chi2 = self._levels(levels, t, g, targets.noise)
            weight = np.where(np.isfinite(chi2), weight, 0.0)
            chi2 = np.where(np.isfinite(chi2), chi2, 0.0)
            # Scatter beyond the assumed noise (a noisy panel, or a panel off the family) widens every curve's
            # ln k instead of singling out whichever happens to thread the points.
            best = float(chi2[weight > 0].min()) if np.any(weight > 0) else 0.0
            # (Three levels or fewer are threaded exactly by some curve of the family: what is left is the grid.)
            inflate = max(1.0, best / (len(levels) - 3)) if len(levels) > 3 else 1.0
            sd = np.sqrt(inflate / precision)
            mean = ln_k
            weight = weight * np.exp(-0.5 * (chi2 - best) / inflate) / prior_width
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
        if not levels:
            sd = np.full_like(t, 1e3)  # no level: ln k spread evenly between its bounds
            mean = 0.5 * (lower + upper)
            weight = weight * np.clip(upper - lower, 0.0, None) / prior_width
        mass = _phi((upper - mean) / sd) - _phi((lower - mean) / sd)
        weight = np.where((upper > lower) & (mass > 1e-12), weight * mass, 0.0)
        total = float(weight.sum())
        keep = weight > 1e-4 * float(weight.max()) if total > 0 else weight > 0
        self.usable = total > 0 and bool(np.any(keep))
        self.t, self.g, self.weight = t[keep], g[keep], weight[keep] / (total if total > 0 else 1.0)
        self.mean, self.sd = mean[keep], sd[keep]
        self.lower, self.upper, self.mass = lower[keep], upper[keep], mass[keep]
        self.below = _phi((self.lower - self.mean) / self.sd)

    def likeliest(self, pedestal: float) -> PanelResponse | None:
        """The single likeliest curve, scaled through the measured levels; None without a measured level."""
        if not self.usable or not self.has_levels:
            return None
        # The curve to keep is one that puts the target where the odds, all curves together, put it (their
        # weighted median): the single likeliest grid curve can be a point-mass prior (dark at 0) that all the
        # curves near a threshold outweigh together.
        ln_target = 0.5 * (math.log(self.targets.low) + math.log(self.targets.high))
        at = self.t + np.exp((ln_target - self.mean) / self.g)
        order = np.argsort(at)
        median = float(at[order][np.searchsorted(np.cumsum(self.weight[order]), 0.5 * float(self.weight.sum()))])
        near = np.abs(np.log(np.maximum(at, 1e-9) / max(median, 1e-9))) <= 0.02
        best = int(np.argmax(np.where(near, self.weight, -1.0)))
        t0, g0 = float(self.t[best]), float(self.g[best])
        # Refine between the grid's neighbours: the curve that threads the levels best, within the bounds.
        lowest = min(o.brightness for o in self._observations if o.kind in ("level", "at_least"))
        measured = len({o.brightness for o in self._observations if o.kind == "level"})
        if measured < 2:
            return PanelResponse(pedestal, math.exp(float(self.mean[best])), t0, g0)
        if measured == 2 or (t0 == 0.0 and self._thresholds_grid[0] < 0.0 < lowest):
            ts = np.array([t0])  # two levels leave the threshold to the odds; dark at 0 has odds of its own
        else:
            i = int(np.searchsorted(self._thresholds_grid, t0))
            neighbours = self._thresholds_grid[max(i - 1, 0) : i + 2]
            ts = np.linspace(float(neighbours.min()), min(float(neighbours.max()), lowest - 1e-3), 15)
        gs = np.geomspace(g0 / GAMMA_STEP, g0 * GAMMA_STEP, 15)
        t, g = (a.ravel() for a in np.meshgrid(ts, gs, indexing="ij"))
        levels = [o for o in self._observations if o.kind == "level" and o.signal > 0]
        ln_k, _, chi2 = self._levels(levels, t, g, self.targets.noise)
        for o in self._observations:
            lit_by = o.brightness - t
            if o.kind == "at_least":
                lit_k = ln_k + g * np.log(np.maximum(lit_by, 1e-9))
                chi2 = np.where((lit_by > 0) & (lit_k >= math.log(o.signal) - 0.05), chi2, np.inf)
            elif o.kind == "dark":
                lit_k = ln_k + g * np.log(np.maximum(lit_by, 1e-9))
                chi2 = np.where((lit_by <= 0) | (lit_k <= math.log(max(o.signal, 1e-9)) + 0.05), chi2, np.inf)
        # Among equal fits (noise-free levels), the one nearest the grid's likeliest.
        chi2 = chi2 + 1e-9 * (np.log(g / g0) ** 2 + ((t - t0) / max(abs(lowest), 1.0)) ** 2)
        pick = int(np.argmin(chi2))
        if not np.isfinite(chi2[pick]):
            return PanelResponse(pedestal, math.exp(float(self.mean[best])), t0, g0)
        return PanelResponse(pedestal, math.exp(float(ln_k[pick])), float(t[pick]), float(g[pick]))

    # -- building the odds ---------------------------------------------------------------------------------
    @staticmethod
    def _levels(levels: Sequence[Observation], t: Array, g: Array, noise: float) -> tuple[Array, Array, Array]:
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

    # -- judging candidates --------------------------------------------------------------------------------
    def _cdf(self, ln_k: Array) -> Array:
        """P(ln k <= x) per curve (rows) at x (columns)."""
        z = (ln_k - self.mean[:, None]) / self.sd[:, None]
        cdf = (_phi(z) - self.below[:, None]) / self.mass[:, None]
        return np.clip(cdf, 0.0, 1.0)

    def _bins(self) -> tuple[Array, list[str]]:
        """Signal bins (ln edges, from dark to clipped) and the outcome each bin is."""
        tg = self.targets
        ln_dark, ln_low, ln_high = math.log(tg.dark), math.log(tg.low), math.log(tg.high)
        ln_clip = math.log(max(tg.clip, tg.high * 1.01))
        dim = sorted(e for e in (ln_low - d for d in MISS_STEPS) if e > ln_dark)
        bright = [e for e in (ln_high + d for d in MISS_STEPS) if e < ln_clip]
        edges = np.array([ln_dark, *dim, ln_low, ln_high, *bright, ln_clip])
        kinds = ["dark"] + ["dim"] * (len(dim) + 1) + ["hit"] + ["bright"] * (len(bright) + 1) + ["clipped"]
        return edges, kinds

    def _per_curve(self, brightness: Array, edges: Array) -> Array:
        """P(outcome bin | curve, brightness): shape (curves, candidates, bins)."""
        lit_by = brightness[None, :] - self.t[:, None]
        lit = lit_by > 0
        shift = self.g[:, None] * np.log(np.where(lit, lit_by, 1.0))
        cdf = np.stack([self._cdf(edge - shift) for edge in edges], axis=2)
        cdf = np.where(lit[:, :, None], cdf, 1.0)  # unlit: all mass in the dark bin
        ones = np.ones((*cdf.shape[:2], 1))
        return np.diff(np.concatenate([0.0 * ones, cdf, ones], axis=2), axis=2)

    def outcomes(self, brightness: Sequence[int]) -> dict[str, Array]:
        """The odds of each outcome ("hit", "dim", "bright", "clipped", "dark") at each candidate brightness."""
        edges, kinds = self._bins()
        per_bin = np.einsum("s,scj->cj", self.weight, self._per_curve(np.asarray(brightness, dtype=float), edges))
        result = {name: np.zeros(len(brightness)) for name in ("hit", "dim", "bright", "clipped", "dark")}
        for j, kind in enumerate(kinds):
            result[kind] += per_bin[:, j]
        return result

    def _next_hit(self, brightness: float, ln_levels: Array, weight: Array) -> Array:
        """After a level in each of several bins at `brightness`: the best odds that one more trial lands.

        `ln_levels`, `weight`: (curves, bins), the level each curve would give in that bin and its odds of
        giving it. Each curve, scaled through its level, puts the target at its own brightness; the next
        trial can be at only one, so its odds are the most weight one window-wide span of brightness holds.
        Curves that agree near the target (a level measured close to it, or a shape pinned down by earlier
        levels) give high odds; a faint level far below the target leaves them spread.
        """
        lit_by = brightness - self.t
        lit = lit_by > 0
        total = weight.sum(axis=0)
        w = np.where(lit[:, None], weight, 0.0) / np.maximum(total, 1e-300)[None, :]
        t, g = self.t[:, None], self.g[:, None]
        ln_target = 0.5 * (math.log(self.targets.low) + math.log(self.targets.high))
        at = t + np.maximum(lit_by, 1e-9)[:, None] * np.exp((ln_target - ln_levels) / g)
        # Beyond an end of the range the next trial is that end, where the search stops either way.
        at = np.clip(at, max(self.low, 1e-6), max(self.high, 1e-6))
        # Half the window in ln(brightness) for each curve: ln(high/low) / 2 over its local slope.
        slope = np.maximum(g * at / np.maximum(at - t, 1e-9), 0.1)
        span = np.minimum((w * math.log(self.targets.high / self.targets.low) / slope).sum(axis=0), 10.0)
        # One sort for every level at once: each level's column offset far from the others.
        offset = 1e3 * np.arange(ln_levels.shape[1])[None, :]
        keys = (np.log(at) + offset).T.ravel()
        order = np.argsort(keys)
        sorted_keys, sorted_w = keys[order], w.T.ravel()[order]
        cumulative = np.concatenate([[0.0], np.cumsum(sorted_w)])
        ends = np.searchsorted(sorted_keys, sorted_keys + np.repeat(span, len(self.t))[order], side="right")
        held = (cumulative[ends] - cumulative[:-1]).reshape(-1)
        column = (order // len(self.t)).astype(np.int64)
        best = np.zeros(ln_levels.shape[1])
        np.maximum.at(best, column, held)
        return np.where(total > 0, best, 0.0)

    def best(
        self, low: int, high: int, tried: set[int], *, ends_if_dim: int | None, ends_if_bright: int | None
    ) -> int | None:
        """The untried brightness in [low, high] with the least expected further trials; None if none is left
        or the odds are unusable (no curve of the family explains the trials).

        `ends_if_dim` / `ends_if_bright`: the brightness at which a dim (bright) outcome ends the search,
        because the step above (below) is already known to be too bright (dim) or it is the end of the range.
        A wide range is judged on a coarse grid first, then every step near the best.
        """
        if not self.usable or low > high:
            return None
        if high - low <= COARSE_CANDIDATES:
            coarse = np.arange(low, high + 1)
        else:
            spaced = np.geomspace(max(low, 1), max(high, 1), COARSE_CANDIDATES // 2)
            coarse = np.unique(np.rint(np.concatenate([spaced, np.linspace(low, high, COARSE_CANDIDATES // 2)])))
        choice = self._least_cost(coarse.astype(np.int64), tried, ends_if_dim, ends_if_bright)
        if choice is None or high - low <= COARSE_CANDIDATES:
            return choice
        reach = max(2, int(0.03 * abs(choice)) + 1)
        fine = np.arange(max(low, choice - reach), min(high, choice + reach) + 1)
        return self._least_cost(fine, tried, ends_if_dim, ends_if_bright)

    def _least_cost(
        self, brightness: npt.NDArray[np.int64], tried: set[int], ends_if_dim: int | None, ends_if_bright: int | None
    ) -> int | None:
        untried = np.array([b for b in brightness.tolist() if b not in tried], dtype=float)
        if not len(untried):
            return None
        cost = self.costs(untried, ends_if_dim=ends_if_dim, ends_if_bright=ends_if_bright)
        return int(untried[int(np.argmin(cost))])

    def _total(self, trials: float) -> float:
        """What finishing after `trials` trials costs: the trials, plus `OVER_BUDGET` for going over the budget
        (a fractional count is a mix of the two counts around it)."""
        return trials + OVER_BUDGET * min(max(trials - BUDGET, 0.0), 1.0)

    def costs(self, untried: Array, *, ends_if_dim: int | None, ends_if_bright: int | None) -> Array:
        """The expected cost of the search if the next trial is at each candidate (`_total` of the trials).

        The trial itself ends the search on a hit, or on a miss at a known end (too dim at the top of the
        range, ...). A miss that measures a level needs one more trial if the curves, rescaled through that
        level, agree where the target is, about `LATER_TRIALS` more if not; a miss that gives only a bound
        (every pixel clipped, or no light) about `BLIND_TRIALS` more.
        """
        edges, kinds = self._bins()
        per_curve = self._per_curve(untried, edges)
        per_bin = np.einsum("s,scj->cj", self.weight, per_curve)
        now = self.trials + 1.0
        measured = np.array([kind in ("dim", "bright") for kind in kinds])
        blind = np.array([kind in ("dark", "clipped") for kind in kinds])
        dim_side = np.array([kind in ("dim", "dark") for kind in kinds])
        goes_on = np.where(
            dim_side[None, :], (untried != ends_if_dim)[:, None], (untried != ends_if_bright)[:, None]
        ).astype(bool)
        done, later, blind_later = self._total(now), self._total(now + LATER_TRIALS), self._total(now + BLIND_TRIALS)
        bin_low = np.concatenate([[-np.inf], edges])[measured]
        bin_high = np.concatenate([edges, [np.inf]])[measured]
        next_hit = self._total(now + 1.0)
        # Bounds on each candidate's cost, as if every measured miss were followed by a hit or by none: look
        # ahead only from candidates whose best case beats the best worst case, best first, while they can win.
        ends = ~goes_on | ~(measured | blind)[None, :]
        lower = (per_bin * np.where(ends, done, np.where(measured[None, :], next_hit, blind_later))).sum(axis=1)
        upper = (per_bin * np.where(ends, done, np.where(measured[None, :], later, blind_later))).sum(axis=1)
        result = np.full(len(untried), math.inf)
        best = float(upper.min())
        for c in np.argsort(lower).tolist():
            if lower[c] > best:
                break
            # Each curve's own level there (its ln k through the trials so far), kept inside each bin.
            b = float(untried[c])
            predicted = self.mean + self.g * np.log(np.maximum(b - self.t, 1e-9))
            in_bin = np.clip(predicted[:, None], bin_low[None, :], bin_high[None, :])
            hit = np.zeros(len(kinds))
            hit[measured] = self._next_hit(b, in_bin, self.weight[:, None] * per_curve[:, c, measured])
            each = np.where(ends[c], done, np.where(measured, hit * next_hit + (1 - hit) * later, blind_later))
            result[c] = float((per_bin[c] * each).sum()) - 1e-6 * float(per_bin[c, kinds.index("hit")])
            best = min(best, result[c])
        return result
