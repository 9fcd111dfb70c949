"""The records a manifest is made of: a flat set, its frames, its brightness trials; to and from JSON.

`sequencer.output.manifest` documents the JSON schema; ``flatseq master`` works with these typed records rather
than with raw dictionaries. Reading one back checks every value as it is read (`sequencer.core.jsonfields`): a
manifest is a file anyone may have edited, and a wrong value is a `FieldError` naming its key path
(``sets[0].flats[2].stats``), never a KeyError or a TypeError later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from drivers.base import CameraSettings
from drivers.errors import quoted
from sequencer.core.jsonfields import FieldError, Fields
from sequencer.core.units import ABSOLUTE_ZERO, INT32_MAX, MAX_SECONDS
from sequencer.output.header import StatValues
from sequencer.output.keywords import FrameKind

SET_STATUSES = ("running", "ok", "failed", "skipped")


def _num(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null. Integers stay integers."""
    if value is None or not math.isfinite(value):
        return None
    return value if isinstance(value, int) else float(value)


@dataclass(frozen=True)
class TrialRecord:
    """One trial exposure of a brightness or an exposure search, as the manifest keeps it: the brightness (None
    for a light switched by hand) and, for an exposure search, the exposure it tried."""

    brightness: int | None
    mean: float
    in_window: bool
    saturated_fraction: float = 0.0
    exposure: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "brightness": None if self.brightness is None else int(self.brightness),
            "mean": _num(self.mean),
            "in_window": bool(self.in_window),
            "sat": _num(self.saturated_fraction),
        }
        if self.exposure is not None:
            data["exposure"] = _num(self.exposure)
        return data

    @classmethod
    def from_json(cls, data: object, where: str = "trial") -> TrialRecord:
        f = Fields(data, where)
        mean, sat = f.maybe_number("mean"), f.maybe_number("sat", 0.0, 1.0)  # null: not finite when recorded
        return cls(
            f.maybe_integer("brightness", 0, INT32_MAX),
            math.nan if mean is None else mean,
            f.flag("in_window"),
            math.nan if sat is None else sat,
            f.maybe_number("exposure", 1e-9, MAX_SECONDS),
        )


@dataclass(frozen=True)
class ExposureSearchRecord:
    """A set whose exposure is found at run time: the range it may use, its grid, the brightness held."""

    min: float
    max: float
    step: float | None = None
    brightness: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "step": self.step, "brightness": self.brightness}

    @classmethod
    def from_json(cls, f: Fields) -> ExposureSearchRecord:
        return cls(
            f.number("min", 1e-9, MAX_SECONDS),
            f.number("max", 1e-9, MAX_SECONDS),
            f.maybe_number("step", 1e-9, MAX_SECONDS),
            f.maybe_integer("brightness", 0, INT32_MAX),
        )


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
    def from_json(cls, data: object, where: str = "frame") -> FrameRecord:
        f = Fields(data, where)
        stats = f.maybe_object("stats")
        return cls(
            file=_relative_file(f),
            frame_no=f.integer("frame_no", 0, INT32_MAX),
            kind=_kind(f),
            rejected=f.flag("rejected"),
            reason=f.maybe_text("reason"),
            stats=None if stats is None else _stats(stats),
            date_obs=f.maybe_text("date_obs"),
            ccd_temp=f.maybe_number("ccd_temp", ABSOLUTE_ZERO, 200.0),
            brightness=f.maybe_integer("brightness", 0, INT32_MAX),
            exposure=f.maybe_number("exposure", 0.0, 2 * MAX_SECONDS),
            exposure_requested=f.maybe_number("exposure_requested", 0.0, MAX_SECONDS),
            exposure_reported=f.flag("exposure_reported") if f.has("exposure_reported") else False,
        )


def settings_json(s: CameraSettings) -> dict[str, Any]:
    roi = {} if s.roi is None else {"roi": list(s.roi)}
    return {"gain": s.gain, "offset": s.offset, "binning": s.binning, "readout_mode": s.readout_mode,
            "set_temp": s.temperature, **roi}  # fmt: skip


def settings_from_json(s: Fields) -> CameraSettings:
    return CameraSettings(
        gain=s.integer("gain", 0, INT32_MAX),
        offset=s.integer("offset", 0, INT32_MAX),
        binning=s.integer("binning", 1, 16),
        readout_mode=s.integer("readout_mode", 0, INT32_MAX),
        temperature=s.maybe_number("set_temp", ABSOLUTE_ZERO, 200.0),
        roi=_roi(s),
    )


