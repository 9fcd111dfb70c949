"""`flatseq report RUN`: one self-contained HTML page about a run, to open in a browser."""

from __future__ import annotations

import argparse

HELP = "write one self-contained HTML page about a run: previews, brightness trials, ADU and temperatures, timeline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run directory (or its manifest.json)")
    parser.add_argument("--output", "-o", help="the HTML file to write (default: RUN/report.html)")


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sequencer.results.report import write_report

    path = write_report(Path(args.run), Path(args.output) if args.output else None, report=print)
    print(f"report → {path}")
    return 0
