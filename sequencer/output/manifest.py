"""The run manifest: one JSON file that always says exactly which frames are on disk, and what they are.

It is rewritten atomically (temporary file, fsync, rename) after each frame lands, never before, so after
a crash or a power cut it lists only files that exist. ``flatseq master`` reads it back with
`Manifest.load` to find each set's flats and dark-flats without guessing from file names.

The schema, and how a manifest is read back untrusted: `sequencer.output.manifestread`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from drivers.base import CameraSettings
from drivers.clock import Clock
from sequencer.core.atomicfile import OutputError, describe_os_error, replace_file
from sequencer.core.timestamps import iso_utc
from sequencer.output.header import FrameHeader, software_version
from sequencer.output.keywords import FrameKind
from sequencer.output.manifestread import FORMAT, RUN_STATUSES, VERSION, read_manifest
from sequencer.output.records import SET_STATUSES, ExposureSearchRecord, FrameRecord, SetRecord, TrialRecord

__all__ = ["FORMAT", "MANIFEST_NAME", "VERSION", "Manifest", "sha256_of"]

MANIFEST_NAME = "manifest.json"


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
        header, sets = read_manifest(Path(path))
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
        sky: dict[str, Any] | None = None,
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
                sky=sky,
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
