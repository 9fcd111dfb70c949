"""`flatseq check FILE`: validate a sequence with no hardware and show what it would do."""

from __future__ import annotations

import argparse

HELP = "validate a sequence file and print the expanded plan, ADU window, duration and disk space"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the sequence file (YAML)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors and warnings")


def execute(args: argparse.Namespace) -> int:
    from drivers.registry import default_registry
    from sequencer.brightness.trials import Window
    from sequencer.core.units import format_duration
    from sequencer.output.space import format_bytes
    from sequencer.plan.compile import load_plan
    from sequencer.plan.model import describe_plan
    from sequencer.run.estimate import estimate

    registry = default_registry()
    plan = load_plan(args.file, registry)
    for warning in plan.warnings:
        print(f"warning: {warning}")
    if args.quiet:
        print(f"{args.file}: ok")
        return 0
    est = estimate(plan, registry)
    print(f"{plan.name} ({args.file}): {len(plan.sets)} flat set(s), {len(plan.steps)} steps")
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
    found = [fs for fs in plan.sets.values() if fs.auto is not None]
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
    return 0
