"""The field notes' claim, measured: master flats calibrated with dark-flats vs with bias, against the truth.

    .venv/bin/python bench/darkflat_vs_bias.py [--frames 30] [--sensor small] [--markdown]

On the simulated bench the true illumination (vignetting × dust × PRNU) is known. For flats of 0.05 s,
1 s, 4 s and 30 s, on a cooled sensor (−10 °C) and a warm one (cooler off at 20 °C ambient), it takes
`--frames` flats near 50 % of full scale, as many dark-flats, and as many bias frames, and builds three
master flats the way `flatseq master` does (same combine, same 3σ clipping): flats − master dark-flat,
flats − master bias, and flats with nothing subtracted (for scale). A light frame of a uniform sky seen
through the same optics, perfectly dark-subtracted and noise-free, is divided by each master; a perfect
master leaves it flat. Reported, for each master, as % of the sky level:

- RMS: the residual's standard deviation over all pixels (includes the master's own noise);
- large-scale: the same after 16 × 16 block means (noise averaged away: what halos and gradients are);
- vignetting: mean residual in the corners minus the centre (over/under-correction of the vignetting).
"dark signal" is the master dark-flat minus the master bias, mean over the frame, as % of the flat level:
what a bias leaves in the flat.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.base import CameraSettings, Frame
from drivers.clock import VirtualClock
from sequencer.calibration.combine import ArrayPixels, combine
from sequencer.calibration.normalise import calibrated_medians
from sequencer.calibration.rejection import Rejection
from simulators.devices.bench import Bench

F64 = npt.NDArray[np.float64]
CASES = ((0.05, "L"), (1.0, "R"), (4.0, "Ha"), (30.0, "Ha"))
TARGET_ADU = 30000.0
BLOCK = 16


@dataclass
class Scores:
    rms: float
    large: float
    vignetting: float


def rig(sensor: str, warm: bool, seed: int) -> Bench:
    bench = Bench(sensor=sensor, seed=seed, clock=VirtualClock(), ambient=20.0 if warm else 15.0)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50, temperature=None if warm else -10.0))
    if not warm:
        bench.camera.wait_for_cooler(timeout=900)
    else:
        bench.clock.sleep(600)  # drift to ambient
    return bench


def select(bench: Bench, name: str) -> None:
    bench.wheel.move_to(bench.wheel.names().index(name))
    while bench.wheel.position() is None:
        bench.clock.sleep(0.5)


def brightness_for(bench: Bench, exposure: float) -> int:
    """A brightness that puts the flats near `TARGET_ADU` (linear panel), from trial frames."""
    high = bench.panel.brightness_range[1]
    pedestal = bench.sensor.pedestal_adu(50)
    brightness = high
    for _ in range(8):
        bench.panel.light_on(brightness)
        bench.clock.sleep(5.0)
        level = float(np.mean(bench.take(exposure)))
        if level < 55000 or brightness == 1:
            break
        brightness = max(1, brightness // 8)
    return max(1, min(high, round(brightness * (TARGET_ADU - pedestal) / max(level - pedestal, 1.0))))


def shoot(bench: Bench, exposure: float, filter_name: str, count: int) -> tuple[list[Frame], list[Frame]]:
    select(bench, filter_name)
    bench.panel.light_on(brightness_for(bench, exposure))
    bench.clock.sleep(5.0)
    flats = [bench.take(exposure) for _ in range(count)]
    bench.panel.light_off()
    bench.clock.sleep(5.0)
    darks = [bench.take(exposure, light=False) for _ in range(count)]
    return flats, darks


def master_flat(flats: list[Frame], calibration: list[Frame] | None, rejection: Rejection) -> tuple[F64, F64 | None]:
    """flatseq master's recipe on frames in memory: returns the master flat and the master subtracted."""
    subtract = None
    if calibration:
        subtract = np.asarray(combine([ArrayPixels(f) for f in calibration], rejection).image, dtype=np.float64)
    sources = [ArrayPixels(f) for f in flats]
    medians = calibrated_medians(sources, subtract)
    result = combine(sources, rejection, subtract=subtract, scales=medians)
    return np.asarray(result.image / result.mean, dtype=np.float64), subtract


def score(master: F64, truth: F64) -> Scores:
    """Divide a noise-free sky (the truth) by the master; how far from flat is the result?"""
    residual = truth / master
    residual = residual / residual.mean() - 1.0
    rows, cols = residual.shape
    r, c = rows // BLOCK * BLOCK, cols // BLOCK * BLOCK
    blocks = residual[:r, :c].reshape(r // BLOCK, BLOCK, c // BLOCK, BLOCK).mean(axis=(1, 3))
    y, x = np.indices(residual.shape)
    radius = np.hypot(y - rows / 2, x - cols / 2)
    corners = residual[radius > 0.9 * radius.max()].mean()
    centre = residual[radius < 0.2 * radius.max()].mean()
    return Scores(100 * float(residual.std()), 100 * float(blocks.std()), 100 * float(corners - centre))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30, help="flats, dark-flats and bias frames per case")
    parser.add_argument("--sensor", default="small", help="sim sensor preset (default small: IMX455 physics)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args(argv)
    rejection = Rejection("sigma")
    start = time.perf_counter()
    rows = []
    for warm in (False, True):
        bench = rig(args.sensor, warm, args.seed)
        temp = bench.camera.temperature()
        truth = bench.illumination()
        bench.panel.light_off()
        bench.clock.sleep(5.0)
        bias = [bench.take(0.0, light=False) for _ in range(args.frames)]
        for exposure, filter_name in CASES:
            flats, darks = shoot(bench, exposure, filter_name, args.frames)
            with_dark, master_dark = master_flat(flats, darks, rejection)
            with_bias, master_bias = master_flat(flats, bias, rejection)
            bare, _ = master_flat(flats, None, rejection)
            assert master_dark is not None and master_bias is not None
            level = float(np.mean(flats[0])) - float(master_dark.mean())
            dark_signal = 100 * float(master_dark.mean() - master_bias.mean()) / level
            rows.append(
                (
                    exposure,
                    filter_name,
                    temp,
                    dark_signal,
                    score(with_dark, truth),
                    score(with_bias, truth),
                    score(bare, truth),
                )
            )
        bench.close()
    print(
        f"{args.frames} flats (~{TARGET_ADU:.0f} ADU) + {args.frames} dark-flats + {args.frames} bias per case, "
        f"sim sensor '{args.sensor}' (gain 100, offset 50), {rejection.describe()}; "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(
        "residual non-uniformity of a flat sky divided by each master, % of the sky: "
        "RMS / large-scale (16×16 blocks) / vignetting (corners − centre)\n"
    )
    header = ("flats", "sensor", "dark signal", "flat − dark-flat", "flat − bias", "nothing subtracted")
    table: list[tuple[str, ...]] = [header]
    for exposure, filter_name, temp, dark_signal, d, b, n in rows:
        table.append(
            (
                f"{exposure:g} s {filter_name}",
                f"{temp:+.0f} °C",
                f"{dark_signal:.3f} %",
                *(f"{s.rms:.3f} / {s.large:.3f} / {s.vignetting:+.3f}" for s in (d, b, n)),
            )
        )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in table[1:]:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
