"""Master dark-flat + master flat: our strip combiner vs ccdproc.combine and vs Siril, on the same FITS files,
in one run.

    .venv/bin/pip install -e '.[bench]'      # ccdproc
    .venv/bin/python bench/master.py [--frames 30] [--rows 1000] [--cols 9576] [--keep DIR] [--max-memory 6G]
    .venv/bin/python bench/master.py --rows 6388 --ours-only     # 30 + 30 full IMX455 frames, ours only

Inputs: `--frames` flats and as many dark-flats from the simulated IMX455 (full-width strips of
`--rows` rows: 9576 × 1000 = 9.6 Mpx, a sixth of the sensor, so the whole bench takes a few minutes on
2 cores), written as uint16 FITS like flatseq writes them. ccdproc.combine gets `mem_limit` = 2 GB, its
own knob for bounding memory (with its default, 16 GB, it peaks near 17 GB on these inputs).

Both sides do the same work from the same files: master dark-flat = mean of the dark-flats after one pass of
3σ/3σ clipping about the median (σ = standard deviation); each flat minus it, divided by its own median;
the normalised flats combined the same way; the result divided by its mean. ccdproc does it the way its
documentation shows (CCDData.read, combine with sigma_clip_func="median", subtract_dark, divide by
np.median); ours is what `flatseq master` runs (`sequencer.calibration.combine`, `sequencer.calibration.stack`,
`sequencer.calibration.normalise`): the flats held in memory within `--max-memory`, each file read once. Ours runs
three times: as `flatseq master` does, on one thread, and with a budget too small to hold any flat ("two
reads": each flat read for its median, then again in strips), and the three must give the same masters to
the bit. Each side runs in its own fresh process after the files are in the page cache; time is wall-clock,
memory is the process's peak resident set (VmHWM), shown whole and above the process's size after its
imports; "reads" is the bytes the process read with read()/pread() (Linux rchar, page-cache hits
included) over the bytes of all the input files (ccdproc memory-maps its files, which rchar does not see).
The masters are compared pixel by pixel. Targets (issue 6): ≥ 5× faster, ≤ half the peak memory,
largest difference ≤ 1e-4.

Siril (where `siril-cli` is installed; Debian's siril 1.0.6) is the second baseline (issue 16): the script a
Siril export writes for a set without flatseq's masters (`sequencer.results.sirilscript`), run in a folder of
links to the same files, the way its own Mono_Preprocessing does it (convert the dark-flats and stack them
with rejection, convert the flats, subtract, stack with multiplicative normalisation and rejection). Its time
is the siril-cli process's wall-clock, its memory that process's peak resident set (the child's ru_maxrss, the
wrapper being a fresh process that runs nothing else); its master flat is compared by correlation (Siril
scales and rejects its own way). Targets: ours ≤ 0.5× Siril's time and ≤ 0.7× its peak memory, correlation
> 0.9999. `--no-siril` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sequencer.commands.master import memory_size

TARGET_SPEED = 5.0
TARGET_MEMORY = 0.5
TARGET_DIFF = 1e-4
SIRIL_TIME = 0.5
SIRIL_MEMORY = 0.7
SIRIL_CORRELATION = 0.9999


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (per process, reset by exec), else ru_maxrss (which on
    Linux also counts the parent's pages at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- inputs -------------------------------------------------------------------------------------------


def make_inputs(directory: Path, frames: int, rows: int, cols: int, seed: int = 1) -> tuple[list[Path], list[Path]]:
    """Flats near 30000 ADU and dark-flats from the simulated IMX455, cropped to rows × cols."""
    from drivers.base import CameraSettings
    from drivers.clock import VirtualClock
    from sequencer.output.fitsio import write_fits
    from simulators.devices.bench import Bench

    bench = Bench(sensor="imx455", seed=seed, clock=VirtualClock())
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50, temperature=-10))
    bench.camera.wait_for_cooler(timeout=900)
    exposure = 2.0
    top = (bench.sensor.height - rows) // 2
    left = (bench.sensor.width - cols) // 2
    pedestal = bench.sensor.pedestal_adu(50)
    brightness = 255
    for _ in range(6):  # find a brightness near 30000 ADU (linear panel)
        bench.panel.light_on(brightness)
        bench.clock.sleep(5)
        level = float(np.mean(bench.take(exposure)[top : top + rows, left : left + cols]))
        if level < 55000:
            break
        brightness = max(1, brightness // 8)
    brightness = max(1, min(255, round(brightness * (30000 - pedestal) / (level - pedestal))))
    bench.panel.light_on(brightness)
    bench.clock.sleep(5)
    header = {
        "EXPTIME": exposure,
        "EXPOSURE": exposure,
        "GAIN": 100,
        "OFFSET": 50,
        "XBINNING": 1,
        "YBINNING": 1,
        "READOUTM": "Normal",
        "SET-TEMP": -10.0,
        "FILTER": "L",
        "FLATSET": "bench",
    }
    flats, darks = [], []
    for i in range(frames):
        frame = np.ascontiguousarray(bench.take(exposure)[top : top + rows, left : left + cols])
        flats.append(write_fits(directory / f"flat_{i:03d}.fits", frame, {**header, "IMAGETYP": "FLAT"}))
    bench.panel.light_off()
    bench.clock.sleep(5)
    for i in range(frames):
        frame = np.ascontiguousarray(bench.take(exposure, light=False)[top : top + rows, left : left + cols])
        darks.append(write_fits(directory / f"darkflat_{i:03d}.fits", frame, {**header, "IMAGETYP": "DARK"}))
    bench.close()
    return flats, darks


# --- the two sides (each in its own process) -------------------------------------------------------------


def run_ours(
    flats: list[Path],
    darks: list[Path],
    workers: int | None,
    phases: dict[str, float] | None = None,
    max_memory: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """What `flatseq master` does for one set (`sequencer.calibration.master.build_set`), minus writing the masters."""
    from sequencer.calibration.combine import combine, default_workers
    from sequencer.calibration.fitspixels import FitsPixels
    from sequencer.calibration.rejection import Rejection
    from sequencer.calibration.stack import default_max_memory, hold_and_measure, plan_memory

    phases = {} if phases is None else phases
    workers = workers or default_workers()
    rejection = Rejection("sigma", 3.0, 3.0, 1)
    start = time.perf_counter()
    dark_sources = [FitsPixels(p).open() for p in darks]
    master_dark = np.asarray(combine(dark_sources, rejection, workers=workers).image, dtype=np.float64)
    phases["dark-flats"] = time.perf_counter() - start
    start = time.perf_counter()
    flat_files = [FitsPixels(p).open() for p in flats]
    memory = plan_memory(flat_files, max_memory or default_max_memory(), workers=workers)
    phases["held"] = memory.held
    flat_sources, medians = hold_and_measure(flat_files, master_dark, hold=memory.held, workers=workers)
    phases["read + medians"] = time.perf_counter() - start
    start = time.perf_counter()
    master = combine(flat_sources, rejection, subtract=master_dark, scales=medians, dtype=np.float32, workers=workers)
    master.image /= np.float32(master.mean)
    phases["flats"] = time.perf_counter() - start
    return np.asarray(master_dark), master.image


def bytes_read() -> int:
    """Bytes this process has passed through read()/pread() so far, page-cache hits included (Linux rchar)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def run_ccdproc(flats: list[Path], darks: list[Path], mem_limit: float) -> tuple[np.ndarray, np.ndarray]:
    import astropy.units as u
    import ccdproc
    from astropy.nddata import CCDData

    clip = {
        "method": "average",
        "sigma_clip": True,
        "sigma_clip_low_thresh": 3,
        "sigma_clip_high_thresh": 3,
        "sigma_clip_func": "median",
        "sigma_clip_dev_func": "std",
        "mem_limit": mem_limit,
    }
    dark_frames = [CCDData.read(p, unit="adu") for p in darks]
    master_dark = ccdproc.combine(dark_frames, **clip)
    del dark_frames
    normalised = []
    for path in flats:
        flat = CCDData.read(path, unit="adu")
        calibrated = ccdproc.subtract_dark(flat, master_dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=False)
        normalised.append(calibrated.divide(np.median(calibrated.data)))
    master = ccdproc.combine(normalised, **clip)
    return np.asarray(master_dark.data), master.data / np.mean(master.data)


