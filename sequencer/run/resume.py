"""`flatseq run FILE --resume RUN_DIR`: finish a run that crashed, keeping every frame it took.

The manifest says what each flat set has on disk. A finished set is skipped; a set with some flats takes the
rest, then its dark-flats; a set whose flats are complete takes only its missing dark-flats, but only if the
camera reads back the flats' settings and a sensor temperature within tolerance (otherwise the set is taken
again: its earlier frames move to `superseded/`, still listed, marked rejected). Set ids, settings and frame
numbers continue; nothing is overwritten; the manifest records each resume.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path

from drivers.base import CameraSettings
from drivers.errors import ConfigError
from sequencer.core.atomicfile import fsync_directory
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import Manifest, sha256_of
from sequencer.output.records import FrameRecord, SetRecord
from sequencer.plan.kinds import StepKind
from sequencer.plan.model import FlatSet, Plan, Step
from sequencer.run.capture import Tally
from sequencer.run.darkflats import FlatSample, FlatsTaken

SUPERSEDED = "superseded"


class Resume(enum.StrEnum):
    """What a flat set gets when its run is resumed."""

    DONE = "done"
    DARK_FLATS = "dark-flats only"
    CONTINUE = "rest of the flats, then dark-flats"
    RETAKE = "taken again"
    NEW = "new"


@dataclass
class SetResume:
    """One set's state on disk and what it gets."""

    how: Resume
    flats: list[FrameRecord] = field(default_factory=list)
    dark_flats: list[FrameRecord] = field(default_factory=list)
    next_flat_no: int = 1
    next_dark_no: int = 1
    settings_read: CameraSettings | None = None
    reason: str | None = None
    exposure: float | None = None
    """For a set whose exposure is found at run time: the exposure found before the crash (its flats'), which
    the rest of its flats and its dark-flats take."""

    @property
    def earlier(self) -> list[FlatSample]:
        """The accepted flats already on disk, as the dark-flats are checked against them."""
        return [sample_of_record(f) for f in self.flats]

    def flat_tally(self, fs: FlatSet) -> Tally:
        return Tally(max(0, fs.count - len(self.flats)), fs.count, self.next_flat_no)

    def dark_tally(self, fs: FlatSet) -> Tally:
        return Tally(max(0, fs.dark_count - len(self.dark_flats)), fs.dark_count, self.next_dark_no)

    def start_over(self, reason: str) -> None:
        """The earlier frames no longer count (they are superseded): the whole set, numbers continuing."""
        self.how, self.reason, self.flats, self.dark_flats = Resume.RETAKE, reason, [], []
        self.exposure = None  # taken again from the start: its exposure too


def sample_of_record(record: FrameRecord) -> FlatSample:
    mean = record.stats.mean if record.stats is not None else 0.0
    timed = record.exposure if record.exposure_reported else None
    return FlatSample(mean, record.ccd_temp, timed, record.exposure_requested)


def plan_resume(plan: Plan, manifest: Manifest, sequence_file: Path) -> dict[str, SetResume]:
    """What each of the plan's sets gets; ConfigError if the run directory was not made by this sequence."""
    recorded = manifest.sequence_sha256
    if recorded is not None and sha256_of(sequence_file) != recorded:
        raise ConfigError(
            f"{sequence_file}: the file has changed since {manifest.directory} was started; resume with the "
            "sequence file the run was started with"
        )
    records = {record.id: record for record in manifest.sets}
    unknown = sorted(set(records) - set(plan.sets))
    if unknown:
        raise ConfigError(f"{manifest.directory}: flat set {unknown[0]} is not in {sequence_file}")
    return {fs.id: _set_resume(fs, records.get(fs.id), manifest) for fs in plan.sets.values()}


def _set_resume(fs: FlatSet, record: SetRecord | None, manifest: Manifest) -> SetResume:
    if record is None:
        return SetResume(Resume.NEW)
    if (
        record.filter != fs.filter
        or not _same_exposure(fs, record.exposure)
        or (
            record.settings.gain,
            record.settings.offset,
            record.settings.binning,
        )
        != (fs.gain, fs.offset, fs.binning)
    ):
        raise ConfigError(f"{manifest.path}: flat set {fs.id} was taken with other settings than the sequence's")
    flats = [f for f in record.flats if f.kind is FrameKind.FLAT and not f.rejected]
    darks = [f for f in record.dark_flats if f.kind is FrameKind.DARK_FLAT and not f.rejected]
    numbers = SetResume(
        Resume.NEW,
        flats=flats,
        dark_flats=darks,
        next_flat_no=1 + max((f.frame_no for f in record.flats), default=0),
        next_dark_no=1 + max((f.frame_no for f in record.dark_flats), default=0),
        settings_read=record.settings_read,
        exposure=record.exposure if fs.auto is not None and flats else None,
    )
    if fs.sky is not None:  # the twilight does not come back: a sky set with flats only needs its dark-flats
        numbers.how = _sky_resume(fs, record, flats, darks)
        return numbers
    if record.status == "ok" or (len(flats) >= fs.count and len(darks) >= fs.dark_count):
        numbers.how = Resume.DONE
    elif len(flats) >= fs.count:
        numbers.how = Resume.DARK_FLATS
    elif flats:
        numbers.how = Resume.CONTINUE
    else:
        numbers.how = Resume.RETAKE if record.flats or record.dark_flats else Resume.NEW
    return numbers


