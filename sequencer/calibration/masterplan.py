"""Which frames make which master: each flat set, its flats, and the dark-flats (or bias) that calibrate it.

Frames come from a run's manifest when there is one (the sequencer's own record of what each set took),
otherwise from the FITS headers under a directory (grouped by FLATSET, or by equal settings for frames
from other programs). Before anything is combined, every calibration frame is checked against its flats'
headers, and a set is refused (one line, the file and the keyword) when they differ in exposure, gain,
offset, binning, readout mode or temperature. A sky set (its flats carry SUNALT) is one master over the
exposure ladder: its flats agree in everything but exposure, and each rung (EXPREQ, else EXPTIME) has
dark-flats of its own exposure, checked as a panel set's are. The checks and the field notes' bias rules
are `sequencer.calibration.setchecks`'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sequencer.calibration.frames import (
    DEFAULT_TEMPERATURE_TOLERANCE,
    FrameInfo,
    check_temperature_tolerance,
    fits_files,
    format_seconds,
    read_info,
)
from sequencer.calibration.framesets import (
    FlatGroup,
    FlatSettings,
    Mismatch,
    by_rung,
    describe_ladder,
    group_flats,
    is_sky,
    rung,
    same_exposure,
)
from sequencer.calibration.setchecks import BIAS_FINE_BELOW as BIAS_FINE_BELOW
from sequencer.calibration.setchecks import DARK_FLATS_FROM as DARK_FLATS_FROM
from sequencer.calibration.setchecks import MasterError as MasterError
from sequencer.calibration.setchecks import (
    bias_warning,
    check_dark_flats,
    check_flats,
    choose_bias,
    load_bias,
)
from sequencer.output.keywords import FrameKind


@dataclass(frozen=True)
class Rung:
    """One exposure of a sky set: its flats and the dark-flats (or bias) subtracted from them."""

    exposure: float
    flats: list[FrameInfo]
    calibration: list[FrameInfo]


@dataclass
class SetPlan:
    """One master to make: a flat set's flats and the frames subtracted from them. A sky set also has its
    `rungs` (one per exposure, shortest first; `flats` and `calibration` are theirs in that order) and no
    single `exposure`."""

    key: str
    flats: list[FrameInfo]
    calibration: list[FrameInfo]
    calibration_kind: str  # "dark-flat" or "bias"
    settings: FlatSettings
    skipped_flats: list[FrameInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rungs: list[Rung] = field(default_factory=list)

    @property
    def filter(self) -> str | None:
        return self.flats[0].filter

    @property
    def exposure(self) -> float | None:
        return self.settings.exposure

    @property
    def is_sky(self) -> bool:
        return bool(self.rungs)

    def exposure_text(self) -> str:
        """'4 s' for a panel set, '1s-2.44s ladder, 4 exposures' for a sky set."""
        if self.rungs:
            return describe_ladder([r.exposure for r in self.rungs])
        return "?" if self.exposure is None else format_seconds(self.exposure)

    def label(self) -> str:
        return f"{self.key} ({self.filter or 'no filter'}, {self.exposure_text()})"

    def rung_plan(self, one: Rung) -> SetPlan:
        """One rung of a sky set as a panel set of its exposure (the header of its master dark-flat)."""
        settings = replace(FlatSettings.of(one.flats), exposure=one.exposure)
        return SetPlan(self.key, one.flats, one.calibration, self.calibration_kind, settings)


@dataclass
class MasterPlan:
    run_dir: Path
    sets: list[SetPlan]
    source: str  # "manifest" or "headers"
    warnings: list[str] = field(default_factory=list)


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
    if is_sky(flats):
        return _sky_plan(item, bias_frames, tolerance)
    settings = check_flats(flats, key, tolerance)
    warnings: list[str] = []
    if bias_frames is not None:
        chosen = _bias_instead(item, settings, bias_frames, warnings)
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


def _bias_instead(
    item: _Found, settings: FlatSettings, bias_frames: list[FrameInfo], warnings: list[str]
) -> list[FrameInfo]:
    """--bias: no bias frame linked to the set itself, its dark-flats left out (said), the matching bias."""
    for frame in item.calibration:
        if frame.kind is FrameKind.BIAS:
            raise MasterError(
                f"{frame.path}: IMAGETYP = 'BIAS' is linked to set {item.key}; with --bias, give every bias frame there"
            )
    if item.calibration:
        warnings.append(f"{item.key}: its {len(item.calibration)} dark-flats are not used (--bias)")
    return choose_bias(settings, bias_frames, item.key)


def _sky_plan(item: _Found, bias_frames: list[FrameInfo] | None, tolerance: float) -> SetPlan:
    """A sky set: flats alike but for exposure, grouped by rung, each rung with dark-flats of its exposure."""
    key = item.key
    settings = check_flats(item.flats, key, tolerance, check_exposure=False)
    warnings: list[str] = []
    chosen = _bias_instead(item, settings, bias_frames, warnings) if bias_frames is not None else None
    if chosen is None:  # every linked frame a dark-flat taken alike, whatever its rung (exposure: per rung below)
        check_dark_flats(settings, [replace(d, exposure=None) for d in item.calibration], key, tolerance)
    ladder = by_rung(item.flats)
    exposures = [e for e, _ in ladder if e is not None]
    rungs: list[Rung] = []
    for exposure, flats in ladder:
        if exposure is None:
            raise MasterError(f"{flats[0].path}: no EXPTIME or EXPREQ (sky set {key}); each flat needs its exposure")
        shown = format_seconds(exposure)
        if chosen is not None:
            warning = bias_warning(exposure, f"{key} ({shown} rung)")
            warnings += [warning] if warning else []
            rungs.append(Rung(exposure, flats, chosen))
            continue
        mine = [d for d in item.calibration if same_exposure(rung(d), exposure)]
        if not mine:
            advice = " (or pass --bias: every rung is under 0.1 s)" if max(exposures) < BIAS_FINE_BELOW else ""
            raise MasterError(
                f"set {key}: no dark-flats of {shown} for its {len(flats)} flats of {shown}; take {shown} "
                f"dark-flats{advice}"
            )
        rung_settings = replace(FlatSettings.of(flats), exposure=exposure)
        check_dark_flats(rung_settings, [replace(d, exposure=exposure) for d in mine], key, tolerance)
        rungs.append(Rung(exposure, flats, mine))
    if chosen is None:
        unused = [d for d in item.calibration if not any(same_exposure(rung(d), e) for e in exposures)]
        if unused:
            warnings.append(f"{key}: {len(unused)} dark-flats match none of its flats' exposures; not used")
    calibration = chosen if chosen is not None else [d for r in rungs for d in r.calibration]
    all_flats = [f for r in rungs for f in r.flats]
    kind = "bias" if chosen is not None else "dark-flat"
    return SetPlan(key, all_flats, calibration, kind, replace(settings, exposure=None), item.skipped, warnings, rungs)
