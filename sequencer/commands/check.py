"""`flatseq check FILE...`: validate sequences with no hardware and show what each would do."""

from __future__ import annotations

import argparse
import glob
import json
import sys
from typing import Any

HELP = "validate sequence files and print the expanded plan, ADU window, duration and disk space"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="+", help="sequence files (YAML) or globs; with several, one result line each")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors and warnings")
    parser.add_argument(
        "--json", action="store_true", help="one JSON document on stdout (schema flatseq.check/1; see the README)"
    )
    parser.add_argument(
        "--at",
        metavar="DATE",
        help="for sky flats: the date and time to show the twilight window for (ISO, the site's local time "
        "without an offset; default now)",
    )


def execute(args: argparse.Namespace) -> int:
    from drivers.errors import ConfigError
    from drivers.registry import default_registry
    from sequencer.core.exits import ExitStatus
    from sequencer.plan.compile import load_plan
    from sequencer.results.machinereadable import check_document, check_entry, error_entry
    from sequencer.run.estimate import estimate

    files = expand(args.file)
    registry = default_registry()
    if len(files) == 1 and not args.json:
        return _one(files[0], args.quiet, args.at)
    entries: list[dict[str, Any]] = []
    for file in files:
        try:
            plan = load_plan(file, registry)
            entries.append(check_entry(file, plan, estimate(plan, registry)))
        except ConfigError as exc:
            entries.append(error_entry(file, exc))
    bad = [entry for entry in entries if not entry["ok"]]
    if args.json:
        json.dump(check_document(entries), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for entry in entries:
            print(_result_line(entry))
    if bad:
        print(f"flatseq: error: {len(bad)} of {len(entries)} sequence files invalid", file=sys.stderr)
        return ExitStatus.INVALID
    return ExitStatus.OK


def expand(patterns: list[str]) -> list[str]:
    """The files named, globs expanded here too (a quoted glob, a shell that does not): each once, in order.
    A glob that matches nothing is refused, as a missing file is."""
    from drivers.errors import ConfigError

    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise ConfigError(f"{pattern}: no sequence file matches")
        files += [m for m in matches if m not in files]
    return files


def _result_line(entry: dict[str, Any]) -> str:
    """One line per file: `FILE: ok: NAME, ...` or the refusal, `FILE:LINE:COLUMN: message`."""
    from sequencer.core.units import format_duration
    from sequencer.output.space import format_bytes

    if not entry["ok"]:
        text: str = entry["error"]["text"]
        return text if text.startswith(entry["file"]) else f"{entry['file']}: {text}"
    est = entry["estimate"]
    warnings = len(entry["warnings"])
    note = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
    return (
        f"{entry['file']}: ok: {entry['name']}, {len(entry['sets'])} flat set(s), "
        f"{format_duration(est['seconds'])}, {format_bytes(est['bytes'])}{note}"
    )


def _one(file: str, quiet: bool, at: str | None = None) -> int:
    """One file: the whole plan, for people."""
    from drivers.registry import default_registry
    from sequencer.brightness.trials import Window
    from sequencer.core.units import format_duration
    from sequencer.output.space import format_bytes
    from sequencer.plan.compile import load_plan
    from sequencer.plan.model import describe_plan
    from sequencer.run.estimate import estimate

    registry = default_registry()
    plan = load_plan(file, registry)
    for warning in plan.warnings:
        print(f"warning: {warning}")
    if quiet:
        print(f"{file}: ok")
        return 0
    est = estimate(plan, registry)
    print(f"{plan.name} ({file}): {len(plan.sets)} flat set(s), {len(plan.steps)} steps")
    print("equipment: " + ", ".join(f"{k} {v}" for k, v in plan.equipment.items()))
    print("plan:")
    for line in describe_plan(plan):
        print(line)
    print("accepted brightness window (raw mean, 16-bit full scale):")
    for fs in plan.sets.values():
        w = Window.from_target(fs.target, fs.tolerance, 65535)
        print(
            f"  {fs.id:<18} {w.low_adu:.0f}-{w.high_adu:.0f} ADU "
            f"({fs.target:.0%} ± {fs.tolerance:.0%}: {fs.target * (1 - fs.tolerance):.1%}-"
            f"{fs.target * (1 + fs.tolerance):.1%} of full scale)"
        )
    parts = ", ".join(f"{k} {format_duration(v)}" for k, v in est.parts.items() if v)
    print(f"estimated duration: {format_duration(est.seconds)} ({parts}; cooling not included)")
    found = [fs for fs in plan.sets.values() if fs.auto is not None and fs.sky is None]
    if found and est.between is not None:
        low, high = (format_duration(s) for s in est.between)
        print(
            f"  {len(found)} set(s) find their exposure at run time (the estimate takes the middle of each range; "
            f"between {low} and {high}):"
        )
        for fs in found:
            assert fs.auto is not None
            light = f", brightness {fs.auto.brightness}" if fs.auto.brightness is not None else ""
            print(f"  {fs.id:<18} exposure {fs.auto.bounds()}{light}; its dark-flats take the exposure found")
    print(f"disk space needed: {format_bytes(est.bytes)} for {est.frames} frames ({est.camera.describe()})")
    for line in _sky_lines(plan, at):
        print(line)
    return 0


def _sky_lines(plan: Any, at: str | None) -> list[str]:
    """A sky sequence's twilight on the date given (or now)."""
    from sequencer.run.dryrun import dry_run_start
    from sequencer.run.skyforecast import forecast_lines, sky_sets

    if not sky_sets(plan):
        return []
    return forecast_lines(plan, dry_run_start(plan, at)[0])
