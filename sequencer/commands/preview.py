"""`flatseq preview RUN`: one PNG per flat set, from the masters `flatseq master` left beside its frames."""

from __future__ import annotations

import argparse
import sys

from sequencer.commands.arguments import add_run, add_set_choice, add_temperature_tolerance

HELP = "draw one PNG per flat set from its masters: master flat, dust map, vignetting, master dark-flat, histograms"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run(parser)
    add_set_choice(parser)
    add_temperature_tolerance(parser)


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sequencer.calibration.masterplan import MasterError, plan_masters
    from sequencer.core.exits import ExitStatus
    from sequencer.results.previews import previews_from_disk

    plan = plan_masters(Path(args.run), temperature_tolerance=args.temperature_tolerance, select=args.set)
    for note in plan.warnings:
        print(f"note: {note}", file=sys.stderr)
    written, missing = previews_from_disk(plan, report=print)
    if missing:
        print(
            f"flatseq: no masters for {', '.join(missing)}: make them first with `flatseq master {args.run}` "
            "(or `flatseq master --preview`)",
            file=sys.stderr,
        )
    if not written:
        raise MasterError(f"{args.run}: no masters found, so no preview; run `flatseq master {args.run}` first")
    return ExitStatus.OK if not missing else ExitStatus.FAILED
