"""Writing one IMX455 frame (122 MB): flatseq's FITS writer vs astropy's `fits.writeto`, in the same run.

    .venv/bin/python bench/deadtime_io.py [--repeat 5] [--dir DIR]

Figures (median of `--repeat` runs, interleaved, each after an `os.sync()` so one method's dirty pages
do not slow the next; files in DIR, default the system's temporary directory):

- astropy `fits.writeto` (what a straightforward capture loop does), without and with an fsync;
- flatseq `fits_chunks` to a plain file (the same bytes, no fsync), and `write_fits`: header + big-endian
  BZERO data in 4 MB pieces, fsync, link, directory fsync;
- `FrameWriter.submit`: what the capture thread pays per frame when the queue has room (the write itself
  runs on the writer thread while the next exposure runs).

Targets: producing the file costs no more CPU than astropy's writeto (ratio <= 1.0, both without fsync),
and submit takes under 1 ms, so writing adds no dead time between exposures (bench/deadtime.py measures the
whole loop). The durable figures are printed too; they are dominated by the disk's fsync and vary with
whatever else the disk is doing, so they are not a target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from drivers.base import CameraSettings
from drivers.clock import SystemClock
from sequencer.output.fitsio import fits_chunks, write_fits
from sequencer.output.header import FrameHeader
from sequencer.output.keywords import FrameKind
from sequencer.output.writer import FrameWriter

ROWS, COLS = 6388, 9576  # Sony IMX455
TARGET_RATIO = 1.0
TARGET_SUBMIT_MS = 1.0


def imx455_flat(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(30000, 200, size=(ROWS, COLS)).clip(0, 65535).astype(np.uint16)


def header(n: int) -> FrameHeader:
    return FrameHeader(
        kind=FrameKind.FLAT,
        flat_set="Ha_4s",
        run_id="bench",
        frame_no=n,
        exposure=4.0,
        settings=CameraSettings(gain=100, offset=50, temperature=-10.0),
        readout_mode_name="Normal",
        camera="IMX455",
        date_obs=time.time(),
        ccd_temp=-10.0,
        filter="Ha",
        panel_brightness=118,
        panel_max=255,
        stats={"mean": 30000.0, "median": 30000.0, "std": 200.0, "min": 29000, "max": 31000, "sat": 0.0},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args(argv)

    frame = imx455_flat()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="flatseq-bench-") as tmp:
        out = Path(tmp)

        def clean() -> None:
            for path in out.iterdir():
                path.unlink()

        def astropy_plain(i: int) -> None:
            fits.writeto(out / f"astropy_{i}.fits", frame, header=fits.Header(header(i + 1).cards()))

        def astropy_fsync(i: int) -> None:
            path = out / f"astropy_sync_{i}.fits"
            fits.writeto(path, frame, header=fits.Header(header(i + 1).cards()))
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

        def ours(i: int) -> None:
            write_fits(out / f"ours_{i}.fits", frame, header(i + 1))

        def ours_plain(i: int) -> None:  # the same bytes, no temporary name, no fsync: CPU and page cache only
            with open(out / f"ours_plain_{i}.fits", "wb") as handle:
                for chunk in fits_chunks(frame, header(i + 1)):
                    handle.write(chunk)

        methods = {"plain": astropy_plain, "ours_plain": ours_plain, "sync": astropy_fsync, "ours": ours}
        times: dict[str, list[float]] = {name: [] for name in methods}
        for i in range(args.repeat):  # interleaved, each from a clean page cache, so order does not favour one
            for name, work in methods.items():
                clean()
                os.sync()
                start = time.perf_counter()
                work(i)
                times[name].append(time.perf_counter() - start)
        clean()
        os.sync()
        t_plain, t_ours_plain, t_sync, t_ours = (
            statistics.median(times[k]) for k in ("plain", "ours_plain", "sync", "ours")
        )

        submits = []
        with FrameWriter(out, clock=SystemClock()) as writer:
            for i in range(args.repeat):
                writer.flush()  # room in the queue, as after an exposure
                start = time.perf_counter()
                writer.submit(frame, header(i + 1), f"queued_{i}.fits")
                submits.append(time.perf_counter() - start)
        t_submit = statistics.median(submits)

    ratio_plain = t_ours_plain / t_plain
    print(
        f"IMX455 frame {ROWS}x{COLS} uint16 ({frame.nbytes / 1e6:.0f} MB),",
        f"median of {args.repeat}, {os.cpu_count()} CPUs",
    )
    print(f"  astropy fits.writeto                  {t_plain * 1000:8.1f} ms   (not durable)")
    print(f"  flatseq fits_chunks -> file           {t_ours_plain * 1000:8.1f} ms   (same, not durable)")
    print(f"  ratio ours / astropy, not durable     {ratio_plain:8.2f}      target <= {TARGET_RATIO:.1f}")
    print(f"  astropy fits.writeto + fsync          {t_sync * 1000:8.1f} ms")
    print(f"  flatseq write_fits (atomic, fsync)    {t_ours * 1000:8.1f} ms")
    print(f"  ratio ours / astropy, durable         {t_ours / t_sync:8.2f}      (disk-bound: fsync dominates)")
    print(f"  FrameWriter.submit (capture thread)   {t_submit * 1000:8.3f} ms   target < {TARGET_SUBMIT_MS:.0f} ms")
    ok = ratio_plain <= TARGET_RATIO and t_submit * 1000 < TARGET_SUBMIT_MS
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
