"""The memory-bounded combiner: many full frames in, one rejected mean out, a strip of rows at a time.

Every input frame is read in row strips (`PixelSource.read_rows`: from its file, `fitspixels.FitsPixels`,
or from memory, `ArrayPixels`, for the flats `flatstack` holds); a strip of all frames is calibrated
(minus the master dark-flat, divided by the frame's median), each pixel's values are checked for
outliers and averaged, and the strip is written into the result. The combiner's own memory is a few
strips per worker plus the result, whatever the number of frames: 30 IMX455 frames straight from their
files need about 0.8 GB, not 30 × 490 MB in float64.

Each pixel's values across frames go through `sequencer.calibration.rejection` (sigma or winsorized clipping about
the median) and the mean of the values kept is the result. Strips are spread over worker threads (numpy
releases the GIL); results do not depend on the number of workers or the strip height.
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
from sequencer.calibration.rejection import F64, Rejection, Scratch, network_for, reject_strip

__all__ = ["ArrayPixels", "Combined", "PixelSource", "Rejection", "combine"]

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


def scratch_bytes(frames: int, cols: int) -> int:
    """One worker's strip buffers (`rejection.Scratch`) when combining calibrated frames (float64)."""
    pixels = strip_rows_for(cols) * cols
    return frames * pixels * (8 + 8 + 8 + 1 + 1) + pixels * 8


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
                f"{src.name}: image is {src.shape[1]}×{src.shape[0]}, {sources[0].name} is {shape[1]}×{shape[0]}"
            )
    if subtract is not None and subtract.shape != shape:
        raise ConfigError(f"the frame to subtract is {subtract.shape}, the frames are {shape}")
    scale_arr = None if scales is None else np.asarray(scales, dtype=np.float64)
    if scale_arr is not None and (len(scale_arr) != len(sources) or not np.all(scale_arr > 0)):
        raise ConfigError("each frame needs one positive scale")
    rows, cols = shape
    step = strip_rows or strip_rows_for(cols)
    strips = (rows + step - 1) // step
    job = _Job(
        sources=sources,
        rejection=rejection,
        subtract=subtract,
        scales=scale_arr,
        out=np.empty(shape, dtype=dtype),
        strip_rows=step,
        pairs=network_for(len(sources), rejection),
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


def _run_strips(job: _Job, strips: int, workers: int, progress: Callable[[int, int], None] | None) -> None:
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
