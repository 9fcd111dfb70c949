"""`flatseq run FILE [--dry-run]`: take the flats and dark-flats, strictly in order."""

from __future__ import annotations

import argparse
import sys

HELP = "run a sequence file on the equipment (or on the simulators with --dry-run)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the sequence file (YAML)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="swap every device for its simulator on a virtual clock; report how long the real run takes",
    )
    parser.add_argument(
        "--output", "-o", help="output directory (default: the sequence's; a temporary one for --dry-run)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines, only the summary")
    parser.add_argument(
        "--no-prompt",
        action="store_true",
        help="never ask at the terminal: a light switched by hand (panel: manual) is watched with test frames",
    )
    parser.add_argument(
        "--light-timeout",
        metavar="DURATION",
        default="10min",
        help="how long a light switched by hand may take to be confirmed on or off (default 10min)",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="finish a run that crashed, in its own directory: keep every frame it took, take what is missing",
    )


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drivers.errors import ConfigError
    from sequencer.core.units import parse_duration
    from sequencer.output.rundir import validate_output_directory
    from sequencer.run.context import RunContext
    from sequencer.run.runner import run_file
    from sequencer.run.terminal import Terminal

    if args.resume and args.output:
        raise ConfigError("--resume and --output: a resumed run stays in its own directory; give only --resume")
    if args.output is not None:
        try:
            validate_output_directory(args.output)  # refused before any device is opened
        except ConfigError as exc:
            raise ConfigError(f"--output: {exc}") from None
    try:
        light_timeout = parse_duration(args.light_timeout)
    except ValueError as exc:
        raise ConfigError(f"--light-timeout: {exc}") from None
    if light_timeout <= 0:
        raise ConfigError("--light-timeout: must be above 0 s")
    terminal = None if args.no_prompt or not sys.stdin.isatty() else Terminal(sys.stdin.fileno(), sys.stderr)
    context = RunContext(
        dry_run=args.dry_run,
        output_dir=args.output,
        quiet=args.quiet,
        handle_signals=True,
        resume=Path(args.resume) if args.resume else None,
        terminal=terminal,
        light_timeout=light_timeout,
    )
    report = run_file(args.file, context)
    for warning in report.warnings:
        print(f"warning: {warning}")
    for line in report.summary():
        print(line)
    if report.dry_run and report.run_dir is not None:
        print(f"  dry-run frames in {report.run_dir}")
    light = report.light_warning()
    if light:  # the last line, on both streams: nobody may miss it
        print(light)
        print(f"flatseq: {light}", file=sys.stderr)
    return report.exit_code
