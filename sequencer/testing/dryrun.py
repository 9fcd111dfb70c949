"""`dry_run`: a sequence rehearsed on the simulators, its outcome read from what the run itself reports (the
`RunReport`) and what it left on disk (the manifest), never re-derived."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from drivers.registry import default_registry
from sequencer.brightness.trained import TrainedTable
from sequencer.core.exits import ExitStatus
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import Manifest
from sequencer.output.records import FrameRecord, SetRecord
from sequencer.run.context import RunContext
from sequencer.run.dryrun import bench_options, check_faults, virtual_start
from sequencer.run.report import RunReport, SetOutcome
from sequencer.run.runner import run_file

_KINDS = {
    "flat": FrameKind.FLAT,
    "darkflat": FrameKind.DARK_FLAT,
    "dark-flat": FrameKind.DARK_FLAT,
    "dark_flat": FrameKind.DARK_FLAT,
    "bias": FrameKind.BIAS,
}


@dataclass(frozen=True)
class FrameResult:
    """One frame on disk, as the manifest lists it."""

    path: Path
    set_id: str
    kind: str
    """"flat", "darkflat" or "bias" (`FrameKind` values, as in the manifest)."""
    frame_no: int
    rejected: bool
    reason: str | None
    mean: float | None
    """Mean ADU."""
    exposure: float | None
    """Seconds, as the camera timed it."""
    brightness: int | None
    ccd_temp: float | None


@dataclass(frozen=True)
class SetResult:
    """One flat set: how it ended (the run's summary) and its frames (the manifest)."""

    id: str
    label: str
    status: str
    """"ok", "failed", "skipped" or "pending"."""
    reason: str | None
    filter: str | None
    exposure: float | None
    """The set's exposure (found at run time for `exposure: auto`); None if never found."""
    brightness: int | None
    trials: int
    flats: tuple[FrameResult, ...]
    """The flats that count (not rejected)."""
    dark_flats: tuple[FrameResult, ...]
    """The dark-flats that count."""
    rejected: tuple[FrameResult, ...]


class SetResults(Mapping[str, SetResult]):
    """The sets in the sequence's order, by label ("Ha 4s") or by id ("01-Ha-4s")."""

    def __init__(self, sets: Sequence[SetResult]) -> None:
        self._sets = list(sets)

    def __getitem__(self, key: str) -> SetResult:
        for s in self._sets:
            if key in (s.label, s.id):
                return s
        raise KeyError(f"{key!r}: no such flat set (sets: {', '.join(s.label for s in self._sets)})")

    def __iter__(self) -> Iterator[str]:
        return iter(s.label for s in self._sets)

    def __len__(self) -> int:
        return len(self._sets)


@dataclass(frozen=True)
class DryRunResult:
    """What a dry run did: exit code, status, each set, every frame, and whether the light ended off."""

    exit_code: ExitStatus
    status: str
    """"finished", "failed" or "interrupted"."""
    error: str | None
    light_was_off_at_end: bool
    """The run's last light-off was confirmed (and the manifest says "off")."""
    run_dir: Path | None
    manifest_path: Path | None
    sets: SetResults
    report: RunReport
    """The run's own report, for anything not above."""

    def frames(
        self, kind: str | None = None, *, set: str | None = None, rejected: bool | None = None
    ) -> list[FrameResult]:
        """Frames on disk, in the order taken per set: of a `kind` ("flat", "darkflat"/"dark-flat", "bias"), of
        one `set` (label or id), rejected or not (None: both)."""
        wanted = _KINDS[kind.lower()].value if kind is not None else None
        chosen = [self.sets[set]] if set is not None else list(self.sets.values())
        out = []
        for s in chosen:
            for frame in sorted((*s.flats, *s.dark_flats, *s.rejected), key=lambda f: (f.kind, f.frame_no)):
                if (wanted is None or frame.kind == wanted) and (rejected is None or frame.rejected == rejected):
                    out.append(frame)
        return out


def dry_run(
    sequence: str | Path,
    *,
    faults: Sequence[str] = (),
    at: str | datetime | None = None,
    seed: int | None = None,
    output: str | Path | None = None,
) -> DryRunResult:
    """Rehearse `sequence` on the simulators: `faults` as `--fault` takes them, the virtual clock starting `at`
    (default 2026-01-01T00:00Z), the bench's `seed`, frames under `output` (default a new temporary
    directory). Starts from an empty trained-brightness table of its own, so a result does not depend on runs
    before it. Bad input raises `ConfigError` (what the command line refuses with exit 2)."""
    registry = default_registry()
    check_faults(faults, registry)
    if at is not None:
        virtual_start(at)  # a bad date refused before anything runs
    out = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix="flatseq-dry-run-"))
    out.mkdir(parents=True, exist_ok=True)
    context = RunContext(
        at=(at if isinstance(at, str) else at.isoformat()) if at is not None else None,
        dry_run=True,
        output_dir=out,
        registry=registry,
        trained=TrainedTable(out / "trained-brightness.json"),
        quiet=True,
        simulator=bench_options(faults, seed),
    )
    report = run_file(sequence, context)
    manifest = Manifest.load(report.manifest_path) if report.manifest_path is not None else None
    records = {r.id: r for r in manifest.sets} if manifest is not None else {}
    sets = [_set(o, records.get(o.id), manifest) for o in report.sets]
    light_off = report.light_off and (manifest is None or manifest.to_json().get("light") == "off")
    return DryRunResult(
        exit_code=ExitStatus(report.exit_code),
        status=report.status,
        error=report.error,
        light_was_off_at_end=light_off,
        run_dir=report.run_dir,
        manifest_path=report.manifest_path,
        sets=SetResults(sets),
        report=report,
    )


def _set(outcome: SetOutcome, record: SetRecord | None, manifest: Manifest | None) -> SetResult:
    frames = (
        []
        if record is None or manifest is None
        else [_frame(manifest, record.id, f) for f in (*record.flats, *record.dark_flats)]
    )
    kept = [f for f in frames if not f.rejected]
    return SetResult(
        id=outcome.id,
        label=outcome.label,
        status=outcome.status,
        reason=outcome.reason,
        filter=record.filter if record is not None else None,
        exposure=record.exposure if record is not None else outcome.exposure,
        brightness=outcome.brightness,
        trials=outcome.trials,
        flats=tuple(f for f in kept if f.kind == FrameKind.FLAT.value),
        dark_flats=tuple(f for f in kept if f.kind == FrameKind.DARK_FLAT.value),
        rejected=tuple(f for f in frames if f.rejected),
    )


def _frame(manifest: Manifest, set_id: str, record: FrameRecord) -> FrameResult:
    return FrameResult(
        path=manifest.path_of(record),
        set_id=set_id,
        kind=record.kind.value,
        frame_no=record.frame_no,
        rejected=record.rejected,
        reason=record.reason,
        mean=record.stats.mean if record.stats is not None else None,
        exposure=record.exposure,
        brightness=record.brightness,
        ccd_temp=record.ccd_temp,
    )
