"""The run manifest: one JSON file that always says exactly which frames are on disk, and what they are.

It is rewritten atomically (temporary file, fsync, rename) after each frame lands, never before, so after
a crash or a power cut it lists only files that exist. ``flatseq master`` reads it back with
`Manifest.load` to find each set's flats and dark-flats without guessing from file names.

Schema (``format`` "flatseq-manifest", ``version`` 1); times are ISO-8601 UTC with a trailing ``Z``;
paths are relative to the manifest's directory, ``/``-separated::

    {
      "format": "flatseq-manifest", "version": 1, "software": "flatseq 0.1.0",
      "run_id": "2026-11-24T031500Z",
      "sequence": {"path": "/home/me/narrowband.yaml", "sha256": "<hex>"} | null,
      "started": "…Z", "finished": "…Z" | null,
      "status": "running" | "finished" | "failed" | "interrupted" | "crashed",
                # "running" after a crash, until `flatseq recover` (or --resume) marks it "crashed"
      "reason": str | null,
      "light": "off" | "THE PANEL MAY STILL BE ON",     # at the end of the run
      "light_answer": str | null,                       # what the panel answered when it did not switch off
      "equipment": {"camera": "sim://camera?sensor=small", "panel": "…", "filter_wheel": "…"},
      "camera": "camera name" | null,
      "pattern": "{set}/{folder}/{kind}_{filter}_{exposure}s_{n:03d}.fits",   # the file names' pattern;
                # a resume names its frames with it (absent in manifests from before it was recorded)
      "sets": [{
        "id": "Ha_4s", "filter": "Ha" | null, "exposure": 4.0 | null,   # null: to be found, not found yet
        "settings": {"gain": 100, "offset": 50, "binning": 1, "readout_mode": 0,
                     "readout_mode_name": "Normal" | null, "set_temp": -10.0 | null},   # as asked
        "settings_read": {"gain", "offset", "binning", "readout_mode", "set_temp"} | null, # as read back
        "flats_planned": 30 | null, "dark_flats_planned": 30 | null,
        "brightness": 118 | null, "panel_max": 255 | null,
        "trials": [{"brightness": 128 | null, "mean": 30123.4, "in_window": false, "sat": 0.0,
                    "exposure": 2.35}],    # "exposure" for an exposure search's trials only
        "exposure_search": {"min": 0.1, "max": 60.0, "step": 0.1 | null, "brightness": 255 | null},
                # only for a set whose exposure is found at run time ("exposure": auto)
        "status": "running" | "ok" | "failed" | "skipped", "reason": str | null,
        "started": "…Z", "finished": "…Z" | null,
        "flats": [FRAME], "dark_flats": [FRAME]
      }],
      "files": [{"file": "Ha_4s/flats/flat_Ha_4s_001.fits", "set": "Ha_4s", "kind": "flat",
                 "frame_no": 1, "rejected": false}]
    }

    FRAME = {"file": "Ha_4s/flats/flat_Ha_4s_001.fits", "frame_no": 1, "kind": "flat" | "darkflat" | "bias",
             "rejected": false, "reason": str | null,
             "stats": {"mean", "median", "std", "min", "max", "sat"} | null,
             "date_obs": "…Z" | null, "ccd_temp": -10.1 | null, "brightness": 118 | null,
             "exposure": 4.0 | null,             # seconds, as the camera timed it when it reports it
             "exposure_requested": 4.0 | null, "exposure_reported": true}
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from drivers.base import CameraSettings
from drivers.clock import Clock
from drivers.errors import ConfigError, quoted
from sequencer.core.atomicfile import OutputError, describe_os_error, replace_file
from sequencer.core.jsonfields import FieldError, Fields, describe, load_json
from sequencer.core.timestamps import iso_utc
from sequencer.output.header import FrameHeader, software_version
from sequencer.output.keywords import FrameKind
from sequencer.output.records import SET_STATUSES, ExposureSearchRecord, FrameRecord, SetRecord, TrialRecord

__all__ = ["FORMAT", "MANIFEST_NAME", "VERSION", "Manifest", "sha256_of"]

MANIFEST_NAME = "manifest.json"
FORMAT = "flatseq-manifest"
VERSION = 1
RUN_STATUSES = ("running", "finished", "failed", "interrupted", "crashed")
MAX_MANIFEST_BYTES = 64_000_000
"""A manifest larger than this is not one (10 000 frames take about 6 MB)."""


class Manifest:
    """A run's manifest, kept on disk in step with every change. Thread-safe: the FITS writer thread
    adds frames while the sequencer begins and ends sets."""

    def __init__(self, path: Path, header: dict[str, Any], sets: list[SetRecord], clock: Clock | None) -> None:
        """Use `create` or `load`."""
        self.path = path
        self._header = header
        self._sets = sets
        self._clock = clock
        self._lock = threading.Lock()

    # ---- creating and loading -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        run_id: str,
        clock: Clock,
        sequence_file: Path | None = None,
        sequence_sha256: str | None = None,
        equipment: Mapping[str, str] | None = None,
        camera: str | None = None,
        pattern: str | None = None,
    ) -> Manifest:
        """Start a new manifest (status "running"); refuses to replace an existing one."""
        if sequence_file is not None and sequence_sha256 is None:
            sequence_sha256 = sha256_of(sequence_file)
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "software": software_version(),
            "run_id": run_id,
            "sequence": None
            if sequence_file is None
            else {"path": str(Path(sequence_file).resolve()), "sha256": sequence_sha256},
            "started": iso_utc(clock.now()),
            "finished": None,
            "status": "running",
            "reason": None,
            "equipment": dict(equipment or {}),
            "camera": camera,
        }
        if pattern is not None:
            header["pattern"] = pattern
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError as exc:
            raise OutputError(f"{path}: a manifest already exists here; not overwriting it") from exc
        except OSError as exc:
            raise OutputError(f"{path}: cannot create the manifest: {describe_os_error(exc)}") from exc
        manifest = cls(path, header, [], clock)
        with manifest._lock:
            manifest._save()
        return manifest

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest back (for ``flatseq master``); ConfigError, naming the file and the key, if it is
        not one or any value in it is wrong (a manifest is a file anyone may have edited)."""
        try:
            data = load_json(Path(path), MAX_MANIFEST_BYTES)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the manifest: {describe_os_error(exc)}") from exc
        except FieldError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f'{path}: not a flatseq manifest (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise ConfigError(f"{path}: manifest version {describe(data.get('version'))}, expected {VERSION}")
        top = Fields(data, "")
        try:
            sets = [SetRecord.from_json(s.data, s.where) for s in top.objects("sets")]
        except FieldError as exc:
            raise ConfigError(f"{path}: malformed flat set in the manifest: {exc}") from None
        try:
            header = _checked_header(top)
        except FieldError as exc:
            raise ConfigError(f"{path}: malformed manifest: {exc}") from None
        _refuse_duplicates(Path(path), sets)
        return cls(Path(path), header, sets, None)

    # ---- reading --------------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def run_id(self) -> str:
        return str(self._header["run_id"])

    @property
    def status(self) -> str:
        return str(self._header["status"])

    @property
    def reason(self) -> str | None:
        return self._header.get("reason")

    @property
    def started(self) -> str:
        return str(self._header["started"])

    @property
    def finished(self) -> str | None:
        return self._header.get("finished")

    @property
    def sequence_path(self) -> str | None:
        seq = self._header.get("sequence")
        return None if seq is None else str(seq["path"])

    @property
    def sequence_sha256(self) -> str | None:
        seq = self._header.get("sequence")
        return None if seq is None else seq.get("sha256")

    @property
    def pattern(self) -> str | None:
        """The pattern the run names its frames with (None in a manifest that predates it)."""
        return self._header.get("pattern")

    @property
    def equipment(self) -> dict[str, str]:
        return dict(self._header.get("equipment") or {})

    @property
    def sets(self) -> list[SetRecord]:
        with self._lock:
            return list(self._sets)

    def get_set(self, set_id: str) -> SetRecord:
        with self._lock:
            return self._find(set_id)

    def path_of(self, record: FrameRecord) -> Path:
        """Where a frame's file is on disk."""
        return self.directory / record.file

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return self._document()

    # ---- recording ------------------------------------------------------------------------------

    def begin_set(
        self,
        set_id: str,
        *,
        filter: str | None,
        exposure: float | None,
        settings: CameraSettings,
        readout_mode_name: str | None = None,
        flats_planned: int | None = None,
        dark_flats_planned: int | None = None,
        exposure_search: ExposureSearchRecord | None = None,
        lights: dict[str, Any] | None = None,
    ) -> SetRecord:
        """A flat set starts; its status is "running" until `end_set`. A set whose exposure is found at run time
        has `exposure` None and its `exposure_search` until `record_exposure`."""
        with self._lock:
            if any(s.id == set_id for s in self._sets):
                raise ValueError(f"flat set {set_id!r} is already in the manifest")
            record = SetRecord(
                id=set_id,
                filter=filter,
                exposure=None if exposure is None else float(exposure),
                exposure_search=exposure_search,
                settings=settings,
                readout_mode_name=readout_mode_name,
                flats_planned=flats_planned,
                dark_flats_planned=dark_flats_planned,
                started=self._now(),
                lights=lights,
            )
            self._sets.append(record)
            self._save()
            return record

    def record_settings_read(self, set_id: str, settings: CameraSettings) -> None:
        """The settings as the camera read them back for the set (its frames were taken with these)."""
        with self._lock:
            self._find(set_id).settings_read = settings
            self._save()

    def record_brightness(
        self,
        set_id: str,
        brightness: int | None,
        trials: Sequence[TrialRecord] = (),
        *,
        panel_max: int | None = None,
    ) -> None:
        """The brightness a search settled on and the trials it took (appended: a drift search adds more)."""
        with self._lock:
            record = self._find(set_id)
            record.brightness = brightness
            if panel_max is not None:
                record.panel_max = panel_max
            record.trials.extend(trials)
            self._save()

    def record_exposure(self, set_id: str, exposure: float | None, trials: Sequence[TrialRecord] = ()) -> None:
        """The exposure a search found for the set (None: it found none) and the trials it took."""
        with self._lock:
            record = self._find(set_id)
            if exposure is not None:
                record.exposure = float(exposure)
            record.trials.extend(trials)
            self._save()

    def add_frame(self, set_id: str, frame: FrameRecord) -> None:
        """A frame's file has landed on disk (call only after it has)."""
        with self._lock:
            record = self._find(set_id)
            (record.dark_flats if frame.kind is FrameKind.DARK_FLAT else record.flats).append(frame)
            self._save()

    def add_written(self, path: Path, header: FrameHeader) -> FrameRecord:
        """`add_frame` for a file the FITS writer has just put at `path`, described by its header."""
        frame = FrameRecord(
            file=Path(os.path.relpath(path, self.directory)).as_posix(),
            frame_no=header.frame_no,
            kind=header.kind,
            rejected=header.rejected,
            reason=header.reject_reason,
            stats=header.stat_values,
            date_obs=iso_utc(header.date_obs),
            ccd_temp=header.ccd_temp,
            brightness=header.panel_brightness,
            exposure=header.exposure,
            exposure_requested=header.exposure_requested,
            exposure_reported=header.exposure_reported,
        )
        self.add_frame(header.flat_set, frame)
        return frame

    def end_set(self, set_id: str, status: str, reason: str | None = None) -> None:
        """A flat set is over: "ok", "failed" or "skipped", with the reason when not ok."""
        if status not in SET_STATUSES[1:]:
            raise ValueError(f"set status must be one of {SET_STATUSES[1:]}, got {status!r}")
        with self._lock:
            record = self._find(set_id)
            record.status, record.reason, record.finished = status, reason, self._now()
            self._save()

    def finish(
        self, status: str, reason: str | None = None, *, light_off: bool = True, light_answer: str | None = None
    ) -> None:
        """The run is over: "finished", "failed" or "interrupted"; whether the panel's light was confirmed off
        at the end, and if not, what the panel answered."""
        if status not in RUN_STATUSES[1:]:
            raise ValueError(f"run status must be one of {RUN_STATUSES[1:]}, got {status!r}")
        light = "off" if light_off else "THE PANEL MAY STILL BE ON"
        with self._lock:
            self._header.update(
                status=status, reason=reason, finished=self._now(), light=light, light_answer=light_answer
            )
            self._save()

    # ---- after a crash: recovering and resuming -----------------------------------------------

    @classmethod
    def reopen(cls, path: Path, clock: Clock) -> Manifest:
        """A manifest read back to be written again (`flatseq recover`, `flatseq run --resume`)."""
        manifest = cls.load(path)
        manifest._clock = clock
        return manifest

    def crashed(self, reason: str, *, light_off: bool, light_answer: str | None) -> list[str]:
        """A run that stopped without finishing (SIGKILL, power cut): its running sets failed with `reason`, the
        run "crashed". Returns the sets it ended."""
        with self._lock:
            now, ended = self._now(), []
            for record in self._sets:
                if record.status == "running":
                    record.status, record.reason, record.finished = "failed", reason, now
                    ended.append(record.id)
            light = "off" if light_off else "THE PANEL MAY STILL BE ON"
            self._header.update(status="crashed", reason=reason, finished=now, light=light, light_answer=light_answer)
            self._save()
            return ended

    def resumed(self, plan: Mapping[str, str]) -> None:
        """A resume starts: the run is running again; `plan` says what each set gets (kept in "resumes")."""
        with self._lock:
            resumes = list(self._header.get("resumes") or [])
            resumes.append({"at": self._now(), "sets": dict(plan)})
            self._header.update(status="running", reason=None, finished=None, resumes=resumes)
            self._save()

    def reopen_set(self, set_id: str) -> None:
        """A set taken up again on resume: running until `end_set`."""
        with self._lock:
            record = self._find(set_id)
            record.status, record.reason, record.finished = "running", None, None
            self._save()

    def supersede(self, set_id: str, moved: Mapping[str, str], reason: str) -> None:
        """A set re-taken on resume: its frames so far (now at `moved[old file]`) no longer count."""
        with self._lock:
            record = self._find(set_id)
            for frames in (record.flats, record.dark_flats):
                frames[:] = [replace(f, file=moved.get(f.file, f.file), rejected=True, reason=reason) for f in frames]
            self._save()

    # ---- internals (call with the lock held) ----------------------------------------------------

    def _find(self, set_id: str) -> SetRecord:
        for record in self._sets:
            if record.id == set_id:
                return record
        raise ValueError(f"flat set {set_id!r} was never begun in the manifest")

    def _now(self) -> str:
        if self._clock is None:
            raise ValueError(f"{self.path}: a loaded manifest is read-only")
        return iso_utc(self._clock.now())

    def _document(self) -> dict[str, Any]:
        files = [
            {"file": f.file, "set": s.id, "kind": f.kind.value, "frame_no": f.frame_no, "rejected": f.rejected}
            for s in self._sets
            for f in s.flats + s.dark_flats
        ]
        return {**self._header, "sets": [s.to_json() for s in self._sets], "files": files}

    def _save(self) -> None:
        if self._clock is None:
            raise ValueError(f"{self.path}: a loaded manifest is read-only")
        text = json.dumps(self._document(), indent=1, allow_nan=False)
        replace_file(self.path, (text + "\n").encode("utf-8"))


