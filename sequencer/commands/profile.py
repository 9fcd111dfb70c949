"""`flatseq profile add/list/show`: equipment profiles, a rig's devices and camera written once."""

from __future__ import annotations

import argparse

from sequencer.core.exits import ExitStatus

HELP = "keep equipment profiles (equipment + camera) that sequences name with `profile: NAME`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add (or with --force replace) a profile")
    add.add_argument("name")
    add.add_argument("--from", dest="source", metavar="FILE", help="a YAML file with equipment and camera")
    add.add_argument("--camera", help="the camera's URL")
    add.add_argument("--panel", help="the panel's URL (or manual)")
    add.add_argument("--filter-wheel", help="the filter wheel's URL")
    add.add_argument("--gain", type=int)
    add.add_argument("--offset", type=int)
    add.add_argument("--temperature", type=float, help="cooler set-point, °C")
    add.add_argument("--instrument", help="INSTRUME as the camera writes it in the lights (for flatseq plan)")
    add.add_argument("--force", action="store_true", help="replace a profile of that name")
    sub.add_parser("list", help="the profiles and their cameras")
    show = sub.add_parser("show", help="print a profile")
    show.add_argument("name")


def _from_flags(args: argparse.Namespace) -> dict[str, object]:
    from drivers.errors import ConfigError

    missing = [flag for flag, value in (("--camera", args.camera), ("--panel", args.panel)) if value is None]
    if missing:
        raise ConfigError(f"profile add {args.name}: give {' and '.join(missing)} (or --from FILE)")
    equipment = {"camera": args.camera, "panel": args.panel}
    if args.filter_wheel:
        equipment["filter_wheel"] = args.filter_wheel
    camera: dict[str, object] = {"gain": args.gain or 0, "offset": args.offset or 0}
    if args.temperature is not None:
        camera["temperature"] = args.temperature
    data: dict[str, object] = {"equipment": equipment, "camera": camera}
    if args.instrument:
        data["instrument"] = args.instrument
    return data


def _add(args: argparse.Namespace) -> int:
    import yaml

    from drivers.errors import ConfigError
    from sequencer.core.atomicfile import replace_file
    from sequencer.plan.loader import load_file, load_text
    from sequencer.plan.profiles import ProfileModel, profile_path
    from sequencer.plan.validation import validate

    target = profile_path(args.name)
    if target.exists() and not args.force:
        raise ConfigError(f"{target}: profile {args.name!r} exists (--force replaces it)")
    if args.source:
        located = load_file(args.source)
        text = located.text
    else:
        text = yaml.safe_dump(_from_flags(args), sort_keys=False)
        located = load_text(text, f"profile {args.name}")
    if not isinstance(located.data, dict):
        raise located.error((), "a profile must be a mapping of keys (equipment, camera, ...)")
    validate(located, ProfileModel, located.data, ())
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_file(target, text.encode())
    print(f"profile {args.name}: {target}")
    return ExitStatus.OK


def execute(args: argparse.Namespace) -> int:
    from sequencer.plan.profiles import load_profile, profile_names, profile_path

    if args.action == "add":
        return _add(args)
    if args.action == "list":
        for name in profile_names():
            _, model = load_profile(name)
            print(f"{name}: camera {model.equipment.camera}, panel {model.equipment.panel}"
                  + (f", instrument {model.instrument}" if model.instrument else ""))  # fmt: skip
        return ExitStatus.OK
    load_profile(args.name)
    print(profile_path(args.name).read_text(encoding="utf-8"), end="")
    return ExitStatus.OK
