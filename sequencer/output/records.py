"""The records a manifest is made of: a flat set, its frames, its brightness trials; to and from JSON.

`sequencer.output.manifest` documents the JSON schema; ``flatseq master`` works with these typed records rather
than with raw dictionaries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.base import CameraSettings
from sequencer.output.header import StatValues
from sequencer.output.keywords import FrameKind


def _num(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null. Integers stay integers."""
    if value is None or not math.isfinite(value):
        return None
    return value if isinstance(value, int) else float(value)


@dataclass(frozen=True)
class TrialRecord:
    """One trial exposure of the brightness search, as the manifest keeps it."""

    brightness: int
    mean: float
    in_window: bool
    saturated_fraction: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "brightness": int(self.brightness),
            "mean": _num(self.mean),
            "in_window": bool(self.in_window),
            "sat": _num(self.saturated_fraction),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialRecord:
        return cls(int(data["brightness"]), float(data["mean"]), bool(data["in_window"]), float(data["sat"]))


@dataclass(frozen=True)
class FrameRecord:
    """One file on disk. `file` is relative to the manifest's directory."""

    file: str
    frame_no: int
    kind: FrameKind
    rejected: bool = False
    reason: str | None = None
    stats: StatValues | None = None
    date_obs: str | None = None
    ccd_temp: float | None = None
    brightness: int | None = None
    exposure: float | None = None
    """Seconds exposed, as the camera reported it (the request when it does not report it)."""
    exposure_requested: float | None = None
    exposure_reported: bool = False
    """Whether `exposure` is the camera's own figure."""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "frame_no": self.frame_no,
            "kind": self.kind.value,
            "rejected": self.rejected,
            "reason": self.reason,
            "stats": None if self.stats is None else {k: _num(v) for k, v in self.stats.to_json().items()},
            "date_obs": self.date_obs,
            "ccd_temp": _num(self.ccd_temp),
            "brightness": self.brightness,
            "exposure": _num(self.exposure),
            "exposure_requested": _num(self.exposure_requested),
            "exposure_reported": self.exposure_reported,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrameRecord:
        stats = data.get("stats")
        return cls(
            file=str(data["file"]),
            frame_no=int(data["frame_no"]),
            kind=FrameKind(data["kind"]),
            rejected=bool(data["rejected"]),
            reason=data.get("reason"),
            stats=None if stats is None else StatValues.of(stats),
            date_obs=data.get("date_obs"),
            ccd_temp=data.get("ccd_temp"),
            brightness=data.get("brightness"),
            exposure=data.get("exposure"),
            exposure_requested=data.get("exposure_requested"),
            exposure_reported=bool(data.get("exposure_reported", False)),
        )


def settings_json(s: CameraSettings) -> dict[str, Any]:
    return {
        "gain": s.gain,
        "offset": s.offset,
        "binning": s.binning,
        "readout_mode": s.readout_mode,
        "set_temp": s.temperature,
    }


def settings_from_json(s: Mapping[str, Any]) -> CameraSettings:
    return CameraSettings(
        gain=int(s["gain"]),
        offset=int(s["offset"]),
        binning=int(s["binning"]),
        readout_mode=int(s["readout_mode"]),
        temperature=None if s.get("set_temp") is None else float(s["set_temp"]),
    )


@dataclass
class SetRecord:
    """One flat set: its settings, how its brightness was found, and its frames."""

    id: str
    filter: str | None
    exposure: float
    settings: CameraSettings
    readout_mode_name: str | None = None
    flats_planned: int | None = None
    dark_flats_planned: int | None = None
    brightness: int | None = None
    panel_max: int | None = None
    trials: list[TrialRecord] = field(default_factory=list)
    status: str = "running"
    reason: str | None = None
    started: str | None = None
    finished: str | None = None
    flats: list[FrameRecord] = field(default_factory=list)
    dark_flats: list[FrameRecord] = field(default_factory=list)
    settings_read: CameraSettings | None = None
    """The settings as the camera read them back when the set started (`settings` is what was asked)."""

    def frames(self, kind: FrameKind, *, include_rejected: bool = False) -> list[FrameRecord]:
        """The set's frames of one kind, rejected ones only if asked."""
        pool = self.dark_flats if kind is FrameKind.DARK_FLAT else self.flats
        return [f for f in pool if f.kind is kind and (include_rejected or not f.rejected)]

    def to_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            "id": self.id,
            "filter": self.filter,
            "exposure": self.exposure,
            "settings": {**settings_json(s), "readout_mode_name": self.readout_mode_name},
            "settings_read": None if self.settings_read is None else settings_json(self.settings_read),
            "flats_planned": self.flats_planned,
            "dark_flats_planned": self.dark_flats_planned,
            "brightness": self.brightness,
            "panel_max": self.panel_max,
            "trials": [t.to_json() for t in self.trials],
            "status": self.status,
            "reason": self.reason,
            "started": self.started,
            "finished": self.finished,
            "flats": [f.to_json() for f in self.flats],
            "dark_flats": [f.to_json() for f in self.dark_flats],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SetRecord:
        s = data["settings"]
        return cls(
            id=str(data["id"]),
            filter=data.get("filter"),
            exposure=float(data["exposure"]),
            settings=settings_from_json(s),
            settings_read=None if data.get("settings_read") is None else settings_from_json(data["settings_read"]),
            readout_mode_name=s.get("readout_mode_name"),
            flats_planned=data.get("flats_planned"),
            dark_flats_planned=data.get("dark_flats_planned"),
            brightness=data.get("brightness"),
            panel_max=data.get("panel_max"),
            trials=[TrialRecord.from_json(t) for t in data.get("trials", [])],
            status=str(data["status"]),
            reason=data.get("reason"),
            started=data.get("started"),
            finished=data.get("finished"),
            flats=[FrameRecord.from_json(f) for f in data.get("flats", [])],
            dark_flats=[FrameRecord.from_json(f) for f in data.get("dark_flats", [])],
        )
