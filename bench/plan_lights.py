"""`flatseq plan` on 10 000 light headers vs a loop of astropy's `fits.getheader`, timed in the same run.

    .venv/bin/python bench/plan_lights.py [--lights 10000] [--repeat 3]

The lights are N.I.N.A.-style headers (40 cards, a rotator, a focuser) over a small image (pixels are never
read by either side, so their size does not matter), written once into a temporary folder: 4 filters (2 of
them binned 2×2) and 2 gains, 8 configurations. Ours is the whole plan:
`sequencer.calibration.nightplan.plan_night` (read every header, group by the match key, write the sequence).
The baseline only reads the headers with `fits.getheader`. Best of `--repeat` runs each, after one warm-up
pass (the page cache). Target (issue 15): 10 000 headers planned in under 10 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits

from sequencer.calibration.nightplan import plan_night

TARGET_S = 10.0
FILTERS = ("L", "R", "G", "B")


def write_lights(folder: Path, count: int) -> list[Path]:
    data = np.zeros((16, 16), dtype=np.uint16)
    paths = []
    for n in range(count):
        header = fits.Header()
        for key, value in {
            "IMAGETYP": "LIGHT", "EXPOSURE": 300.0, "EXPTIME": 300.0, "DATE-OBS": f"2026-05-01T22:{n % 60:02d}:00",
            "XBINNING": 1 + n % 2, "YBINNING": 1 + n % 2, "GAIN": 100 if n % 3 else 0, "OFFSET": 50,
            "READOUTM": "High Gain 16bit", "FILTER": FILTERS[n % 4], "INSTRUME": "ZWO ASI6200MM Pro",
            "CCD-TEMP": -10.1, "SET-TEMP": -10.0, "ROTATOR": 90.0, "FOCPOS": 5000 + n % 7, "TELESCOP": "RC8",
            "OBJECT": "M31", "RA": 10.68, "DEC": 41.27, "XPIXSZ": 3.76, "YPIXSZ": 3.76, "SITELAT": 48.1,
            "SITELONG": 11.5, "FOCALLEN": 1600.0, "SWCREATE": "N.I.N.A. 3.1", "ROWORDER": "TOP-DOWN",
        }.items():  # fmt: skip
            header[key] = value
        for extra in range(10):
            header[f"HIERARCH NINA EXTRA{extra}"] = extra
        path = folder / f"{FILTERS[n % 4]}" / f"light_{n:05d}.fits"
        path.parent.mkdir(exist_ok=True)
        fits.PrimaryHDU(data, header=header).writeto(path)
        paths.append(path)
    return paths


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lights", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_lights(folder, args.lights)
        plan = plan_night([folder])
        ((sequence, _),) = plan.sequences
        assert len(plan.scan.lights) == args.lights and len(sequence.sets) == 8, len(sequence.sets)
        baseline = best_of(args.repeat, lambda: [fits.getheader(p) for p in paths])
        ours = best_of(args.repeat, lambda: plan_night([folder]))
    print(f"{args.lights} light headers: flatseq plan {ours:.2f} s (the whole plan), astropy getheader loop "
          f"{baseline:.2f} s (headers only)")  # fmt: skip
    print(f"ratio: {baseline / ours:.1f}x faster than the baseline; target under {TARGET_S:g} s: "
          + ("met" if ours < TARGET_S else "MISSED"))  # fmt: skip
    return 0 if ours < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
