"""Simulated IMX455 frames: our renderer vs a naive per-frame numpy implementation, timed in the same run.

    .venv/bin/python bench/simframe.py [--sensor imx455] [--repeat 3] [--workers N]

The naive baseline is what a straightforward simulator pays per frame, given the same precomputed
illumination map: float64 mean signal, `rng.poisson` for shot noise, `rng.normal` for read noise, scale,
clip, convert. Ours is `Bench.render` (float32 fixed maps, pooled normals, row blocks on a thread pool),
with the same mean and variance per pixel. The one-off cost of building the fixed maps is printed
separately. Target (issue 2): under 0.3 s per IMX455 flat on 2 cores, so a 300-frame dry run takes minutes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from simulators.devices.bench import Bench
from simulators.physics.render import ExposureSignal, FrameRenderer

TARGET_SECONDS = 0.3


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def naive_frame(bench: Bench, signal: ExposureSignal, rng: np.random.Generator) -> np.ndarray:
    """The obvious implementation: Poisson photons + Gaussian read noise over the full frame, float64."""
    sensor = bench.sensor
    maps = bench.maps(signal.binning)
    e = maps.illumination.astype(np.float64) * signal.light_e
    e += sensor.dark_current(signal.temperature) * signal.seconds
    electrons = rng.poisson(np.minimum(e, sensor.full_well_e(signal.gain))).astype(np.float64)
    electrons += rng.normal(0.0, sensor.read_noise_e(signal.gain), size=e.shape)
    adu = electrons / sensor.e_per_adu(signal.gain) + sensor.pedestal_adu(signal.offset)
    return np.clip(np.rint(adu), 0, sensor.max_adu).astype(np.uint16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sensor", default="imx455")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="render threads (default: cores, max 4)")
    args = parser.parse_args(argv)

    bench = Bench(sensor=args.sensor, seed=1)
    if args.workers:
        bench._renderer = FrameRenderer(bench.sensor, bench.seed, workers=args.workers)
    sensor = bench.sensor
    start = time.perf_counter()
    bench.maps(1)
    maps_s = time.perf_counter() - start
    gain = 100
    half_scale_e = (32768 - sensor.pedestal_adu(50)) * sensor.e_per_adu(gain)
    flat = ExposureSignal(light_e=half_scale_e, seconds=4.0, temperature=-10.0, gain=gain, offset=50)
    dark = ExposureSignal(light_e=0.0, seconds=4.0, temperature=-10.0, gain=gain, offset=50)
    rng = np.random.default_rng(0)
    bench.render(flat, rng)  # warm the normal pool and the thread pool

    flat_s = best_of(args.repeat, lambda: bench.render(flat, rng))
    dark_s = best_of(args.repeat, lambda: bench.render(dark, rng))
    naive_s = best_of(max(1, args.repeat - 1), lambda: naive_frame(bench, flat, rng))
    frame = bench.render(flat, rng)
    bench.close()

    print(f"sensor {sensor.name}: {sensor.width}x{sensor.height} ({sensor.megapixels:.1f} Mpx)")
    print(f"fixed maps, once per bench: {maps_s:7.3f} s")
    print(f"naive numpy flat (poisson + normal): {naive_s:7.3f} s")
    print(f"flatseq flat:                        {flat_s:7.3f} s   ({naive_s / flat_s:5.1f}x faster)")
    print(f"flatseq dark:                        {dark_s:7.3f} s   ({naive_s / dark_s:5.1f}x faster)")
    print(f"flat mean {frame.mean():.0f} ADU (target ~32768)")
    verdict = "meets" if flat_s < TARGET_SECONDS else "misses"
    minutes = 300 * flat_s / 60
    print(f"{verdict} the {TARGET_SECONDS:g} s per frame target; a 300-frame dry run renders in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
