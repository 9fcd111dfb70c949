"""A set's flats held in memory so that each file is read once: its median and its strips come from one read.

A flat's median (the divisor of multiplicative normalisation) needs the whole calibrated frame before any
strip of it can be combined. So each flat is read from its file once, whole, into an array allocated for
it in its own type (uint16 for flatseq's and N.I.N.A.'s frames: 122 MB for an IMX455 frame, 3.7 GB for
30); its exact median is found from that copy and the combiner takes its strips from there.

`plan_memory` decides how many flats the memory budget (`flatseq master --max-memory`) can hold beside the
masters and the strip buffers. Flats beyond that are read twice, once for the median and once in strips
(the second read comes from the operating system's page cache when it can hold them); the caller says so.
The results are the same either way, to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from sequencer.calibration.combine import ArrayPixels, PixelSource, default_workers, scratch_bytes
from sequencer.calibration.normalise import calibrated_median, median_bytes
from sequencer.calibration.rejection import F64

GIB = 1 << 30
DEFAULT_MAX_MEMORY = 6 * GIB
"""Holds 30 IMX455 flats (3.4 GiB) with their masters and strips (0.8 GiB) with room to spare."""
AVAILABLE_SHARE = 0.75
"""On a machine with less memory free than that, the default is this share of what is available."""


class WholeFrame(PixelSource, Protocol):
    """A frame that can also be read whole into an array the caller holds (`fitspixels.FitsPixels`)."""

    def read_into(self, out: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]: ...


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The memory the system can give without swapping (Linux MemAvailable), or None when unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_max_memory() -> int:
    """6 GiB, or three quarters of the available memory on a machine with less than 8 GiB free."""
    available = available_memory()
    if available is None:
        return DEFAULT_MAX_MEMORY
    return min(DEFAULT_MAX_MEMORY, int(available * AVAILABLE_SHARE))


@dataclass(frozen=True)
class MemoryPlan:
    """How many of a set's flats are held in memory, and what that costs."""

    frames: int
    held: int
    frame_bytes: int
    """One flat as held (its pixels in their own type)."""
    fixed_bytes: int
    """The rest of the flat combine: master calibration frame (float64), master flat (float32), and every
    worker's strip and median buffers."""
    budget: int

    @property
    def needed(self) -> int:
        """Memory for holding every flat."""
        return self.fixed_bytes + self.frames * self.frame_bytes

    @property
    def peak(self) -> int:
        """Memory for the flats this plan holds."""
        return self.fixed_bytes + self.held * self.frame_bytes

    @property
    def read_twice(self) -> int:
        return self.frames - self.held


def plan_memory(sources: Sequence[PixelSource], budget: int, *, workers: int | None = None) -> MemoryPlan:
    """Hold as many flats as fit in `budget` bytes beside the masters and the workers' buffers."""
    if not sources:
        return MemoryPlan(frames=0, held=0, frame_bytes=0, fixed_bytes=0, budget=budget)
    rows, cols = sources[0].shape
    pixels = rows * cols
    threads = max(1, workers or default_workers())
    fixed = pixels * (8 + 4) + threads * (scratch_bytes(len(sources), cols) + median_bytes((rows, cols)))
    frame_bytes = max(s.shape[0] * s.shape[1] * np.dtype(s.dtype).itemsize for s in sources)
    room = max(0, budget - fixed)
    held = min(len(sources), room // frame_bytes if frame_bytes else len(sources))
    return MemoryPlan(frames=len(sources), held=held, frame_bytes=frame_bytes, fixed_bytes=fixed, budget=budget)


def hold_and_measure(
    sources: Sequence[WholeFrame], subtract: F64 | None, *, hold: int, workers: int | None = None
) -> tuple[list[PixelSource], list[float]]:
    """Read the first `hold` flats whole into memory and find every flat's calibrated median.

    Returns the sources to combine (the held flats as in-memory frames, the others as given, to be read
    again in strips) and the medians, each equal to `np.median(frame − subtract)`.
    """
    combined: list[PixelSource] = list(sources)
    stack = _stack_for(sources[:hold])

    def measure(index: int) -> float:
        source = sources[index]
        if index >= hold:
            return calibrated_median(source, subtract)
        out = stack[index] if stack is not None else np.empty(source.shape, dtype=source.dtype)
        held = ArrayPixels(source.read_into(out), source.name)
        combined[index] = held
        return calibrated_median(held, subtract)

    count = max(1, min(workers or default_workers(), len(sources)))
    if count == 1:
        medians = [measure(i) for i in range(len(sources))]
    else:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="flats") as pool:
            medians = list(pool.map(measure, range(len(sources))))
    return combined, medians


def _stack_for(sources: Sequence[PixelSource]) -> npt.NDArray[np.generic] | None:
    """One array for all the flats to hold when they share a shape and type (the usual case), else None
    (each frame then gets its own). One allocation was the cheaper for the kernel to provide in our
    measurements (30 IMX455 frames' pages: 0.4-1.3 s, against 1.4-4 s allocated frame by frame)."""
    if not sources:
        return None
    shape, dtype = sources[0].shape, np.dtype(sources[0].dtype)
    if any(s.shape != shape or np.dtype(s.dtype) != dtype for s in sources):
        return None
    return np.empty((len(sources), *shape), dtype=dtype)
