"""The exit codes of `flatseq`, in one place: scripts and CI branch on them. `--help` and the README show
`MEANINGS` as a table (a test keeps the README's equal to `exit_code_markdown()`)."""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Mapping


class ExitStatus(enum.IntEnum):
    """What a `flatseq` command's exit code means (`MEANINGS`)."""

    OK = 0
    FAILED = 1
    INVALID = 2
    LIGHT_MAY_BE_ON = 3
    SOFTWARE = 70
    SIGINT = 130
    SIGTERM = 143


MEANINGS: Mapping[ExitStatus, str] = {
    ExitStatus.OK: "everything asked for was done (for `audit`: no findings)",
    ExitStatus.FAILED: (
        "the command ran but something did not work: a flat set failed or was skipped, a device failed, "
        "the audit found mistakes"
    ),
    ExitStatus.INVALID: (
        "bad input (a sequence file, an equipment URL, an option, a setting the camera cannot take): one line "
        "naming `file:line:column` and the field; nothing was done or written"
    ),
    ExitStatus.LIGHT_MAY_BE_ON: (
        "the run ended but switching the panel's light off failed or could not be confirmed: go and look "
        "(the last line says THE PANEL MAY STILL BE ON; Ctrl-C and SIGTERM keep 130 and 143, and still say so)"
    ),
    ExitStatus.SOFTWARE: "an internal error (a bug; sysexits.h EX_SOFTWARE): one line, and the run still ended safely",
    ExitStatus.SIGINT: "stopped by Ctrl-C (128 + SIGINT), safely (a second Ctrl-C stops at once, light still off)",
    ExitStatus.SIGTERM: "stopped by SIGTERM (128 + SIGTERM), safely",
}


def exit_code_help() -> str:
    """The table at the end of `flatseq --help`."""
    lines = ["exit codes:"]
    lines += [
        textwrap.fill(meaning, 100, initial_indent=f"  {int(status):<5}", subsequent_indent=" " * 7)
        for status, meaning in MEANINGS.items()
    ]
    return "\n".join(lines)


def exit_code_markdown() -> str:
    """The table in the README."""
    lines = ["| exit code | meaning |", "|---|---|"]
    lines += [f"| {int(status)} | {meaning} |" for status, meaning in MEANINGS.items()]
    return "\n".join(lines)