def _checked_header(f: Fields) -> dict[str, Any]:
    """The manifest's run fields, each of the type the schema gives it."""
    status = f.text("status")
    if status not in RUN_STATUSES:
        raise FieldError(f"status: {quoted(status)} is not one of {', '.join(RUN_STATUSES)}")
    for key in ("run_id", "started"):
        f.text(key)
    for key in ("finished", "reason", "camera", "software", "pattern"):
        f.maybe_text(key)
    sequence = f.maybe_object("sequence")
    if sequence is not None:
        sequence.text("path")
        sequence.maybe_text("sha256")
    equipment = f.maybe_object("equipment")
    if equipment is not None:
        for role in equipment.data:
            equipment.text(role)
    return {k: v for k, v in f.data.items() if k not in ("sets", "files")}


def _refuse_duplicates(path: Path, sets: Sequence[SetRecord]) -> None:
    """One file is one frame: a flat listed three times must not be combined as three flats."""
    seen: dict[PurePosixPath, str] = {}
    for record in sets:
        for frame in record.flats + record.dark_flats:
            where, name = f"set {record.id}", PurePosixPath(frame.file)  # ./a.fits and a.fits are one file
            if name in seen:
                raise ConfigError(
                    f"{path}: {frame.file!r} is listed twice in the manifest ({seen[name]} and {where}); "
                    "one file is one frame"
                )
            seen[name] = where


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file: proves which sequence file produced a run."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise OutputError(f"{path}: cannot read the sequence file: {describe_os_error(exc)}") from exc
    return digest.hexdigest()