def _sky_resume(fs: FlatSet, record: SetRecord, flats: list[FrameRecord], darks: list[FrameRecord]) -> Resume:
    """A sky set is done when every exposure its flats used has its dark-flats; with flats, it gets only the
    dark-flats it lacks; with none, it is taken again (if its twilight is still on)."""
    if not flats:
        return Resume.RETAKE if record.flats or record.dark_flats else Resume.NEW
    lacking = missing_dark_flats(fs, flats, darks)
    return Resume.DONE if record.status == "ok" or not any(lacking.values()) else Resume.DARK_FLATS


def missing_dark_flats(fs: FlatSet, flats: list[FrameRecord], darks: list[FrameRecord]) -> dict[float, int]:
    """A sky set's dark-flats still to take, by exposure (the exposure asked of the camera)."""
    have: dict[float, int] = {}
    for d in darks:
        if d.exposure_requested is not None:
            have[d.exposure_requested] = have.get(d.exposure_requested, 0) + 1
    used = {f.exposure_requested for f in flats if f.exposure_requested is not None}
    return {e: max(0, fs.dark_count - have.get(e, 0)) for e in sorted(used)}


def _same_exposure(fs: FlatSet, recorded: float | None) -> bool:
    """The set's exposure and the one its earlier frames were taken at: the plan's, or, found at run time,
    within the set's range (or not found yet)."""
    if fs.auto is None:
        return recorded == fs.exposure
    return recorded is None or fs.auto.min - 1e-9 <= recorded <= fs.auto.max + 1e-9


def still_matches(
    resume: SetResume, read_back: CameraSettings, temperature: float | None, tolerance: float, ignore: tuple[str, ...]
) -> str | None:
    """Why the set's earlier frames cannot be kept with what the camera reads back now, or None."""
    if resume.settings_read is not None:
        diffs = read_back.differences(resume.settings_read, ignore=ignore)
        if diffs:
            return "the camera's settings differ from the earlier flats' (" + "; ".join(diffs) + ")"
    before = FlatsTaken.of(resume.earlier).temperature
    if before is not None and temperature is not None and abs(temperature - before) > tolerance:
        return f"sensor at {temperature:.1f} °C, the earlier flats at {before:.1f} °C (tolerance ±{tolerance:g} °C)"
    return None


def supersede(manifest: Manifest, set_id: str, reason: str) -> list[str]:
    """Move a set's frames so far to `superseded/<set>/` (they stay listed, rejected); the moved names."""
    record = manifest.get_set(set_id)
    run_dir = manifest.directory
    moved: dict[str, str] = {}
    for frame in record.flats + record.dark_flats:
        source = run_dir / frame.file
        if frame.file.startswith(f"{SUPERSEDED}/") or not source.is_file():
            continue
        target = _free_name(run_dir / SUPERSEDED / set_id / Path(frame.file).name)
        os.rename(source, target)
        fsync_directory(source.parent)
        fsync_directory(target.parent)
        moved[frame.file] = target.relative_to(run_dir).as_posix()
    manifest.supersede(set_id, moved, f"superseded on resume: {reason}")
    return list(moved.values())


def _free_name(target: Path) -> Path:
    """`target`, or the first free `NAME_N` beside it: a move never replaces a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = target, 0
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}_{n}{target.suffix}")
    return candidate


def skipped_on_resume(plan: Plan, resumed: dict[str, SetResume], step: Step, *, resuming: bool) -> bool:
    """Steps a resumed run leaves out: all of a finished set's, the light and flats of a set that needs only
    dark-flats, and the uncapping of sky flats when no sky set takes flats any more."""
    done = (Resume.DONE, Resume.DARK_FLATS)
    if step.sky is not None and step.kind is not StepKind.LIGHT_OFF and step.set_id is None:
        sky_sets = [fs for fs in plan.sets.values() if fs.sky is not None]
        return resuming and all(fs.id in resumed and resumed[fs.id].how in done for fs in sky_sets)
    this = resumed.get(step.set_id or "")
    if this is None or this.how not in done:
        return False
    if this.how is Resume.DONE:
        return True
    set_steps = [s for s in plan.steps if s.set_id == step.set_id]
    flats_at = next(i for i, s in enumerate(set_steps) if s.kind is StepKind.FLATS)
    return set_steps.index(step) <= flats_at
