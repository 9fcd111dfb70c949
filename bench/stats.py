"""Frame statistics on an IMX455-sized frame: our one-pass histogram vs numpy, timed in the same run.

    .venv/bin/python bench/stats.py [--repeat 5] [--workers N]

numpy's figure is what a straightforward implementation pays for the same answers: np.mean, np.median and
np.percentile (1, 5, 25, 75, 95, 99). Ours is `sequencer.core.stats.frame_stats`, which also gives min, max, std
and the saturated fraction. Best of `--repeat` runs each. Targets (issue 2): at least 5x faster than numpy
and under 150 ms on 2 cores. Then the same frame as a colour (RGGB) mosaic: the frame's statistics and each
Bayer channel's from the same pass, against numpy doing both (issue 14: still at least 5x).
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
    colour_ok = colour(frame, args.repeat, args.workers)
    return 0 if ok and colour_ok else 1


def channel_pixels(frame: np.ndarray, pattern: str) -> dict[str, np.ndarray]:
    """Each Bayer channel's pixels, as a straightforward implementation gathers them (strided copies)."""
    found: dict[str, list[np.ndarray]] = {}
    for i, letter in enumerate(pattern):
        found.setdefault(letter, []).append(frame[i // 2 :: 2, i % 2 :: 2].ravel())
    return {k: np.concatenate(v) for k, v in found.items()}


def colour(frame: np.ndarray, repeat: int, workers: int | None) -> bool:
    """The same frame read as an RGGB mosaic: every statistic of the frame plus each channel's mean, median,
    maximum and clipped fraction, against numpy doing the frame's statistics and each channel's."""
    percentiles = list(DEFAULT_PERCENTILES)

    def ours() -> object:
        return frame_stats(frame, workers=workers, bayer="RGGB")

    def numpy_way() -> object:
        whole = np.mean(frame), np.median(frame), np.percentile(frame, percentiles)
        per = [
            (np.mean(p), np.median(p), p.max(), np.count_nonzero(p >= 65535))
            for p in channel_pixels(frame, "RGGB").values()
        ]
        return whole, per

    stats = frame_stats(frame, workers=workers, bayer="RGGB")
    same = all(
        stats.channels[k].median == float(np.median(p))
        and abs(stats.channels[k].mean - float(p.mean())) <= 1e-9 * 65535
        for k, p in channel_pixels(frame, "RGGB").items()
    )
    t_ours = best_of(repeat, ours)
    t_numpy = best_of(max(1, repeat // 2), numpy_way)
    ratio = t_numpy / t_ours
    print("colour (RGGB) frame, the same pixels:")
    print(f"  numpy  frame + 3 channels           {t_numpy * 1000:8.1f} ms")
    print(f"  flatseq frame_stats (one pass)      {t_ours * 1000:8.1f} ms   (frame and channels)")
    print(f"  ratio numpy/ours                    {ratio:8.1f} x   target >= {TARGET_RATIO:.0f}x")
    print(f"  channels identical to numpy         {'yes' if same else 'NO'}")
    ok = same and ratio >= TARGET_RATIO
    print("PASS" if ok else "MISS", f"(colour target: >= {TARGET_RATIO:.0f}x)")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
