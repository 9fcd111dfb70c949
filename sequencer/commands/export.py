"""`flatseq export RUN --layout siril|wbpp|nina DEST`: the run's frames in a stacker's own tree."""

from __future__ import annotations

import argparse
import sys

from sequencer.commands.arguments import add_run, add_set_choice, add_temperature_tolerance

HELP = "lay a run's frames out as Siril, PixInsight WBPP or N.I.N.A. expect (hard links where possible)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run(parser)
    parser.add_argument(
        "--layout",
        required=True,
        choices=("siril", "wbpp", "nina"),
        help="siril: SET/flats, SET/biases (the dark-flats), SET/masters and a Siril 1.0 script per set; "
        "wbpp: SET/flats, SET/darkflats, SET/masters in XISF; nina: N.I.N.A.'s DATE/FLAT and DATE/DARK",
    )
    parser.add_argument("destination", help="a new (or empty) folder to export into")
    add_set_choice(parser)
    add_temperature_tolerance(parser)


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sequencer.calibration.masterplan import plan_masters
    from sequencer.results.export import export_run
    from sequencer.results.sirilscript import SCRIPT_NAME

    plan = plan_masters(Path(args.run), temperature_tolerance=args.temperature_tolerance, select=args.set)
    export = export_run(plan, args.layout, Path(args.destination), report=print)
    for note in export.notes:
        print(f"note: {note}", file=sys.stderr)
    how = f"{export.linked} hard-linked, {export.copied} copied" + (
        f", {export.converted} masters written as XISF" if export.converted else ""
    )
    print(f"{len(export.sets)} set{'s' if len(export.sets) != 1 else ''} exported for {args.layout} ({how})")
    if args.layout == "siril":
        for done in export.sets:
            print(f"  siril-cli -d {done.folder} -s {done.folder / SCRIPT_NAME}")
    return 0
