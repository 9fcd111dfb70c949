"""The trained table's exposure entries: the exposure that worked last time at a fixed light, per camera,
filter, gain, offset, binning and brightness (None: a light switched by hand), with the camera's response.

Kept in the same file as the trained brightnesses (`trained`), under "exposures"; a table written before
exposure searches existed simply has none. Like the rest of the file, every value is checked as it is read.
A start aims at the window's centre through the stored response (not at wherever in the window last time's
trial happened to land), so the next run's first trial lands.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sequencer.brightness.linearity import CameraResponse
from sequencer.brightness.trials import Window
from sequencer.core.jsonfields import Fields
from sequencer.core.units import INT32_MAX, MAX_SECONDS

__all__ = ["ExposureEntry", "ExposureKey", "ExposureTable", "LastSearch", "start_from"]


class ExposureKey(NamedTuple):
    """What a flat's exposure depends on besides the light: a plain tuple works as well."""

    camera: str
    filter: str
    gain: int
    offset: int
    binning: int
    brightness: int | None
    """The panel's brightness held during the search; None for a light switched by hand."""

    @classmethod
    def of(cls, key: Sequence[Any]) -> ExposureKey:
        camera, filter_name, gain, offset, binning, brightness = key
        level = None if brightness is None else int(brightness)
        return cls(str(camera), str(filter_name), int(gain), int(offset), int(binning), level)

    def rig(self) -> tuple[str, int, int, int]:
        """The camera with these settings, whatever the filter and the light: what a lag belongs to."""
        return (self.camera, self.gain, self.offset, self.binning)


@dataclass(frozen=True)
class ExposureEntry:
    key: ExposureKey
    exposure: float
    response: CameraResponse | None = None
    mean_adu: float | None = None
    recorded_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.key._asdict(),
            "exposure": self.exposure,
            "response": self.response.to_dict() if self.response is not None else None,
            "mean_adu": self.mean_adu,
            "recorded_at": self.recorded_at,
        }

    @classmethod
    def from_dict(cls, data: object, where: str = "") -> ExposureEntry:
        """Read back `to_dict`'s output, every value checked (a `FieldError` names the key)."""
        f = Fields(data, where)
        key = ExposureKey(
            camera=f.text("camera"),
            filter=f.text("filter"),
            gain=f.integer("gain", 0, INT32_MAX),
            offset=f.integer("offset", 0, INT32_MAX),
            binning=f.integer("binning", 1, 16),
            brightness=f.maybe_integer("brightness", 0, INT32_MAX),
        )
        return cls(
            key=key,
            exposure=f.number("exposure", 1e-6, MAX_SECONDS),
            response=CameraResponse.from_dict(f.raw("response"), f.path("response")) if f.has("response") else None,
            mean_adu=f.maybe_number("mean_adu", -1e9, 1e9),
            recorded_at=f.maybe_number("recorded_at"),
        )


class ExposureTable:
    """The exposure entries of a trained table, in the order they were learnt."""

    def __init__(self, entries: Iterable[ExposureEntry] = ()) -> None:
        self.entries: dict[ExposureKey, ExposureEntry] = {e.key: e for e in entries}

    @classmethod
    def from_fields(cls, top: Fields) -> ExposureTable:
        return cls(ExposureEntry.from_dict(item.data, item.where) for item in top.objects("exposures"))

    def to_list(self) -> list[dict[str, Any]]:
        ordered = sorted(self.entries.values(), key=lambda e: (e.key.camera, e.key.filter, e.key.brightness or -1))
        return [e.to_dict() for e in ordered]

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, key: Sequence[Any]) -> ExposureEntry | None:
        return self.entries.get(ExposureKey.of(key))

    def response_for(self, key: Sequence[Any]) -> CameraResponse | None:
        """The response for this key: its own; else the same filter's at another brightness, its light scaled
        by the brightness ratio (a PWM panel is linear); else None."""
        wanted = ExposureKey.of(key)
        own = self.entries.get(wanted)
        if own is not None and own.response is not None:
            return own.response
        level = wanted.brightness
        if not level:
            return None
        siblings = [
            e
            for e in self.entries.values()
            if e.response is not None and e.key._replace(brightness=level) == wanted and e.key.brightness
        ]
        if not siblings:
            return None
        nearest = min(siblings, key=lambda e: abs(math.log((e.key.brightness or 1) / level)))
        assert nearest.response is not None and nearest.key.brightness
        return nearest.response.rescaled(level / nearest.key.brightness)

    def camera_lag(self, key: Sequence[Any]) -> CameraResponse | None:
        """The last response with a measured lag for this camera and settings (any filter, any light): the
        camera's low end, which a new filter's search takes as known."""
        rig = ExposureKey.of(key).rig()
        learnt = [e.response for e in self.entries.values() if e.key.rig() == rig and e.response is not None]
        measured = [r for r in learnt if r.lag_known]
        return measured[-1] if measured else None

    def start_for(self, key: Sequence[Any], window: Window, pedestal: float) -> float | None:
        """Where the next search for `key` starts: the exposure the trained response gives for the window's
        centre at today's pedestal (the trained exposure itself if it has no response); None if untrained."""
        own = self.entry(key)
        response = self.response_for(key)
        if response is not None:
            today = CameraResponse(pedestal, response.rate, response.lag, response.levels)
            guess = today.exposure_for(window.target_adu)
            if guess is not None:
                return guess
        return own.exposure if own is not None else None

    def record(
        self,
        key: Sequence[Any],
        exposure: float,
        *,
        response: CameraResponse | None = None,
        mean_adu: float | None = None,
        recorded_at: float | None = None,
    ) -> ExposureEntry:
        """Remember what worked for `key` (in memory; the trained table's `save` writes it)."""
        entry = ExposureEntry(ExposureKey.of(key), float(exposure), response, mean_adu, recorded_at)
        self.entries.pop(entry.key, None)  # re-insert: the order is the order things were learnt
        self.entries[entry.key] = entry
        return entry


@dataclass(frozen=True)
class LastSearch:
    """What the previous exposure search of a run found: its response, the exposure, the brightness it held."""

    response: CameraResponse
    exposure: float
    brightness: int | None


def start_from(
    table: ExposureTable | None, key: Sequence[Any], window: Window, pedestal: float, last: LastSearch | None
) -> tuple[float | None, CameraResponse | None]:
    """Where a search for `key` starts, and the prior it reasons with: trained for this key (or this filter at
    another brightness), else where the run's previous search ended (the same light through another filter;
    its exposure scaled by the brightness ratio, a PWM panel being linear), else nothing but the camera's lag
    learnt on another filter (the start is then that filter's exposure, through its response)."""
    if table is not None:
        start = table.start_for(key, window, pedestal)
        if start is not None:
            return start, table.response_for(key) or table.camera_lag(key)
    if last is not None:
        brightness = ExposureKey.of(key).brightness
        scale = brightness / last.brightness if brightness and last.brightness else 1.0
        return last.exposure / scale, last.response
    return None, table.camera_lag(key) if table is not None else None
