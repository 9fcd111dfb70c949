"""The checks every master's frames pass before anything is combined: a set's flats alike, each dark-flat (or
bias frame) against its flats, naming the file and the keyword; the field notes' bias rules for `--bias`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drivers.errors import ConfigError
from sequencer.calibration.frames import FrameError, FrameInfo, format_seconds, scan
from sequencer.calibration.framesets import FlatSettings, Mismatch, show_value
from sequencer.output.keywords import FrameKind

BIAS_FINE_BELOW = 0.1
"""Flats shorter than this may be calibrated with bias (the field notes' rule)."""
DARK_FLATS_FROM = 0.2
"""From this exposure on, flats need dark-flats; between the two, bias "may suffice"."""


class MasterError(ConfigError):
    """A flat set that cannot be made into a master as asked (mismatched or missing calibration frames)."""


def bias_warning(exposure: float | None, label: str) -> str | None:
    """The field notes' bias rule for one flat set, or None when bias is fine."""
    if exposure is None or exposure < BIAS_FINE_BELOW:
        return None
    if exposure < DARK_FLATS_FROM:
        return (
            f"{label}: bias for {format_seconds(exposure)} flats may suffice depending on the camera "
            f"(bias is safe under {format_seconds(BIAS_FINE_BELOW)}); dark-flats are the clean choice"
        )
    return (
        f"{label}: bias for {format_seconds(exposure)} flats leaves their dark signal in the master flat; "
        f"from {format_seconds(DARK_FLATS_FROM)} on, take dark-flats"
    )


def _refuse(mismatch: Mismatch, label: str, what: str) -> MasterError:
    return MasterError(f"{mismatch.message()} (set {label}); {what} must match their flats")


def check_flats(
    flats: Sequence[FrameInfo], label: str, tolerance: float, *, check_exposure: bool = True
) -> FlatSettings:
    """The flats of one set must agree with each other (a sky set's in all but exposure); their settings."""
    settings = FlatSettings.of(flats)
    for flat in flats[1:]:
        problems = settings.mismatches(flat, temperature_tolerance=tolerance, check_exposure=check_exposure)
        if problems:
            p = problems[0]
            raise MasterError(
                f"{p.path}: {p.keyword} = {show_value(p.found)} where the set's other flats have "
                f"{show_value(p.expected)} (set {label}); one master needs flats taken alike"
            )
    return settings


def check_dark_flats(settings: FlatSettings, dark_flats: Sequence[FrameInfo], label: str, tolerance: float) -> None:
    """Refuse the set if any dark-flat differs from its flats, naming the file and the keyword."""
    for frame in dark_flats:
        if frame.kind is FrameKind.BIAS:
            raise MasterError(
                f"{frame.path}: IMAGETYP = {frame.imagetyp!r} among the dark-flats of set {label}; bias and "
                "dark-flats are never mixed in one master"
            )
        if not frame.kind.is_dark:
            raise MasterError(f"{frame.path}: IMAGETYP = {frame.imagetyp!r} is not a dark-flat (set {label})")
        problems = settings.mismatches(frame, temperature_tolerance=tolerance)
        if problems:
            raise _refuse(problems[0], label, "dark-flats")


def choose_bias(settings: FlatSettings, bias: Sequence[FrameInfo], label: str) -> list[FrameInfo]:
    """The bias frames taken with the flats' gain, offset, binning and readout mode (any temperature)."""
    if not bias:
        raise MasterError(f"set {label}: --bias gave no bias frames")
    matching = []
    first_problem: Mismatch | None = None
    for frame in bias:
        problems = settings.mismatches(frame, check_exposure=False, check_temperature=False)
        if problems:
            first_problem = first_problem or problems[0]
        else:
            matching.append(frame)
    if not matching:
        assert first_problem is not None
        raise _refuse(first_problem, label, "bias frames")
    return matching


def load_bias(paths: Sequence[Path]) -> list[FrameInfo]:
    """Bias frames from files and directories; any dark among them is refused (never mixed)."""
    infos, unreadable = scan(paths)
    if unreadable:
        raise FrameError(unreadable[0].reason)
    if not infos:
        raise MasterError(f"--bias {' '.join(str(p) for p in paths)}: no FITS files there")
    for info in infos:
        if info.kind.is_dark:
            raise MasterError(
                f"{info.path}: IMAGETYP = {info.imagetyp!r} given as bias; bias and dark-flats are never "
                "mixed in one master"
            )
        if info.kind is not FrameKind.BIAS:
            raise MasterError(f"{info.path}: IMAGETYP = {info.imagetyp!r} is not a bias frame (--bias)")
    return infos