def _roi(s: Fields) -> tuple[int, int, int, int] | None:
    """A region of interest [x, y, width, height] in binned pixels; absent: the full frame."""
    if not s.has("roi"):
        return None
    value = s.data["roi"]
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1_000_000 for v in value)
    ):
        raise FieldError(f"{s.path('roi')}: expected [x, y, width, height], whole numbers of pixels")
    x, y, w, h = value
    return (x, y, w, h)


def _relative_file(f: Fields) -> str:
    """A frame's file: a path inside the run directory, as the manifest's schema has it."""
    text = f.text("file")
    path = PurePosixPath(text)
    if not text or path.is_absolute() or "\\" in text or ".." in path.parts or (len(text) > 1 and text[1] == ":"):
        raise FieldError(f"{f.path('file')}: {quoted(text, 100)} is not a path inside the run directory")
    return text


_WRITTEN_KINDS = (FrameKind.FLAT, FrameKind.DARK_FLAT, FrameKind.BIAS)


def _kind(f: Fields) -> FrameKind:
    """One of the kinds flatseq writes (a manifest lists its own frames, never lights or masters)."""
    text = f.text("kind")
    for kind in _WRITTEN_KINDS:
        if kind.value == text:
            return kind
    known = ", ".join(k.value for k in _WRITTEN_KINDS)
    raise FieldError(f"{f.path('kind')}: {quoted(text)} is not a frame kind ({known})")


def _stats(f: Fields) -> StatValues:
    sat = "saturated_fraction" if "saturated_fraction" in f.data else "sat"
    return StatValues(
        mean=f.number("mean"),
        median=f.number("median"),
        std=f.number("std", 0.0),
        min=round(f.number("min")),
        max=round(f.number("max")),
        saturated_fraction=f.number(sat, 0.0, 1.0),
    )


@dataclass
class SetRecord:
    """One flat set: its settings, how its brightness was found, and its frames."""

    id: str
    filter: str | None
    exposure: float | None
    """Seconds; for a set whose exposure is found at run time, None until it is found."""
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
    exposure_search: ExposureSearchRecord | None = None
    lights: dict[str, Any] | None = None
    """The lights the set was planned for (`flatseq plan`: their key, count, rotation, focus), as planned."""
    sky: dict[str, Any] | None = None
    """Sky flats: the site, the twilight, the window, the ladder and the dark-flats per exposure used."""

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
            **({"exposure_search": self.exposure_search.to_json()} if self.exposure_search is not None else {}),
            **({"lights": self.lights} if self.lights is not None else {}),
            **({"sky": self.sky} if self.sky is not None else {}),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "set") -> SetRecord:
        f = Fields(data, where)
        s = f.object("settings")
        status = f.text("status")
        if status not in SET_STATUSES:
            raise FieldError(f"{f.path('status')}: {quoted(status)} is not one of {', '.join(SET_STATUSES)}")
        search = f.maybe_object("exposure_search")
        sky = f.maybe_object("sky")  # a sky set: no one exposure, each frame has its own (a rung)
        no_exposure = search is not None or sky is not None
        return cls(
            id=f.text("id"),
            filter=f.maybe_text("filter"),
            exposure=None if no_exposure and not f.has("exposure") else f.number("exposure", 1e-9),
            exposure_search=None if search is None else ExposureSearchRecord.from_json(search),
            settings=settings_from_json(s),
            settings_read=settings_from_json(read) if (read := f.maybe_object("settings_read")) else None,
            readout_mode_name=s.maybe_text("readout_mode_name"),
            flats_planned=f.maybe_integer("flats_planned", 0, INT32_MAX),
            dark_flats_planned=f.maybe_integer("dark_flats_planned", 0, INT32_MAX),
            brightness=f.maybe_integer("brightness", 0, INT32_MAX),
            panel_max=f.maybe_integer("panel_max", 0, INT32_MAX),
            trials=[TrialRecord.from_json(t.data, t.where) for t in f.objects("trials")],
            status=status,
            reason=f.maybe_text("reason"),
            started=f.maybe_text("started"),
            finished=f.maybe_text("finished"),
            flats=[FrameRecord.from_json(r.data, r.where) for r in f.objects("flats")],
            dark_flats=[FrameRecord.from_json(r.data, r.where) for r in f.objects("dark_flats")],
            lights=lights.data if (lights := f.maybe_object("lights")) is not None else None,
            sky=sky.data if sky is not None else None,
        )
