"""Frame statistics on an IMX455-sized frame: our one-pass histogram vs numpy, timed in the same run.

    .venv/bin/python bench/stats.py [--repeat 5] [--workers N]

numpy's figure is what a straightforward implementation pays for the same answers: np.mean, np.median and
np.percentile (1, 5, 25, 75, 95, 99). Ours is `sequencer.core.stats.frame_stats`, which also gives min, max, std
and the saturated fraction. Best of `--repeat` runs each. Targets (issue 2): at least 5x faster than numpy
and under 150 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from sequencer.core.stats import DEFAULT_PERCENTILES, frame_stats

ROWS, COLS = 6388, 9576  # Sony IMX455
TARGET_RATIO = 5.0
TARGET_MS = 150.0


def imx455_flat(seed: int = 0) -> np.ndarray:
    """A flat-like frame: a vignetted ~30000 ADU field with shot noise, a pedestal and a few clipped pixels."""
    rng = np.random.default_rng(seed)
    y = np.linspace(-1, 1, ROWS, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, COLS, dtype=np.float32)[None, :]
    field = 500 + 30000 * (1 - 0.25 * (x * x + y * y))
    noise = rng.standard_normal((ROWS, COLS), dtype=np.float32)
    frame = (field + noise * np.sqrt(field)).clip(0, 65535).astype(np.uint16)
    frame.ravel()[rng.integers(0, frame.size, 2000)] = 65535  # hot pixels
    return frame


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="histogram threads (default: CPUs, max 4)")
    args = parser.parse_args(argv)

    frame = imx455_flat()
    percentiles = list(DEFAULT_PERCENTILES)

    def ours() -> object:
        return frame_stats(frame, workers=args.workers)

    def numpy_way() -> object:
        return np.mean(frame), np.median(frame), np.percentile(frame, percentiles)

    stats = frame_stats(frame, workers=args.workers)
    mean, median, pcts = np.mean(frame), np.median(frame), np.percentile(frame, percentiles)
    same = (
        abs(stats.mean - mean) <= 1e-9 * mean
        and stats.median == median
        and [stats.percentiles[float(p)] for p in percentiles] == [float(v) for v in pcts]
    )

    t_ours = best_of(args.repeat, ours)
    t_numpy = best_of(max(1, args.repeat // 2), numpy_way)
    ratio = t_numpy / t_ours
    print(f"frame {ROWS}x{COLS} uint16 ({frame.nbytes / 2**20:.0f} MiB), {os.cpu_count()} CPUs")
    print(f"  numpy  mean+median+percentiles   {t_numpy * 1000:8.1f} ms")
    print(f"  flatseq frame_stats (one pass)   {t_ours * 1000:8.1f} ms   (all statistics)")
    print(f"  ratio numpy/ours                 {ratio:8.1f} x   target >= {TARGET_RATIO:.0f}x")
    print(f"  results identical to numpy       {'yes' if same else 'NO'}")
    ok = same and ratio >= TARGET_RATIO and t_ours * 1000 < TARGET_MS
    print("PASS" if ok else "MISS", f"(target: >= {TARGET_RATIO:.0f}x and < {TARGET_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
