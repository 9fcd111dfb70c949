"""`flatseq sim alnitak|alpaca|indi`: serve the simulated bench over a real protocol for other programs."""

from __future__ import annotations

import argparse
import importlib

HELP = "serve the simulators over a real protocol (Alnitak serial on a pty, ASCOM Alpaca over HTTP, INDI)"

EMULATORS: dict[str, str] = {
    "alnitak": "simulators.alnitak.serve",
    "alpaca": "simulators.alpaca.serve",
    "indi": "simulators.indi.serve",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="emulator", metavar="PROTOCOL", required=True)
    for name, module_name in EMULATORS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        cmd = sub.add_parser(name, help=module.CLI_HELP, description=module.CLI_HELP)
        module.add_cli_arguments(cmd)
        cmd.set_defaults(serve=module.serve_cli)


def execute(args: argparse.Namespace) -> int:
    code: int = args.serve(args)
    return code
