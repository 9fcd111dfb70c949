"""Odds over panel curves given the trials so far, and the next trial that is expected to cost the fewest.

A search rarely has enough trials to fit a panel: one measured level says nothing of the curve, two leave
a threshold traded against a gamma. Instead of betting on one fitted curve, weigh every curve of the family
(`response`: mean = pedestal + k·(b − threshold)^gamma) by how likely it was a priori and how well it
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

Odds are kept on a grid of (threshold, gamma) (`prior`); for each, the scale k follows from the measured
levels in closed form (a Gaussian in ln k, truncated by the bounds clipped and dark trials set: `curves`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sequencer.brightness.curves import Observation, Targets, fit_levels, normal_cdf, weigh_curves
from sequencer.brightness.prior import GAMMA_STEP
from sequencer.brightness.response import PanelResponse, PanelShape

__all__ = ["PanelOdds"]

Array = npt.NDArray[np.float64]

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
        self.low, self.high = brightness_range
        self._observations = list(observations)
        curves = weigh_curves(self._observations, targets, brightness_range, prior, pedestal_known)
        self._thresholds_grid = curves.thresholds
        self.has_levels, self.usable = curves.has_levels, curves.usable
        self.t, self.g, self.weight = curves.t, curves.g, curves.weight
        self.mean, self.sd = curves.mean, curves.sd
        self.lower, self.upper, self.mass = curves.lower, curves.upper, curves.mass
        self.below = normal_cdf((self.lower - self.mean) / self.sd)

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
        ln_k, _, chi2 = fit_levels(levels, t, g, self.targets.noise)
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

    # -- judging candidates --------------------------------------------------------------------------------
    def _cdf(self, ln_k: Array) -> Array:
        """P(ln k <= x) per curve (rows) at x (columns)."""
        z = (ln_k - self.mean[:, None]) / self.sd[:, None]
        cdf = (normal_cdf(z) - self.below[:, None]) / self.mass[:, None]
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
