"""`flatseq plan LIGHTS... [-o FILE]`: the flats and dark-flats tonight's lights need, as a sequence."""

from __future__ import annotations

import argparse

from sequencer.core.exits import ExitStatus

HELP = "plan the flats and dark-flats for the light frames taken (their FITS headers) as a sequence file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lights", nargs="+", help="light frames, or folders of them (read recursively)")
    parser.add_argument(
        "--output", "-o", help="the sequence file to write (one per camera: NAME-CAMERA.yaml); default: stdout"
    )
    parser.add_argument("--profile", "-p", help="the equipment profile to name (default: the one whose "
                        "instrument is the lights' INSTRUME)")  # fmt: skip
    parser.add_argument("--name", default="", help="the sequence's name")


def execute(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from drivers.errors import ConfigError
    from sequencer.calibration.lightplan import render_table
    from sequencer.calibration.nightplan import plan_night, slug
    from sequencer.core.atomicfile import replace_file

    night = plan_night([Path(p) for p in args.lights], profile=args.profile, name=args.name)
    scan = night.scan
    info = sys.stderr if args.output is None else sys.stdout
    others = ", ".join(f"{n} {kind}" for kind, n in sorted(scan.others.items()))
    print(f"{len(scan.lights)} lights" + (f" (also {others}: not lights)" if others else ""), file=info)
    for skipped in scan.skipped:
        print(f"skipped: {skipped.reason}", file=info)
    if not scan.lights:
        print("flatseq: no light frames found: nothing to plan", file=sys.stderr)
        return ExitStatus.FAILED
    several = len(night.sequences) > 1
    if several and args.output is None:
        raise ConfigError(f"the lights come from {len(night.sequences)} cameras: give -o FILE (one file each)")
    for seq, profile in night.sequences:
        target = None
        if args.output is not None:
            out = Path(args.output)
            target = out.with_name(f"{out.stem}-{slug(seq.instrument)}{out.suffix}") if several else out
            replace_file(target, seq.text.encode())
        print("", file=info)
        where = f" → {target}" if target is not None else ""
        print(f"{seq.instrument or 'camera (no INSTRUME)'}: profile {profile or '(none: simulated bench)'}{where}",
              file=info)  # fmt: skip
        for row in render_table(seq):
            print("  " + row, file=info)
        for note in seq.notes:
            print(f"note: {note}", file=info)
        if target is None:
            sys.stdout.write(seq.text)
    return ExitStatus.OK
