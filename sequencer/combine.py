"""The memory-bounded combiner: many full frames in, one rejected mean out, a strip of rows at a time.

Every input frame is read in row strips (`PixelSource.read_rows`); a strip of all frames is calibrated
(minus the master dark-flat, divided by the frame's median), each pixel's values are checked for
outliers and averaged, and the strip is written into the result. Memory is a few strips per worker plus
the result, whatever the number of frames: 30 IMX455 frames need about 1 GiB, not 30 × 490 MB.

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
their own uint16 type. Strips are spread over worker threads (numpy releases the GIL), results do not
depend on the number of workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from drivers.errors import ConfigError

F64 = npt.NDArray[np.float64]
WINSOR_CLIP = 1.5
WINSOR_CORRECTION = 1.134
"""σ of a normal sample winsorized at ±1.5σ is 1/1.134 of the true σ."""
WINSOR_MAX_ITERATIONS = 10
WINSOR_TOLERANCE = 5e-4
STRIP_PIXELS = 1 << 15
"""Pixels per frame per strip: a strip plane (32 k pixels, 256 KB in float64) stays in the CPU cache."""


class PixelSource(Protocol):
    """One input frame, readable a few rows at a time (`frames.FitsPixels`, `ArrayPixels`)."""

    name: str
    shape: tuple[int, int]
    dtype: np.dtype[np.generic]

    def read_rows(self, start: int, stop: int) -> npt.NDArray[np.generic]: ...


class ArrayPixels:
    """An in-memory frame as a `PixelSource` (frames taken straight from a camera, or tests)."""

    def __init__(self, data: npt.NDArray[np.generic], name: str = "array") -> None:
        self._data = data
        self.name = name
        rows, cols = data.shape
        self.shape = (int(rows), int(cols))
        self.dtype = data.dtype

    def read_rows(self, start: int, stop: int) -> npt.NDArray[np.generic]:
        return self._data[start:stop]


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
        if self.low <= 0 or self.high <= 0:
            raise ConfigError(f"rejection thresholds must be positive (got {self.low}, {self.high})")
        if self.iterations < 1:
            raise ConfigError(f"rejection iterations must be at least 1 (got {self.iterations})")

    def describe(self) -> str:
        if self.method == "none":
            return "mean, no rejection"
        name = "sigma clipping" if self.method == "sigma" else "winsorized sigma clipping"
        passes = "1 pass" if self.iterations == 1 else f"up to {self.iterations} passes"
        return f"{name} about the median, {self.low:g} sigma low / {self.high:g} sigma high, {passes}"


@dataclass
class Combined:
    """A combined image and what the combining did."""

    image: npt.NDArray[np.floating]
    frames: int
    rejected_per_frame: npt.NDArray[np.int64]
    rejection: Rejection
    total: float = 0.0
    """Sum of every result pixel (float64), for normalising the result to mean 1."""

    @property
    def rejected(self) -> int:
        return int(self.rejected_per_frame.sum())

    @property
    def rejected_fraction(self) -> float:
        samples = self.frames * self.image.size
        return self.rejected / samples if samples else 0.0

    @property
    def mean(self) -> float:
        return self.total / self.image.size


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
        pairs = sorting_network(n, _middle(n) if simple else None)
    planes = list(work)
    run_network(planes, pairs, scratch.spare[:rows])
    if simple:
        centre = _median_from(planes, n)
        dev = scratch.dev[:, :rows]
        np.subtract(values, values.sum(axis=0) / n, out=dev)  # the standard deviation as numpy computes it
        np.multiply(dev, dev, out=dev)
        spread = np.sqrt(dev.sum(axis=0) / n)
        more = scratch.more[:, :rows]
        np.less(values, centre - rejection.low * spread, out=bad)
        np.greater(values, centre + rejection.high * spread, out=more)
        np.logical_or(bad, more, out=bad)
        return bad
    ordered = np.stack([p.astype(np.float64, copy=False) for p in planes])
    shape = values.shape[1:]
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
    lo_keep = np.take_along_axis(ordered, start[None], 0)[0]
    hi_keep = np.take_along_axis(ordered, (stop - 1)[None], 0)[0]
    more = scratch.more[:, :rows]
    np.less(values, lo_keep, out=bad)
    np.greater(values, hi_keep, out=more)
    np.logical_or(bad, more, out=bad)
    return bad


# --- the strip loop -----------------------------------------------------------------------------------


@dataclass
class _Job:
    sources: Sequence[PixelSource]
    rejection: Rejection
    subtract: F64 | None
    scales: F64 | None
    out: npt.NDArray[np.floating]
    strip_rows: int
    pairs: list[tuple[int, int]]
    sort_dtype: np.dtype[np.generic]
    sums: list[float] = field(default_factory=list)
    rejected: list[npt.NDArray[np.int64]] = field(default_factory=list)

    @property
    def native(self) -> bool:
        """Sort the raw values themselves: no calibration, and an exact type narrower than float64."""
        return self.sort_dtype != np.float64

    def scratch(self) -> Scratch:
        return Scratch(len(self.sources), self.strip_rows, self.out.shape[1], self.sort_dtype)


def _process_strip(job: _Job, index: int, scratch: Scratch) -> None:
    rows = job.out.shape[0]
    start = index * job.strip_rows
    stop = min(rows, start + job.strip_rows)
    n = len(job.sources)
    values = scratch.values[:, : stop - start]
    for i, src in enumerate(job.sources):
        raw = src.read_rows(start, stop)
        values[i] = raw
        if job.native:
            scratch.work[i, : stop - start] = raw
    if job.subtract is not None:
        values -= job.subtract[start:stop]
    if job.scales is not None:
        values /= job.scales[:, None, None]
    bad = reject_strip(values, job.rejection, scratch, sorted_input=job.native, pairs=job.pairs)
    kept = n - bad.sum(axis=0)
    np.copyto(values, 0.0, where=bad)
    mean = values.sum(axis=0) / kept
    job.out[start:stop] = mean
    job.sums[index] = float(mean.sum())
    job.rejected[index] = bad.sum(axis=(1, 2)).astype(np.int64)


def _sort_dtype(sources: Sequence[PixelSource], calibrated: bool) -> np.dtype[np.generic]:
    first = np.dtype(sources[0].dtype)
    if calibrated or first.itemsize >= 8 or any(np.dtype(s.dtype) != first for s in sources):
        return np.dtype(np.float64)
    return first


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def strip_rows_for(cols: int) -> int:
    return max(1, STRIP_PIXELS // max(1, cols))


def combine(
    sources: Sequence[PixelSource],
    rejection: Rejection,
    *,
    subtract: F64 | None = None,
    scales: Sequence[float] | npt.NDArray[np.float64] | None = None,
    dtype: type[np.floating] = np.float64,
    workers: int | None = None,
    strip_rows: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Combined:
    """Mean of (frame − subtract) / scale over `sources` with outlier rejection, strip by strip.

    Every source is read once, a strip at a time. `subtract` is a full-frame float64 array (the master
    dark-flat or bias); `scales` divides each frame (its median, for multiplicative normalisation).
    """
    if not sources:
        raise ConfigError("nothing to combine: no frames")
    shape = sources[0].shape
    for src in sources:
        if src.shape != shape:
            raise ConfigError(
                f"{src.name}: image is {src.shape[1]}×{src.shape[0]}, {sources[0].name} is "
                f"{shape[1]}×{shape[0]}"
            )
    if subtract is not None and subtract.shape != shape:
        raise ConfigError(f"the frame to subtract is {subtract.shape}, the frames are {shape}")
    scale_arr = None if scales is None else np.asarray(scales, dtype=np.float64)
    if scale_arr is not None and (len(scale_arr) != len(sources) or not np.all(scale_arr > 0)):
        raise ConfigError("each frame needs one positive scale")
    rows, cols = shape
    step = strip_rows or strip_rows_for(cols)
    strips = (rows + step - 1) // step
    n = len(sources)
    simple = rejection.method == "sigma" and rejection.iterations == 1
    job = _Job(
        sources=sources,
        rejection=rejection,
        subtract=subtract,
        scales=scale_arr,
        out=np.empty(shape, dtype=dtype),
        strip_rows=step,
        pairs=sorting_network(n, _middle(n) if simple else None),
        sort_dtype=_sort_dtype(sources, subtract is not None or scale_arr is not None),
        sums=[0.0] * strips,
        rejected=[np.zeros(len(sources), dtype=np.int64)] * strips,
    )
    _run_strips(job, strips, workers or default_workers(), progress)
    return Combined(
        image=job.out,
        frames=len(sources),
        rejected_per_frame=np.sum(job.rejected, axis=0).astype(np.int64),
        rejection=rejection,
        total=float(sum(job.sums)),
    )


def _run_strips(
    job: _Job, strips: int, workers: int, progress: Callable[[int, int], None] | None
) -> None:
    """Hand strips to worker threads in order; the first error stops everyone and is raised here."""
    lock = threading.Lock()
    state = {"next": 0, "done": 0}
    errors: list[BaseException] = []

    def work() -> None:
        scratch = job.scratch()
        while True:
            with lock:
                if errors or state["next"] >= strips:
                    return
                index = state["next"]
                state["next"] += 1
            try:
                _process_strip(job, index, scratch)
            except BaseException as exc:  # re-raised in the caller's thread
                with lock:
                    errors.append(exc)
                return
            if progress is not None:
                with lock:
                    state["done"] += 1
                    done = state["done"]
                progress(done, strips)

    count = max(1, min(workers, strips))
    if count == 1:
        work()
    else:
        threads = [threading.Thread(target=work, name=f"combine-{i}", daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
