"""Simulated IMX455 frames: our renderer vs a naive per-frame numpy implementation, timed in the same run.

    .venv/bin/python bench/simframe.py [--sensor imx455] [--repeat 3] [--workers N]

The naive baseline is what a straightforward simulator pays per frame, given the same precomputed
illumination map: float64 mean signal, `rng.poisson` for shot noise, `rng.normal` for read noise, scale,
clip, convert. Ours is `Bench.render` (float32 fixed maps, pooled normals, row blocks on a thread pool),
with the same mean and variance per pixel. The one-off cost of building the fixed maps is printed
separately. Target (issue 2): under 0.3 s per IMX455 flat on 2 cores, so a 300-frame dry run takes minutes.
Then a dry run's peak memory (`--peak-flats N`, in a child process), against the frames it takes: issue 14's
target is under 3 GiB for an IMX455, mono or colour (`--sensor imx455c`).
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
    parser.add_argument(
        "--peak-flats",
        type=int,
        default=30,
        metavar="N",
        help="then a dry run of N flats + N dark-flats, its peak memory (0: skip)",
    )
    args = parser.parse_args(argv)

    # First, while this process is small: a child forked from a big parent counts the parent's pages as its own.
    peak_ok = dry_run_peak(args.sensor, args.peak_flats) == 0 if args.peak_flats else True
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
    return 0 if peak_ok else 1


PEAK_TARGET = 3 * 2**30
"""Issue 14: a dry run of an IMX455 (mono or colour) peaks under 3 GiB, so an 8 GB Raspberry Pi can run one."""

PEAK_SEQUENCE = """\
name: dry-run memory
equipment:
  camera: sim://camera?sensor={sensor}
  panel: sim://panel
  filter_wheel: sim://filterwheel?filters=L,Ha,None,UVIR,DualBand
camera: {{gain: 100, offset: 50}}
settle: {{after_light_on: 1s, after_light_off: 1s}}
flat_sets:
  - {{filter: {filter}, exposure: 2s, count: {count}}}
"""


def dry_run_peak(sensor: str, count: int) -> int:
    """Peak memory of `flatseq run --dry-run` (a child process) taking `count` flats and as many dark-flats,
    against the frames it takes (what a run that kept them would hold) and the 3 GiB target."""
    import os
    import resource
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from simulators.physics.sensor import SENSORS

    model = SENSORS[sensor]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "peak.yaml"
        filter_name = "DualBand" if model.colour else "Ha"
        path.write_text(PEAK_SEQUENCE.format(sensor=sensor, filter=filter_name, count=count))
        command = [sys.executable, "-m", "sequencer", "run", str(path), "--dry-run", "-q", "-o", str(Path(tmp) / "o")]
        subprocess.run(command, check=True, env={**os.environ, "FLATSEQ_DATA_DIR": tmp})
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    taken = 2 * count * model.width * model.height * 2
    print(f"dry run of {count} flats + {count} dark-flats on {sensor}: peak {peak / 2**30:.2f} GiB")
    print(f"  vs the frames taken, {taken / 2**30:.2f} GiB: {peak / taken:.2f}x")
    print(f"  vs the 3 GiB target: {peak / PEAK_TARGET:.2f}x")
    ok = peak < PEAK_TARGET
    print("PASS" if ok else "MISS", "(target: peak under 3 GiB)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
