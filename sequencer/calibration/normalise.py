"""Each flat's own median after the master dark-flat is subtracted: the divisor of multiplicative
normalisation, exact (the same number `np.median` gives) without a float64 copy of the frame.

A frame is read once in strips (from memory when `flatstack` holds the flat, else from its file). A
sample of evenly spaced rows (about 1 % of the frame, read first) brackets the median; the strip pass
counts the values below the bracket and keeps the few inside it (a couple of percent), and the median is
selected from those. If the bracket missed (it never should, its margin is many standard errors wide) the
frame is read again whole and `np.median` decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from sequencer.calibration.combine import PixelSource, default_workers, strip_rows_for
from sequencer.calibration.rejection import F64

SAMPLE_ROWS = 64
BRACKET_HALF_WIDTH = 0.01
"""The bracket spans the sample's 49th to 51st percentiles (widened for small samples)."""


def _calibrated(raw: npt.NDArray[np.generic], subtract: F64 | None, rows: slice | npt.NDArray[np.intp]) -> F64:
    values = raw.astype(np.float64)
    if subtract is not None:
        values -= subtract[rows]
    return values


def calibrated_median(source: PixelSource, subtract: F64 | None = None, *, strip_rows: int | None = None) -> float:
    """Median of (frame − subtract) over every pixel, equal to `np.median` of the full calibrated frame."""
    rows, cols = source.shape
    total = rows * cols
    k1, k2 = (total - 1) // 2, total // 2
    if rows <= 4 * SAMPLE_ROWS:
        return float(np.median(_calibrated(source.read_rows(0, rows), subtract, slice(0, rows))))
    picks = np.unique(np.linspace(0, rows - 1, SAMPLE_ROWS).round().astype(np.intp))
    sample = np.concatenate(
        [_calibrated(source.read_rows(int(r), int(r) + 1), subtract, slice(int(r), int(r) + 1)).ravel() for r in picks]
    )
    half = max(BRACKET_HALF_WIDTH, 6.0 * 0.5 / math.sqrt(sample.size))
    i_lo = max(0, int((0.5 - half) * sample.size))
    i_hi = min(sample.size - 1, int((0.5 + half) * sample.size))
    sample.partition((i_lo, i_hi))
    lo, hi = float(sample[i_lo]), float(sample[i_hi])
    below = 0
    kept: list[F64] = []
    step = strip_rows or max(1, 4 * strip_rows_for(cols))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        values = _calibrated(source.read_rows(start, stop), subtract, slice(start, stop))
        low = values < lo
        below += int(np.count_nonzero(low))
        inside = ~low & (values <= hi)
        kept.append(values[inside])
    window = np.concatenate(kept)
    if below <= k1 and k2 < below + window.size:
        a, b = k1 - below, k2 - below
        window.partition((a, b))
        return float(window[a]) if a == b else float((window[a] + window[b]) / 2.0)
    return float(np.median(_calibrated(source.read_rows(0, rows), subtract, slice(0, rows))))


def median_bytes(shape: tuple[int, int]) -> int:
    """About the most one `calibrated_median` holds besides its input: the values inside the bracket
    (a few percent of the frame, twice while they are joined) and a strip."""
    rows, cols = shape
    strip = min(rows, 4 * strip_rows_for(cols)) * cols
    return int(rows * cols * 8 * 6 * BRACKET_HALF_WIDTH) + strip * (8 + 2) + SAMPLE_ROWS * cols * 8


def calibrated_medians(
    sources: Sequence[PixelSource], subtract: F64 | None = None, *, workers: int | None = None
) -> list[float]:
    """`calibrated_median` of every source, frames spread over worker threads."""
    count = max(1, min(workers or default_workers(), len(sources)))
    if count == 1:
        return [calibrated_median(s, subtract) for s in sources]
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="median") as pool:
        return list(pool.map(lambda s: calibrated_median(s, subtract), sources))
