"""The trained table: the brightness that worked last time, per camera, filter, exposure, gain, offset, binning
(and, in the same file, the exposure that worked at a fixed light: `trainedexposure`).

With it the next run of the same sequence starts each search where the last one ended and needs one trial
per set. Besides the brightness it keeps the fitted panel response, so a start can be aimed at the window's
centre (not at whatever edge of the window last time's trial happened to land on) and a set with a new
exposure can start from a sibling entry rescaled by the exposure ratio.

One JSON file in the user's data directory (`FLATSEQ_DATA_DIR` overrides it, for tests and CI), written
atomically (temp file, fsync, rename). The file is untrusted (anyone may edit it): every value is checked as
it is read (finite, in range, of the right type). A corrupt or unreadable file is reported once, in one line
naming the file and the key, and ignored; the next save sets it aside as `.corrupt` and writes a new table.
Losing the table costs a few trials, never a run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import platformdirs

from sequencer.brightness.response import PanelResponse
from sequencer.brightness.trainedexposure import ExposureTable
from sequencer.brightness.trials import Window
from sequencer.core.atomicfile import replace_file
from sequencer.core.jsonfields import FieldError, Fields, load_json
from sequencer.core.units import INT32_MAX, MAX_SECONDS

__all__ = ["DATA_DIR_ENV", "FILE_NAME", "TrainedEntry", "TrainedKey", "TrainedTable", "default_path"]

DATA_DIR_ENV = "FLATSEQ_DATA_DIR"
FILE_NAME = "trained-brightness.json"
VERSION = 1
MAX_FILE_BYTES = 16_000_000
"""A table larger than this is damaged (a real one holds a few hundred entries of 300 bytes)."""


class TrainedKey(NamedTuple):
    """What a flat's brightness depends on besides the panel: a plain tuple works as well."""

    camera: str
    filter: str
    exposure: float
    gain: int
    offset: int
    binning: int

    @classmethod
    def of(cls, key: Sequence[Any]) -> TrainedKey:
        camera, filter_name, exposure, gain, offset, binning = key
        return cls(str(camera), str(filter_name), float(exposure), int(gain), int(offset), int(binning))

    def sibling_of(self, other: TrainedKey) -> bool:
        """Same camera, filter and settings, any exposure: the light differs only by the exposure ratio."""
        return (self.camera, self.filter, self.gain, self.offset, self.binning) == (
            other.camera,
            other.filter,
            other.gain,
            other.offset,
            other.binning,
        )


@dataclass(frozen=True)
class TrainedEntry:
    key: TrainedKey
    brightness: int
    response: PanelResponse | None = None
    mean_adu: float | None = None
    recorded_at: float | None = None
    """Clock seconds when recorded (the caller's clock), None if not given."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.key._asdict(),
            "brightness": self.brightness,
            "response": self.response.to_dict() if self.response is not None else None,
            "mean_adu": self.mean_adu,
            "recorded_at": self.recorded_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> TrainedEntry:
        """Read back `to_dict`'s output, every value checked: a `FieldError` names the key (`where` is the
        entry's own key path) and says what is wrong with it."""
        f = Fields(data, where)
        key = TrainedKey(
            camera=f.text("camera"),
            filter=f.text("filter"),
            exposure=f.number("exposure", 1e-6, MAX_SECONDS),
            gain=f.integer("gain", 0, INT32_MAX),
            offset=f.integer("offset", 0, INT32_MAX),
            binning=f.integer("binning", 1, 16),
        )
        return cls(
            key=key,
            brightness=f.integer("brightness", 0, INT32_MAX),
            response=PanelResponse.from_dict(data["response"], f.path("response")) if f.has("response") else None,
            mean_adu=f.maybe_number("mean_adu"),
            recorded_at=f.maybe_number("recorded_at"),
        )


def default_path() -> Path:
    """`$FLATSEQ_DATA_DIR/trained-brightness.json`, else the platform's user data directory for flatseq."""
    override = os.environ.get(DATA_DIR_ENV)
    base = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("flatseq"))
    return base / FILE_NAME


