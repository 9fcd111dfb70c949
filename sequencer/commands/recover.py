"""`flatseq recover RUN_DIR`: after a crash, the equipment made safe and the run directory put in order."""

from __future__ import annotations

import argparse
import sys

from sequencer.core.exits import ExitStatus

HELP = (
    "after a crash (killed, power cut): switch the panel off, abort any exposure, set the cover, remove "
    "unfinished files and mark the run crashed"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="the run directory (where its manifest.json is)")


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sequencer.run.recover import recover
    from sequencer.run.terminal import Terminal

    terminal = Terminal(sys.stdin.fileno(), sys.stderr) if sys.stdin.isatty() else None  # a light switched by hand
    found = recover(Path(args.run), terminal=terminal)
    for line in found.lines():
        print(line)
    if not found.light_off:
        print(f"flatseq: {found.lines()[-1]}", file=sys.stderr)
        return ExitStatus.LIGHT_MAY_BE_ON
    return ExitStatus.OK
