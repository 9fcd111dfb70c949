"""Outlier rejection across frames, per pixel, on a strip of frames × rows × columns.

Rejection (`Rejection`), per pixel across frames:
- ``sigma``: centre = median, spread = standard deviation (population) of the pixel's values; a value
  below centre − low·σ or above centre + high·σ is rejected; repeated `iterations` times on the values
  left (one pass by default, which is what `ccdproc.combine` does, so the two agree to rounding).
- ``winsorized``: the spread comes from winsorized values (values beyond median ± 1.5σ pulled in to that
  bound, σ = 1.134 × their standard deviation, iterated until σ settles), so one bright outlier cannot
  inflate σ and hide itself; then the same thresholds. Better than plain sigma for ~10–20 frames.
- ``none``: plain mean.
The result at each pixel is the mean of the values kept. With σ taken from all of a pixel's n values, one
value can lie at most (n − 1)/√n σ from them, under 3 for n ≤ 10: plain sigma clipping rejects nothing in
sets that small, winsorized does. Fewer than 3 frames are averaged without rejection.

Medians across frames use a sorting network (element-wise minimum/maximum over whole strips), which is
several times faster in numpy than `np.median(axis=0)`; integer inputs (dark-flats, bias) are sorted in
their own uint16 type.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.errors import ConfigError

F64 = npt.NDArray[np.float64]
WINSOR_CLIP = 1.5
WINSOR_CORRECTION = 1.134
"""σ of a normal sample winsorized at ±1.5σ is 1/1.134 of the true σ."""
WINSOR_MAX_ITERATIONS = 10
WINSOR_TOLERANCE = 5e-4
MAX_ITERATIONS = 100
"""Rejection passes at most (each pass drops outliers; a handful converge)."""


@dataclass(frozen=True)
class Rejection:
    """How outliers are rejected before averaging (see the module docstring)."""

    method: str = "sigma"
    low: float = 3.0
    high: float = 3.0
    iterations: int = 1

    def __post_init__(self) -> None:
        if self.method not in ("sigma", "winsorized", "none"):
            raise ConfigError(f"rejection {self.method!r}: expected sigma, winsorized or none")
        if not (0 < self.low < math.inf and 0 < self.high < math.inf):  # NaN fails too
            raise ConfigError(
                f"rejection thresholds must be positive, finite numbers of sigma (got {self.low}, {self.high})"
            )
        if self.iterations < 1:
            raise ConfigError(f"rejection iterations must be at least 1 (got {self.iterations})")
        if self.iterations > MAX_ITERATIONS:
            raise ConfigError(f"rejection iterations must be at most {MAX_ITERATIONS} (got {self.iterations})")

    def describe(self) -> str:
        if self.method == "none":
            return "mean, no rejection"
        name = "sigma clipping" if self.method == "sigma" else "winsorized sigma clipping"
        passes = "1 pass" if self.iterations == 1 else f"up to {self.iterations} passes"
        return f"{name} about the median, {self.low:g} sigma low / {self.high:g} sigma high, {passes}"


# --- sorting networks ---------------------------------------------------------------------------------


def sorting_network(n: int, keep: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """Batcher's odd-even merge sort for n inputs as (low, high) comparators; with `keep`, only those
    needed to put the given ranks in place (e.g. the two middle ones for a median)."""
    size = 1
    while size < n:
        size *= 2
    pairs: list[tuple[int, int]] = []
    t = 1
    while t < size:
        k = t
        while k >= 1:
            j = k % t
            while j < size - k:
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * t) == b // (2 * t) and b < n:
                        pairs.append((a, b))
                j += 2 * k
            k //= 2
        t *= 2
    if keep is None:
        return pairs
    needed = set(keep)
    pruned: list[tuple[int, int]] = []
    for a, b in reversed(pairs):
        if a in needed or b in needed:
            pruned.append((a, b))
            needed.update((a, b))
    return pruned[::-1]


def run_network(
    planes: list[npt.NDArray[np.generic]],
    pairs: Sequence[tuple[int, int]],
    spare: npt.NDArray[np.generic] | None = None,
) -> None:
    """Sort the list of equally shaped planes in place, element-wise: afterwards planes[k] is the k-th
    smallest value of every pixel. Planes are swapped, not copied; `spare` is scratch of the same shape."""
    if not pairs:
        return
    if spare is None:
        spare = np.empty_like(planes[0])
    for a, b in pairs:
        np.minimum(planes[a], planes[b], out=spare)
        np.maximum(planes[a], planes[b], out=planes[b])
        planes[a], spare = spare, planes[a]


# --- per-strip rejection ------------------------------------------------------------------------------


def _middle(n: int) -> tuple[int, int]:
    return (n - 1) // 2, n // 2


def network_for(n: int, rejection: Rejection) -> list[tuple[int, int]]:
    """The comparators a strip of n frames needs: the two middle ranks for one sigma pass, else a full sort."""
    simple = rejection.method == "sigma" and rejection.iterations == 1
    return sorting_network(n, _middle(n) if simple else None)


def _median_from(planes: list[npt.NDArray[np.generic]], n: int) -> F64:
    k1, k2 = _middle(n)
    a = planes[k1].astype(np.float64)
    if k1 == k2:
        return a
    return (a + planes[k2].astype(np.float64)) / 2.0


def _range_stats(ordered: F64, start: npt.NDArray[np.intp], stop: npt.NDArray[np.intp]) -> tuple[F64, F64]:
    """Median and standard deviation of each pixel's sorted values ordered[start:stop]."""
    count = stop - start
    i1 = (start + (count - 1) // 2)[None]
    i2 = (start + count // 2)[None]
    centre = (np.take_along_axis(ordered, i1, 0)[0] + np.take_along_axis(ordered, i2, 0)[0]) / 2.0
    rank = np.arange(ordered.shape[0]).reshape(-1, *([1] * (ordered.ndim - 1)))
    inside = (rank >= start) & (rank < stop)
    mean = np.where(inside, ordered, 0.0).sum(axis=0) / count
    dev = np.where(inside, ordered - mean, 0.0)
    spread = np.sqrt((dev * dev).sum(axis=0) / count)
    return centre, spread


def _winsorized_sigma(
    ordered: F64, start: npt.NDArray[np.intp], stop: npt.NDArray[np.intp], centre: F64, sigma: F64
) -> F64:
    """A robust σ from winsorized values (Huber's method, as Siril and PixInsight describe it): values
    beyond median ± 1.5σ are pulled in to that bound and σ = 1.134 × their standard deviation, repeated
    until σ changes by less than 0.05 % (a pixel stops once settled; at most 10 rounds). Deviations are
    held in float32: σ only sets the thresholds."""
    n = ordered.shape[0]
    count = (stop - start).astype(np.float32)
    dev = (ordered - centre).astype(np.float32)
    if not (np.all(start == 0) and np.all(stop == n)):
        rank = np.arange(n).reshape(-1, *([1] * (ordered.ndim - 1)))
        dev *= (rank >= start) & (rank < stop)  # values already rejected count as zero deviation …
    buf = np.empty_like(dev)
    sigma32 = sigma.astype(np.float32)
    settled = np.zeros(sigma.shape, dtype=bool)
    for _ in range(WINSOR_MAX_ITERATIONS):
        bound = np.float32(WINSOR_CLIP) * sigma32
        np.maximum(dev, -bound, out=buf)
        np.minimum(buf, bound, out=buf)
        mean = buf.sum(axis=0) / count  # … and are left out of the count
        np.multiply(buf, buf, out=buf)
        variance = np.maximum(buf.sum(axis=0) / count - mean * mean, np.float32(0.0))
        new_sigma = np.float32(WINSOR_CORRECTION) * np.sqrt(variance)
        moving = np.abs(new_sigma - sigma32) > np.float32(WINSOR_TOLERANCE) * sigma32
        moving &= ~settled
        settled |= ~moving
        np.copyto(sigma32, new_sigma, where=moving)
        if settled.all():
            break
    return sigma32.astype(np.float64)


class Scratch:
    """One worker's buffers, reused strip after strip: fresh strip-sized arrays would cost a page fault
    per 4 KiB every time. `sort_dtype` is the type the sorting network runs in (uint16 for raw frames)."""

    def __init__(self, n: int, rows: int, cols: int, sort_dtype: np.dtype[np.generic]) -> None:
        self.values = np.empty((n, rows, cols), dtype=np.float64)
        self.work = np.empty((n, rows, cols), dtype=sort_dtype)
        self.spare = np.empty((rows, cols), dtype=sort_dtype)
        self.dev = np.empty((n, rows, cols), dtype=np.float64)
        self.bad = np.empty((n, rows, cols), dtype=bool)
        self.more = np.empty((n, rows, cols), dtype=bool)


def reject_strip(
    values: F64,
    rejection: Rejection,
    scratch: Scratch | None = None,
    *,
    sorted_input: bool = False,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> npt.NDArray[np.bool_]:
    """Which of `values` (frames × rows × cols) to reject, per pixel across frames.

    The sorting network runs on `scratch.work`, which holds a copy of `values` unless the caller already
    put the same data there in an exact narrower type (`sorted_input`: raw uint16 frames sort faster).
    """
    n, rows = values.shape[0], values.shape[1]
    if scratch is None:
        scratch = Scratch(n, rows, values.shape[2], values.dtype)
    bad = scratch.bad[:, :rows]
    if rejection.method == "none" or n < 3:
        bad[...] = False
        return bad
    work = scratch.work[:, :rows]
    if not sorted_input:
        np.copyto(work, values, casting="unsafe")
    simple = rejection.method == "sigma" and rejection.iterations == 1
    if pairs is None:
        pairs = network_for(n, rejection)
    planes = list(work)
    run_network(planes, pairs, scratch.spare[:rows])
    if simple:
        centre = _median_from(planes, n)
        dev = scratch.dev[:, :rows]
        np.subtract(values, values.sum(axis=0) / n, out=dev)  # the standard deviation as numpy computes it
        np.multiply(dev, dev, out=dev)
        spread = np.sqrt(dev.sum(axis=0) / n)
        lo_keep, hi_keep = centre - rejection.low * spread, centre + rejection.high * spread
    else:
        lo_keep, hi_keep = _iterated_limits(np.stack([p.astype(np.float64, copy=False) for p in planes]), rejection)
    more = scratch.more[:, :rows]
    np.less(values, lo_keep, out=bad)
    np.greater(values, hi_keep, out=more)
    np.logical_or(bad, more, out=bad)
    return bad


def _iterated_limits(ordered: F64, rejection: Rejection) -> tuple[F64, F64]:
    """The lowest and highest value kept per pixel after iterated (sigma or winsorized) clipping of the sorted
    values: each pass narrows the kept range, never below one value, until it stops changing."""
    n, shape = ordered.shape[0], ordered.shape[1:]
    start = np.zeros(shape, dtype=np.intp)
    stop = np.full(shape, n, dtype=np.intp)
    lo_all = np.full(shape, -np.inf)
    hi_all = np.full(shape, np.inf)
    for _ in range(rejection.iterations):
        centre, spread = _range_stats(ordered, start, stop)
        if rejection.method == "winsorized":
            spread = _winsorized_sigma(ordered, start, stop, centre, spread)
        np.maximum(lo_all, centre - rejection.low * spread, out=lo_all)
        np.minimum(hi_all, centre + rejection.high * spread, out=hi_all)
        new_start = np.maximum(start, (ordered < lo_all).sum(axis=0))
        new_stop = np.minimum(stop, n - (ordered > hi_all).sum(axis=0))
        new_stop = np.maximum(new_stop, new_start + 1)  # never reject every value of a pixel
        if np.array_equal(new_start, start) and np.array_equal(new_stop, stop):
            break
        start, stop = new_start, new_stop
    lo_keep: F64 = np.take_along_axis(ordered, start[None], 0)[0]
    hi_keep: F64 = np.take_along_axis(ordered, (stop - 1)[None], 0)[0]
    return lo_keep, hi_keep
