"""The `flatseq` command: one sub-command per module in `sequencer.commands`, plus those other packages add
through the `flatseq.commands` entry points (the simulators add `flatseq sim` that way).

Each command module has `HELP`, `add_arguments(parser)` and `execute(args) -> int`, and keeps heavy
imports inside `execute`. User errors (`FlatseqError`) become one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from drivers.errors import ConfigError, FlatseqError
from sequencer.core.exits import ExitStatus

COMMANDS: dict[str, str] = {
    "check": "sequencer.commands.check",
    "run": "sequencer.commands.run",
    "recover": "sequencer.commands.recover",
    "master": "sequencer.commands.master",
    "preview": "sequencer.commands.preview",
    "export": "sequencer.commands.export",
    "report": "sequencer.commands.report",
    "audit": "sequencer.commands.audit",
    "plan": "sequencer.commands.plan",
    "profile": "sequencer.commands.profile",
}
ENTRY_POINT_GROUP = "flatseq.commands"


def command_modules() -> dict[str, str]:
    """Command name → module: ours, then those installed packages add (which may not replace ours)."""
    modules = dict(COMMANDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        modules.setdefault(ep.name, ep.value)
    return modules


def build_parser() -> argparse.ArgumentParser:
    from sequencer.core.exits import exit_code_help
    from sequencer.output.header import software_version

    parser = argparse.ArgumentParser(
        prog="flatseq",
        description="Flats and matching dark-flats, strictly in order.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=software_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in command_modules().items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a command still being built
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(execute=module.execute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.execute(args)
    except ConfigError as exc:
        print(f"flatseq: error: {one_line(str(exc))}", file=sys.stderr)
        return ExitStatus.INVALID
    except FlatseqError as exc:
        print(f"flatseq: error: {one_line(str(exc))}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        print("flatseq: interrupted", file=sys.stderr)
        return ExitStatus.SIGINT
    except BrokenPipeError:  # `flatseq check FILE | head`: the reader left; not an error worth a word
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
    except Exception as exc:  # a bug, not the user's doing: say so in one line, traceback on request
        if os.environ.get("FLATSEQ_DEBUG"):
            raise
        print(
            f"flatseq: internal error: {type(exc).__name__}: {one_line(str(exc))} (a bug: please report it; "
            "FLATSEQ_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return ExitStatus.SOFTWARE
    return code


def one_line(text: str) -> str:
    """A message as one printable line: a newline, a tab or a terminal escape that came from a file's
    content (a key, a filter name, a FITS card) is shown escaped, never obeyed."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


if __name__ == "__main__":
    sys.exit(main())
