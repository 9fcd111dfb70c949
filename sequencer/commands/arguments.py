"""Arguments several commands share, defined once so they read and default alike (`master`, `export`,
`preview`, `audit`)."""

from __future__ import annotations

import argparse

RUN_HELP = "a run directory, its manifest.json, or any folder of flats and dark-flats"


def add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help=RUN_HELP)


def add_set_choice(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", action="append", default=[], metavar="ID", help="only this flat set (id or filter); repeatable"
    )


def add_temperature_tolerance(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--temperature-tolerance",
        type=float,
        default=1.0,
        metavar="DEG",
        help="largest CCD-TEMP difference between dark-flats and flats, °C (default 1)",
    )
