"""`flatseq audit DIR`: check folders of flats, dark-flats and bias for the field notes' classic mistakes."""

from __future__ import annotations

import argparse

from sequencer.commands.arguments import add_temperature_tolerance
from sequencer.core.exits import ExitStatus

HELP = (
    "check a folder of flats, dark-flats and bias (flatseq's or N.I.N.A.'s) for calibration mistakes; with the "
    "night's lights in it, that every light configuration has its flats"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="+", help="folders (or files) to read every FITS header from")
    parser.add_argument("--json", action="store_true", help="print the report as JSON for scripts")
    add_temperature_tolerance(parser)


def execute(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from sequencer.calibration.audit import render_table
    from sequencer.calibration.nightaudit import audit_night, render_night

    report = audit_night([Path(d) for d in args.directory], temperature_tolerance=args.temperature_tolerance)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_table(report.calibration))
        if report.coverage:
            print("\n".join(render_night(report)))
    return ExitStatus.OK if report.ok else ExitStatus.FAILED