class TrainedTable:
    """Trained brightnesses, loaded from and saved to one JSON file."""

    def __init__(self, path: Path, entries: dict[TrainedKey, TrainedEntry] | None = None) -> None:
        self.path = Path(path)
        self.entries: dict[TrainedKey, TrainedEntry] = dict(entries or {})
        self.exposures = ExposureTable()
        """The exposures found at a fixed light (`trainedexposure`), kept in the same file."""
        self.problem: str | None = None
        """Why the file on disk was ignored (corrupt, unreadable), for the caller to report; None if fine."""
        self._corrupt = False

    @classmethod
    def load(cls, path: Path | str | None = None) -> TrainedTable:
        """The table at `path` (default: `default_path()`); empty if the file is missing or unusable."""
        table = cls(Path(path) if path is not None else default_path())
        try:
            data = load_json(table.path, MAX_FILE_BYTES)
        except FileNotFoundError:
            return table
        except OSError as exc:
            table.problem = f"trained brightness table {table.path}: cannot read it ({exc.strerror}); ignored"
            return table
        except FieldError as exc:
            table._reject(str(exc))
            return table
        try:
            top = Fields(data, "")
            top.raw("entries")  # an object without entries is not a table
            entries = [TrainedEntry.from_dict(item.data, item.where) for item in top.objects("entries")]
            exposures = ExposureTable.from_fields(top)  # a table older than exposure searches has none
        except FieldError as exc:
            table._reject(f"unexpected content ({exc})")
        else:
            table.entries = {entry.key: entry for entry in entries}
            table.exposures = exposures
        return table

    def _reject(self, why: str) -> None:
        self._corrupt = True
        self.problem = (
            f"trained brightness table {self.path}: {why}; ignored, searches start cold "
            f"(the file is kept as {self.path.name}.corrupt when the table is next saved)"
        )

    # -- reading -------------------------------------------------------------------------------------------
    def entry(self, key: Sequence[Any]) -> TrainedEntry | None:
        return self.entries.get(TrainedKey.of(key))

    def lookup(self, key: Sequence[Any]) -> int | None:
        """The brightness that worked for exactly this key, None if never trained."""
        entry = self.entry(key)
        return entry.brightness if entry is not None else None

    def response_for(self, key: Sequence[Any]) -> PanelResponse | None:
        """The panel response for this key: its own, or the nearest sibling's (other exposure) rescaled.

        An entry whose search measured only one level knows the light's scale, not the panel's curve; when
        another entry with this camera and settings has learnt the curve, the response takes that curve,
        drawn through this entry's trained point.
        """
        wanted = TrainedKey.of(key)
        own = self.entries.get(wanted)
        if own is not None and own.response is not None:
            return self._with_learnt_shape(own, 1.0)
        siblings = [e for e in self.entries.values() if e.key.sibling_of(wanted) and e.response is not None]
        if not siblings or wanted.exposure <= 0:
            return None
        nearest = min(siblings, key=lambda e: abs(math.log(max(e.key.exposure, 1e-9) / wanted.exposure)))
        return self._with_learnt_shape(nearest, wanted.exposure / nearest.key.exposure)

    def panel_prior(self, key: Sequence[Any]) -> PanelResponse | None:
        """The last learnt response recorded with this camera and settings, any filter, rescaled to this
        exposure (the last one of all if none has learnt the curve).

        The panel's shape (threshold, gamma) carries over from filter to filter; its scale carries the other
        filter's transmission, so as a start it assumes the same light: right for R after G, off by the
        ratio for L after Ha, which the search's second trial then corrects. For a set with no entry of its own.
        """
        wanted = TrainedKey.of(key)
        same_rig = self._same_rig(wanted)
        if not same_rig or wanted.exposure <= 0:
            return None
        learnt = [e for e in same_rig if e.response is not None and e.response.shape_known]
        latest = (learnt or same_rig)[-1]
        assert latest.response is not None
        return latest.response.rescaled(wanted.exposure / max(latest.key.exposure, 1e-9))

    def _same_rig(self, key: TrainedKey) -> list[TrainedEntry]:
        """Entries with a response from this camera with these settings, oldest first."""
        rig = (key.camera, key.gain, key.offset, key.binning)
        return [
            e
            for e in self.entries.values()
            if e.response is not None and (e.key.camera, e.key.gain, e.key.offset, e.key.binning) == rig
        ]

    def _with_learnt_shape(self, entry: TrainedEntry, factor: float) -> PanelResponse:
        """The entry's response rescaled by `factor`, taking the rig's learnt curve if its own is assumed."""
        response = entry.response
        assert response is not None
        if not response.shape_known:
            learnt = [e.response for e in self._same_rig(entry.key) if e.response and e.response.shape_known]
            mean = entry.mean_adu if entry.mean_adu is not None else response.mean_at(entry.brightness)
            if learnt:
                curve = learnt[-1]
                redrawn = PanelResponse.through(entry.brightness, mean, response.pedestal, curve.shape, curve.levels)
                response = redrawn if redrawn is not None else response
        return response.rescaled(factor)

    def start_for(
        self, key: Sequence[Any], window: Window, brightness_range: tuple[int, int] | None = None
    ) -> int | None:
        """Where the next search for `key` should start, None if nothing is known.

        The trained brightness, moved a step or two toward the window's centre when the trained response says
        its mean sat near an edge (so noise cannot push the first trial out); for an exposure never trained,
        a sibling's response rescaled by the exposure ratio, aimed at the centre.
        """
        wanted = TrainedKey.of(key)
        own = self.entries.get(wanted)
        response = self.response_for(wanted)
        start: int | None = None
        if own is not None:
            start = own.brightness
            if response is not None and own.mean_adu is not None:
                start = _toward_centre(own.brightness, own.mean_adu, response, window)
        elif response is not None:
            guess = response.brightness_for(window.target_adu)
            if guess is not None and math.isfinite(guess):
                start = round(guess)
        if start is not None and brightness_range is not None:
            start = min(max(start, brightness_range[0]), brightness_range[1])
        return start

    # -- writing -------------------------------------------------------------------------------------------
    def record(
        self,
        key: Sequence[Any],
        brightness: int,
        *,
        response: PanelResponse | None = None,
        mean_adu: float | None = None,
        recorded_at: float | None = None,
        window: Window | None = None,
        exposure: float | None = None,
    ) -> TrainedEntry:
        """Remember what worked for `key` (in memory; `save` writes it). `window` and `exposure` are accepted
        for symmetry with the search call and not stored: the key holds the exposure."""
        del window, exposure
        entry = TrainedEntry(TrainedKey.of(key), int(brightness), response, mean_adu, recorded_at)
        self.entries.pop(entry.key, None)  # re-insert: the table's order is the order things were learnt
        self.entries[entry.key] = entry
        return entry

    def forget(self, key: Sequence[Any]) -> None:
        self.entries.pop(TrainedKey.of(key), None)

    def save(self) -> None:
        """Write the table atomically: a reader sees the old file or the new one, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._corrupt and self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            self._corrupt = False
        entries = sorted(self.entries.values(), key=lambda e: (e.key.camera, e.key.filter, e.key.exposure, e.key))
        document = {
            "version": VERSION,
            "entries": [e.to_dict() for e in entries],
            "exposures": self.exposures.to_list(),
        }
        text = json.dumps(document, indent=1) + "\n"
        replace_file(self.path, text.encode("utf-8"))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def empty(self) -> bool:
        """Nothing learnt, of brightnesses or exposures: nothing to save."""
        return not self.entries and not len(self.exposures)


def _toward_centre(brightness: int, mean_adu: float, response: PanelResponse, window: Window) -> int:
    """One step toward the window's centre when the trained mean sat in the outer third of the window.

    The response is anchored on the trained point (scaled through its measured mean), so only its local
    slope matters, and the step is taken only if its predicted mean is nearer the centre and inside the
    window. One step at most: the slope of a response fitted to few trials is the least certain part.
    """
    half = (window.high_adu - window.low_adu) / 2
    if half <= 0 or abs(mean_adu - window.target_adu) < half / 3:
        return brightness
    model_mean = response.mean_at(brightness)
    if model_mean - response.pedestal <= 0 or mean_adu - response.pedestal <= 0:
        return brightness
    anchored = response.rescaled((mean_adu - response.pedestal) / (model_mean - response.pedestal))
    candidate = brightness + (1 if mean_adu < window.target_adu else -1)
    predicted = anchored.mean_at(candidate)
    if (
        candidate >= 0
        and window.contains(predicted)
        and abs(predicted - window.target_adu) < abs(mean_adu - window.target_adu)
    ):
        return candidate
    return brightness
