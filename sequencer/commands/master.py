"""`flatseq master RUN`: a master dark-flat and a master flat per flat set of a run (or a folder of frames)."""

from __future__ import annotations

import argparse
import re
import sys

from sequencer.commands.arguments import add_run, add_set_choice, add_temperature_tolerance

HELP = "make master dark-flats and master flats from a run directory (or its manifest.json)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run(parser)
    parser.add_argument("--output", "-o", help="where to write the masters (default: each set's masters/ folder)")
    parser.add_argument(
        "--format",
        choices=("fits", "xisf", "both"),
        default="fits",
        help="fits (default), xisf (PixInsight: WBPP takes masters only in XISF) or both",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also write a PNG per set beside its master flat: the master flat, its dust map, its vignetting "
        "profile, the master dark-flat, histograms of a flat and a dark-flat, the counts and the brightness",
    )
    parser.add_argument(
        "--bias",
        nargs="+",
        action="extend",
        metavar="DIR|FILE",
        help="calibrate with these bias frames instead of dark-flats (fine for flats under 0.1 s)",
    )
    parser.add_argument(
        "--rejection",
        choices=("sigma", "winsorized", "none"),
        default="sigma",
        help="outlier rejection across frames (default sigma: one pass of clipping about the median; winsorized "
        "is more robust and the one to use with fewer than ~15 frames)",
    )
    parser.add_argument("--low", type=float, default=3.0, help="low rejection threshold in σ (default 3)")
    parser.add_argument("--high", type=float, default=3.0, help="high rejection threshold in σ (default 3)")
    parser.add_argument("--iterations", type=int, default=1, help="rejection passes (default 1)")
    add_temperature_tolerance(parser)
    parser.add_argument(
        "--cfa",
        choices=("overall", "channels"),
        default="overall",
        help="a colour camera's master flat: mean 1 overall, the channels' ratios kept (default, as stackers "
        "expect), or each Bayer channel to mean 1 (Siril's and PixInsight's 'equalise CFA')",
    )
    add_set_choice(parser)
    parser.add_argument(
        "--workers", type=worker_count, default=None, help="threads for combining (default: CPUs, max 4)"
    )
    parser.add_argument(
        "--max-memory",
        type=memory_size,
        default=None,
        metavar="SIZE",
        help="memory for combining a set's flats, e.g. 6G or 3500M (default 6G, or 3/4 of the available memory "
        "if less). Each flat is read once into memory; a set that does not fit has some flats read twice, "
        "with a note",
    )


def worker_count(text: str) -> int:
    """A number of threads from 1 to 64."""
    if not (text.strip().isascii() and text.strip().isdigit() and 1 <= int(text) <= 64):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of threads from 1 to 64")
    return int(text)


def memory_size(text: str) -> int:
    """'6G', '6GiB', '3500M', '6gb' or a plain number of bytes; K/M/G/T are powers of 1024."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([KMGT])(?:I?B)?|B)?\s*", text, flags=re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a memory size (e.g. 6G, 3500M, 6000000000)")
    unit = match.group(2)
    size = int(float(match.group(1)) * 1024 ** ("KMGT".index(unit.upper()) + 1 if unit else 0))
    if size <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the memory size must be positive")
    return size


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sequencer.calibration.master import MasterOptions, build_masters
    from sequencer.calibration.masterplan import plan_masters
    from sequencer.calibration.rejection import Rejection
    from sequencer.results.previews import preview_after_master

    rejection = Rejection(args.rejection, args.low, args.high, args.iterations)
    plan = plan_masters(
        Path(args.run),
        bias=[Path(p) for p in args.bias] if args.bias else None,
        temperature_tolerance=args.temperature_tolerance,
        select=args.set,
    )
    for note in plan.warnings:
        print(f"note: {note}", file=sys.stderr)
    for s in plan.sets:
        for warning in s.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    options = MasterOptions(
        rejection=rejection,
        output=Path(args.output) if args.output else None,
        formats=("fits", "xisf") if args.format == "both" else (args.format,),
        workers=args.workers,
        max_memory=args.max_memory,
        keep_images=args.preview,
        cfa=args.cfa,
    )
    results = build_masters(
        plan,
        options,
        report=print,
        note=lambda text: print(f"note: {text}", file=sys.stderr),
        after_each=preview_after_master(plan, report=print) if args.preview else None,
    )
    print(f"{len(results)} master flat{'s' if len(results) != 1 else ''} ({rejection.describe()}):")
    for r in results:
        each = f" per exposure, {r.exposures} exposures" if r.exposures > 1 and r.calibration_kind != "bias" else ""
        print(
            f"  {r.key:<16} {r.flats} flats − master {r.calibration_kind}{each} ({r.calibration_frames}) → "
            f"{r.flat_path.name}, {100 * r.flat_rejected_fraction:.3f} % rejected"
        )
    return 0
