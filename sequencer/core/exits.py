"""The exit codes of `flatseq`, in one place: scripts and CI branch on them."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """What a `flatseq` command's exit code means."""

    OK = 0
    """Everything asked for was done (for `audit`: no findings)."""
    FAILED = 1
    """The command ran but something did not work: a flat set failed or was skipped, a device failed, the audit
    found mistakes."""
    INVALID = 2
    """Bad input (sequence file, equipment URL, option, a setting the camera cannot take); nothing was done."""
    LIGHT_MAY_BE_ON = 3
    """The run ended but switching the panel's light off failed or could not be confirmed: go and look. The
    summary's last line and the manifest say so, with what the device answered. (Ctrl-C and SIGTERM keep 130
    and 143, and still say so.)"""
    SOFTWARE = 70
    """An internal error (a bug; sysexits.h EX_SOFTWARE): the run still ended safely."""
    SIGINT = 130
    """Stopped by Ctrl-C (128 + SIGINT), safely."""
    SIGTERM = 143
    """Stopped by SIGTERM (128 + SIGTERM), safely."""
