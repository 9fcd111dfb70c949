"""Which frames make which master: each flat set, its flats, and the dark-flats (or bias) that calibrate it.

Frames come from a run's manifest when there is one (the sequencer's own record of what each set took),
otherwise from the FITS headers under a directory (grouped by FLATSET, or by equal settings for frames
from other programs). Before anything is combined, every calibration frame is checked against its flats'
headers, and a set is refused (one line, the file and the keyword) when they differ in exposure, gain,
offset, binning, readout mode or temperature. The field notes' bias rules apply to `--bias`: fine under
0.1 s, a warning from 0.1 s on (0.1–0.2 s "may suffice depending on the camera", from 0.2 s "make
dark-flats"), and bias and dark-flats are never mixed in one master.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drivers.errors import ConfigError
from sequencer.calibration.frames import (
    DEFAULT_TEMPERATURE_TOLERANCE,
    FrameError,
    FrameInfo,
    check_temperature_tolerance,
    fits_files,
    format_seconds,
    read_info,
    scan,
)
from sequencer.calibration.framesets import FlatGroup, FlatSettings, Mismatch, group_flats, show_value
from sequencer.output.keywords import FrameKind

BIAS_FINE_BELOW = 0.1
"""Flats shorter than this may be calibrated with bias (the field notes' rule)."""
DARK_FLATS_FROM = 0.2
"""From this exposure on, flats need dark-flats; between the two, bias "may suffice"."""


class MasterError(ConfigError):
    """A flat set that cannot be made into a master as asked (mismatched or missing calibration frames)."""


@dataclass
class SetPlan:
    """One master to make: a flat set's flats and the frames subtracted from them."""

    key: str
    flats: list[FrameInfo]
    calibration: list[FrameInfo]
    calibration_kind: str  # "dark-flat" or "bias"
    settings: FlatSettings
    skipped_flats: list[FrameInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def filter(self) -> str | None:
        return self.flats[0].filter

    @property
    def exposure(self) -> float | None:
        return self.settings.exposure

    def label(self) -> str:
        exp = "?" if self.exposure is None else format_seconds(self.exposure)
        return f"{self.key} ({self.filter or 'no filter'}, {exp})"


@dataclass
class MasterPlan:
    run_dir: Path
    sets: list[SetPlan]
    source: str  # "manifest" or "headers"
    warnings: list[str] = field(default_factory=list)


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


def check_flats(flats: Sequence[FrameInfo], label: str, tolerance: float) -> FlatSettings:
    """The flats of one set must agree with each other; returns their settings."""
    settings = FlatSettings.of(flats)
    for flat in flats[1:]:
        problems = settings.mismatches(flat, temperature_tolerance=tolerance)
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


def find_run(run: Path) -> tuple[Path, Path | None]:
    """The run directory and its manifest (None for a plain folder of frames)."""
    from sequencer.output.manifest import MANIFEST_NAME

    run = Path(run)
    if run.is_file():
        if run.suffix.lower() == ".json":
            return run.parent, run
        raise MasterError(f"{run}: expected a run directory or its {MANIFEST_NAME}")
    if not run.is_dir():
        raise MasterError(f"{run}: no such run directory")
    manifest = run / MANIFEST_NAME
    return run, manifest if manifest.is_file() else None


@dataclass
class _Found:
    key: str
    flats: list[FrameInfo]
    calibration: list[FrameInfo]
    skipped: list[FrameInfo]
    status: str = "ok"
    reason: str | None = None


def _from_manifest(manifest_path: Path) -> tuple[list[_Found], list[str]]:
    from sequencer.output.manifest import Manifest

    manifest = Manifest.load(manifest_path)
    _each_file_once([manifest.path_of(r) for s in manifest.sets for r in s.flats + s.dark_flats], manifest_path)
    found: list[_Found] = []
    notes: list[str] = []
    for record in manifest.sets:
        pairs = [(r, read_info(manifest.path_of(r))) for r in record.flats if r.kind is FrameKind.FLAT]
        usable = [info for r, info in pairs if not r.rejected and not info.rejected]
        skipped = [info for r, info in pairs if r.rejected or info.rejected]
        calibration = [read_info(manifest.path_of(r)) for r in record.dark_flats if not r.rejected]
        if not usable:
            notes.append(f"set {record.id}: no usable flats in the manifest (set {record.status}); skipped")
            continue
        found.append(_Found(record.id, usable, calibration, skipped, record.status, record.reason))
    return found, notes


def _each_file_once(paths: Sequence[Path], source: Path) -> None:
    """Refuse two names for one file (a symbolic link to a frame listed beside the frame): combining it twice
    would weigh that frame double."""
    seen: dict[Path, Path] = {}
    for path in paths:
        resolved = path.resolve()
        if resolved in seen:
            raise MasterError(f"{source}: {path} and {seen[resolved]} are the same file; one file is one frame")
        seen[resolved] = path


def _from_headers(run_dir: Path, tolerance: float) -> tuple[list[_Found], list[str], list[FrameInfo]]:
    files = fits_files(run_dir)
    _each_file_once(files, run_dir)
    infos = [read_info(p) for p in files]
    infos = [i for i in infos if i.kind is not FrameKind.MASTER]
    darks = [i for i in infos if i.kind.is_dark]
    linked_bias = [i for i in infos if i.kind is FrameKind.BIAS and i.flat_set]
    found: list[_Found] = []
    notes: list[str] = []
    for group in group_flats(infos, temperature_tolerance=tolerance):
        if not group.flats:
            notes.append(f"set {group.key}: every flat is marked REJECTED; skipped")
            continue
        calibration = _calibration_for(group, darks, linked_bias, tolerance)
        found.append(_Found(group.key, group.flats, calibration, group.rejected))
    return found, notes, darks


def _calibration_for(
    group: FlatGroup, darks: Sequence[FrameInfo], linked_bias: Sequence[FrameInfo], tolerance: float
) -> list[FrameInfo]:
    """A set's dark-flats: those carrying its FLATSET, else the darks whose settings all match its flats."""
    if group.flat_set:
        return [d for d in darks if group.links(d)] + [b for b in linked_bias if group.links(b)]
    settings = group.settings
    return [d for d in darks if not d.flat_set and not settings.mismatches(d, temperature_tolerance=tolerance)]


def _nearest_dark(group_settings: FlatSettings, darks: Sequence[FrameInfo], tolerance: float) -> Mismatch | None:
    best: list[Mismatch] | None = None
    for dark in darks:
        problems = group_settings.mismatches(dark, temperature_tolerance=tolerance)
        if problems and (best is None or len(problems) < len(best)):
            best = problems
    return best[0] if best else None


def plan_masters(
    run: Path,
    *,
    bias: Sequence[Path] | None = None,
    temperature_tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE,
    select: Sequence[str] = (),
) -> MasterPlan:
    """Find every flat set under `run` and what calibrates it; raises `MasterError` on the first problem."""
    check_temperature_tolerance(temperature_tolerance)
    run_dir, manifest = find_run(run)
    all_darks: list[FrameInfo] = []
    if manifest is not None:
        found, notes = _from_manifest(manifest)
        source = "manifest"
    else:
        found, notes, all_darks = _from_headers(run_dir, temperature_tolerance)
        source = "headers"
    if select:
        wanted = {s.lower() for s in select}
        found = [f for f in found if f.key.lower() in wanted or (f.flats[0].filter or "").lower() in wanted]
        if not found:
            raise MasterError(f"{run}: no flat set named {', '.join(select)}")
    else:
        unfinished = [f for f in found if f.status != "ok"]
        for item in unfinished:
            why = f": {item.reason}" if item.reason else ""
            notes.append(f"set {item.key}: the run marked it {item.status}{why}; skipped (--set {item.key} to try)")
            found.remove(item)
        if unfinished and not found:
            marks = "; ".join(f"set {f.key} {f.status}" + (f": {f.reason}" if f.reason else "") for f in unfinished)
            raise MasterError(
                f"{run}: no flat set the run finished ({marks}); --set {unfinished[0].key} makes its master anyway"
            )
    if not found:
        raise MasterError(f"{run}: no flats found ({'manifest' if manifest else 'FITS headers'} read)")
    bias_frames = load_bias(bias) if bias else None
    plans = [_set_plan(item, bias_frames, all_darks, temperature_tolerance) for item in found]
    return MasterPlan(run_dir, plans, source, notes)


def _set_plan(
    item: _Found, bias_frames: list[FrameInfo] | None, all_darks: Sequence[FrameInfo], tolerance: float
) -> SetPlan:
    """One set's master: its flats checked alike, and its dark-flats (or, with --bias, bias) checked against them."""
    key, flats, calibration, skipped = item.key, item.flats, item.calibration, item.skipped
    settings = check_flats(flats, key, tolerance)
    warnings: list[str] = []
    if bias_frames is not None:
        for frame in calibration:
            if frame.kind is FrameKind.BIAS:
                raise MasterError(
                    f"{frame.path}: IMAGETYP = 'BIAS' is linked to set {key}; with --bias, give every bias frame there"
                )
        if calibration:
            warnings.append(f"{key}: its {len(calibration)} dark-flats are not used (--bias)")
        chosen = choose_bias(settings, bias_frames, key)
        warning = bias_warning(settings.exposure, key)
        if warning:
            warnings.append(warning)
        return SetPlan(key, flats, chosen, "bias", settings, skipped, warnings)
    if not calibration:
        near = _nearest_dark(settings, all_darks, tolerance)
        hint = f"; nearest: {near.message()}" if near else ""
        advice = "take dark-flats" + (
            f" (or pass --bias: these are {format_seconds(settings.exposure)} flats)"
            if settings.exposure is not None and settings.exposure < BIAS_FINE_BELOW
            else ""
        )
        raise MasterError(f"set {key}: no dark-flats match its flats{hint}; {advice}")
    check_dark_flats(settings, calibration, key, tolerance)
    return SetPlan(key, flats, list(calibration), "dark-flat", settings, skipped, warnings)