def run_siril(flats: list[Path], darks: list[Path], work: Path) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Siril's standard flat script on links to the inputs: (seconds, peak MB of siril-cli, master dark-flat in
    ADU, master flat)."""
    import shutil

    from astropy.io import fits

    from sequencer.results.sirilscript import RESULT_NAME, SCRIPT_NAME, siril_script

    folder = work / "siril"
    if folder.exists():
        shutil.rmtree(folder)
    for name, paths in (("flats", flats), ("biases", darks)):
        (folder / name).mkdir(parents=True)
        for path in paths:
            (folder / name / path.name).symlink_to(path.resolve())
    (folder / SCRIPT_NAME).write_text(siril_script("bench", None))
    home = folder / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    start = time.perf_counter()
    done = subprocess.run(
        ["siril-cli", "-d", str(folder), "-s", str(folder / SCRIPT_NAME)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"siril-cli failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    flat = fits.getdata(folder / f"{RESULT_NAME}.fit").astype(np.float32)
    dark = fits.getdata(folder / "process" / "bias_stacked.fit").astype(np.float64) * 65535.0
    shutil.rmtree(folder / "process")  # its converted and calibrated copies: several GB at full size
    return seconds, peak, dark, flat


def child(args: argparse.Namespace) -> int:
    """One side, in a fresh process: time it, note its peak memory, save its masters."""
    import warnings

    warnings.simplefilter("ignore")
    files = json.loads(Path(args.child_files).read_text())
    if args.child == "siril":
        seconds, peak, dark, flat = run_siril(
            [Path(p) for p in files["flats"]], [Path(p) for p in files["darks"]], Path(args.child_out)
        )
        np.save(Path(args.child_out) / "siril_dark.npy", dark)
        np.save(Path(args.child_out) / "siril_flat.npy", flat)
        print(json.dumps({"seconds": seconds, "peak_mb": peak, "baseline_mb": 0.0, "phases": {}, "reads": None}))
        return 0
    if args.child == "ccdproc":
        import ccdproc  # noqa: F401  (imports count as the baseline, not as the work)
    import astropy.io.fits  # noqa: F401

    import sequencer.calibration.combine  # noqa: F401

    baseline = peak_rss_mb()
    phases: dict[str, float] = {}
    read_before = bytes_read()
    start = time.perf_counter()
    if args.child == "ccdproc":
        dark, flat = run_ccdproc(
            [Path(p) for p in files["flats"]], [Path(p) for p in files["darks"]], args.ccdproc_mem_limit
        )
    else:
        dark, flat = run_ours(
            [Path(p) for p in files["flats"]],
            [Path(p) for p in files["darks"]],
            args.workers,
            phases,
            args.max_memory,
        )
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    read = bytes_read() - read_before
    tag = args.child_tag or args.child
    np.save(Path(args.child_out) / f"{tag}_dark.npy", dark)
    np.save(Path(args.child_out) / f"{tag}_flat.npy", flat)
    size = sum(Path(p).stat().st_size for p in files["flats"] + files["darks"])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "baseline_mb": baseline,
                "phases": phases,
                "reads": read / size if read >= 0 else None,
            }
        )
    )
    return 0


def run_side(
    name: str,
    files: Path,
    out: Path,
    workers: int | None,
    mem_limit: float,
    max_memory: int | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--child-files",
        str(files),
        "--child-out",
        str(out),
        "--ccdproc-mem-limit",
        str(mem_limit),
        "--child-tag",
        tag or name,
    ]
    if workers is not None:
        command += ["--workers", str(workers)]
    if max_memory is not None:
        command += ["--max-memory", str(max_memory)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30, help="flats, and as many dark-flats (default 30)")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--cols", type=int, default=9576)
    parser.add_argument("--workers", type=int, default=None, help="our threads (default: CPUs, max 4)")
    parser.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    parser.add_argument(
        "--ccdproc-mem-limit",
        type=float,
        default=2e9,
        help="ccdproc.combine's mem_limit in bytes (default 2e9; its own default, 16e9, lets it peak near 17 GB "
        "with the default inputs)",
    )
    parser.add_argument(
        "--max-memory",
        type=memory_size,
        default=None,
        help="our memory budget, as `flatseq master --max-memory` (default: its default)",
    )
    parser.add_argument("--ours-only", action="store_true", help="skip ccdproc (e.g. full IMX455 frames: --rows 6388)")
    parser.add_argument("--no-siril", action="store_true", help="leave out the Siril baseline")
    parser.add_argument("--child", choices=("ours", "ccdproc", "siril"), help=argparse.SUPPRESS)
    parser.add_argument("--child-files", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-tag", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    try:
        import ccdproc
    except ImportError:
        if not args.ours_only:
            print("ccdproc is not installed: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="flatseq-bench-master-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        mpx = args.rows * args.cols / 1e6
        print(
            f"inputs: {args.frames} flats + {args.frames} dark-flats, {args.cols}×{args.rows} "
            f"({mpx:.1f} Mpx, {args.rows * args.cols * 2 / 2**20:.0f} MiB each) from the simulated IMX455"
        )
        start = time.perf_counter()
        flats, darks = make_inputs(work, args.frames, args.rows, args.cols)
        versions = f"numpy {np.__version__}" + ("" if args.ours_only else f", ccdproc {ccdproc.__version__}")
        print(f"  made in {time.perf_counter() - start:.0f} s; {versions}, {os.cpu_count()} CPUs")
        files = work / "files.json"
        files.write_text(json.dumps({"flats": [str(p) for p in flats], "darks": [str(p) for p in darks]}))
        for path in flats + darks:  # both sides read from the page cache
            path.read_bytes()
        results: dict[str, dict[str, Any]] = {}
        siril = None
        if not args.no_siril and shutil.which("siril-cli"):
            siril = run_side("siril", files, work, None, args.ccdproc_mem_limit)
            siril_flat = np.load(work / "siril_flat.npy")
        elif not args.no_siril:
            print("  siril-cli is not installed: no Siril baseline (apt-get install siril)")
        if not args.ours_only:
            results["ccdproc"] = run_side("ccdproc", files, work, None, args.ccdproc_mem_limit)
        results["ours"] = run_side("ours", files, work, args.workers, args.ccdproc_mem_limit, args.max_memory)
        if args.workers != 1:
            results["ours, 1 thread"] = run_side(
                "ours", files, work, 1, args.ccdproc_mem_limit, args.max_memory, tag="ours1"
            )
        results["ours, two reads"] = run_side("ours", files, work, args.workers, args.ccdproc_mem_limit, 1, tag="ours2")
        ours_flat = np.load(work / "ours_flat.npy").astype(np.float64)
        ours_dark = np.load(work / "ours_dark.npy")
        same = all(
            np.array_equal(np.load(work / f"{tag}_flat.npy"), ours_flat.astype(np.float32))
            and np.array_equal(np.load(work / f"{tag}_dark.npy"), ours_dark)
            for tag in ("ours1", "ours2")
            if (work / f"{tag}_flat.npy").exists()
        )
        if not args.ours_only:
            ref_flat = np.load(work / "ccdproc_flat.npy")
            ref_dark = np.load(work / "ccdproc_dark.npy")
    siril_ok = True
    if siril is not None:
        ours = results["ours"]
        time_ratio, memory_ratio = ours["seconds"] / siril["seconds"], ours["peak_mb"] / siril["peak_mb"]
        corr = float(np.corrcoef(ours_flat.ravel(), siril_flat.astype(np.float64).ravel())[0, 1])
        siril_ok = time_ratio <= SIRIL_TIME and memory_ratio <= SIRIL_MEMORY and corr > SIRIL_CORRELATION
        print(
            f"\nSiril (siril-cli, its standard flat script): {siril['seconds']:.1f} s, peak RSS "
            f"{siril['peak_mb']:.0f} MB; ours {ours['seconds']:.1f} s, {ours['peak_mb']:.0f} MB"
        )
        print(
            f"targets against Siril: ≤ {SIRIL_TIME:g}× its time ({time_ratio:.2f}×), ≤ {SIRIL_MEMORY:g}× its peak "
            f"memory ({memory_ratio:.2f}×), correlation > {SIRIL_CORRELATION:g} ({corr:.6f}): "
            f"{'met' if siril_ok else 'NOT met'}"
        )
    print()
    print("  ours: flats held in memory (each file read once), or with --max-memory too small for them, read twice")
    print(f"  ours, 1 thread and two reads give the same masters to the bit: {'yes' if same else 'NO'}")
    print("  reads = bytes read (read/pread, page cache included) ÷ bytes of all input files\n")
    if args.ours_only:
        for name, r in results.items():
            parts = ", ".join(
                f"{k} {v:.1f} s" if k != "held" else f"{v:.0f} flats held" for k, v in r["phases"].items()
            )
            print(
                f"{name:16}{r['seconds']:6.1f} s ({parts}); peak RSS {r['peak_mb']:.0f} MB, "
                f"{r['peak_mb'] - r['baseline_mb']:.0f} MB above its imports; reads {r['reads']:.2f}×"
            )
        print(f"master flat mean {ours_flat.mean():.6f}")
        return 0 if same and siril_ok else 1
    base = results["ccdproc"]
    base_used = base["peak_mb"] - base["baseline_mb"]
    print(f"{'':16}{'time':>9}{'peak RSS':>11}{'above imports':>15}{'speed-up':>10}{'memory':>9}{'reads':>7}")
    for name, r in results.items():
        used = r["peak_mb"] - r["baseline_mb"]
        print(
            f"{name:16}{r['seconds']:8.1f}s{r['peak_mb']:9.0f} MB{used:12.0f} MB"
            f"{base['seconds'] / r['seconds']:9.1f}×{r['peak_mb'] / base['peak_mb']:8.2f}×"
            f"{'  mmap' if name == 'ccdproc' else format(r['reads'], '6.2f') + '×'}"
            f"  ({used / base_used:.2f}× above imports)"
        )
    for name, r in results.items():
        if r["phases"]:
            print(
                f"  {name}: "
                + ", ".join(f"{k} {v:.1f} s" if k != "held" else f"{v:.0f} flats held" for k, v in r["phases"].items())
            )
    flat_diff = float(np.abs(ours_flat - ref_flat).max())
    dark_diff = float(np.abs(ours_dark - ref_dark).max())
    print(f"\nlargest difference: master flat {flat_diff:.2e} (float32 output), master dark-flat {dark_diff:.2e} ADU")
    ours = results["ours"]
    speed = base["seconds"] / ours["seconds"]
    memory = ours["peak_mb"] / base["peak_mb"]
    ok = speed >= TARGET_SPEED and memory <= TARGET_MEMORY and flat_diff <= TARGET_DIFF and same
    print(
        f"targets: ≥ {TARGET_SPEED:g}× faster ({speed:.1f}×), ≤ {TARGET_MEMORY:g}× peak memory ({memory:.2f}×), "
        f"difference ≤ {TARGET_DIFF:g} ({flat_diff:.1e}): {'met' if ok else 'NOT met'}"
    )
    return 0 if ok and siril_ok else 1


if __name__ == "__main__":
    sys.exit(main())
