"""`flatseq run FILE [--dry-run]`: take the flats and dark-flats, strictly in order."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.clock import Clock
    from sequencer.run.context import RunContext

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
    parser.add_argument(
        "--json", action="store_true", help="the run's outcome as one JSON document on stdout (schema flatseq.run/1)"
    )
    dry = parser.add_argument_group("dry runs (--dry-run), repeatable for CI")
    dry.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="DEVICE=FAULT[@MOMENT[:N][..MOMENT[:N]]]",
        help="put the simulated bench under a fault (repeatable): camera=hang, camera=unplugged, "
        "camera=disconnect_after:N, cooler=stuck, panel=dead, panel=unplugged, panel=stuck_on, wheel=stuck, "
        "wheel=unplugged; @MOMENT (connect, light_on, switch_on, light_off, lit_exposure, dark_exposure, "
        "filter_move) strikes at the Nth such moment, ..MOMENT ends it, e.g. panel=dead@switch_on:2..switch_on:3",
    )
    dry.add_argument(
        "--at",
        metavar="DATETIME",
        help="when the virtual clock starts (ISO 8601, UTC unless a zone is given; default 2026-01-01T00:00:00Z)",
    )
    dry.add_argument("--seed", type=int, metavar="N", help="the simulated bench's seed (default: the URLs', or 0)")


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
    simulator, clock = _dry_run_options(args)
    terminal = None if args.no_prompt or not sys.stdin.isatty() else Terminal(sys.stdin.fileno(), sys.stderr)
    context = RunContext(
        dry_run=args.dry_run,
        output_dir=args.output,
        quiet=args.quiet,
        handle_signals=True,
        resume=Path(args.resume) if args.resume else None,
        terminal=terminal,
        light_timeout=light_timeout,
        simulator=simulator,
        clock=clock,
        at=args.at or None,
        stream=sys.stderr if args.json else None,
    )
    if args.json:
        return _run_json(args.file, context)
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


def _dry_run_options(args: argparse.Namespace) -> tuple[dict[str, str], Clock | None]:
    """`--fault`, `--seed` and `--at`: the simulated bench's options and the virtual clock (dry runs only)."""
    from drivers.errors import ConfigError
    from drivers.registry import default_registry
    from sequencer.run.dryrun import bench_options, check_faults, virtual_start

    given = [name for name, value in (("--fault", args.fault), ("--at", args.at), ("--seed", args.seed)) if value]
    if given and not args.dry_run:
        raise ConfigError(f"{given[0]}: only with --dry-run (a real run's devices and clock are real)")
    check_faults(args.fault, default_registry())
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise ConfigError(f"--seed {args.seed}: a whole number from 0 to {2**32 - 1}")
    if args.at:
        virtual_start(args.at)  # refused here, in one line, before anything is loaded
    return bench_options(args.fault, args.seed), None


def _run_json(file: str, context: RunContext) -> int:
    """The run with its outcome as JSON on stdout (progress on stderr); refused input too, then exit 2."""
    import json

    from drivers.errors import ConfigError
    from sequencer.core.exits import ExitStatus
    from sequencer.results.machinereadable import invalid_run_document, run_document
    from sequencer.run.runner import run_file

    try:
        report = run_file(file, context)
    except ConfigError as exc:
        json.dump(invalid_run_document(file, exc, ExitStatus.INVALID), sys.stdout, indent=2)
        sys.stdout.write("\n")
        raise
    json.dump(run_document(report), sys.stdout, indent=2)
    sys.stdout.write("\n")
    light = report.light_warning()
    if light:
        print(f"flatseq: {light}", file=sys.stderr)
    return report.exit_code
