"""The lights' match key: which lights one flat set (and its dark-flats) calibrates.

Flats correct the optical train and the sensor as they were for the lights, so the key is what SGP and
N.I.N.A.'s Target Scheduler match on (DOMAIN.md): camera, filter, binning, gain, offset, readout mode, region
of interest and rotation. Exposure is not in it (a flat has its own exposure); neither is focus, which
drifts with temperature through a night: a spread of focus positions within one key is reported, not split.

Rotations within `ROTATION_TOLERANCE` are one rotation (a rotator reports 89.98° and 90.02° for one angle).
A light is a region of interest when it says so (XORGSUBF/YORGSUBF not at 0) or when it is smaller than
the camera's frame at its binning (the sensor size from the profile when known, else the largest light
taken with that camera at that binning).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sequencer.calibration.lights import LightFrame, Region

ROTATION_TOLERANCE = 1.0
"""[deg] Rotations closer than this are the same rotation."""


@dataclass(frozen=True)
class LightKey:
    """One configuration of the camera in the night's lights."""

    instrument: str | None
    filter: str | None
    xbinning: int
    ybinning: int
    gain: int | None
    offset: int | None
    readout: str | None
    roi: Region | None
    rotation: float | None

    def describe(self) -> str:
        """ "L bin 1 gain 100 offset 50 'High Gain' ROI 100×80 at (10, 20) rot 90°"."""
        parts = [self.filter or "no filter", f"bin {self.binning_text}"]
        if self.gain is not None:
            parts.append(f"gain {self.gain}")
        if self.offset is not None:
            parts.append(f"offset {self.offset}")
        if self.readout is not None:
            parts.append(repr(self.readout))
        if self.roi is not None:
            parts.append(f"ROI {self.roi.describe()}")
        if self.rotation is not None:
            parts.append(f"rot {self.rotation:g}°")
        return " ".join(parts)

    @property
    def binning_text(self) -> str:
        return str(self.xbinning) if self.xbinning == self.ybinning else f"{self.xbinning}×{self.ybinning}"

    def to_json(self) -> dict[str, Any]:
        roi = self.roi
        return {
            "instrument": self.instrument,
            "filter": self.filter,
            "binning": [self.xbinning, self.ybinning],
            "gain": self.gain,
            "offset": self.offset,
            "readout_mode": self.readout,
            "roi": None if roi is None else {"x": roi.x, "y": roi.y, "width": roi.width, "height": roi.height},
            "rotation": self.rotation,
        }


@dataclass
class LightGroup:
    """The lights of one key, in the order they were taken."""

    key: LightKey
    lights: list[LightFrame] = field(default_factory=list)

    @property
    def last(self) -> LightFrame:
        return max(self.lights, key=lambda light: (light.date_obs or "", str(light.path)))

    def focus_range(self) -> tuple[float, float] | None:
        positions = [light.focus for light in self.lights if light.focus is not None]
        return (min(positions), max(positions)) if positions else None

    def set_temps(self) -> list[float]:
        return sorted({light.set_temp for light in self.lights if light.set_temp is not None})


def full_frames(lights: Iterable[LightFrame], sensors: dict[str | None, tuple[int, int]]) -> dict[Any, tuple[int, int]]:
    """The full frame (width, height) of each (camera, binning): the sensor binned when known, else the
    largest light at origin (0, 0)."""
    out: dict[Any, tuple[int, int]] = {}
    for light in lights:
        at = (light.instrument, light.xbinning, light.ybinning)
        if light.instrument in sensors:
            width, height = sensors[light.instrument]
            out[at] = (width // light.xbinning, height // light.ybinning)
        elif light.origin in (None, (0, 0)):
            known = out.get(at, (0, 0))
            out[at] = (max(known[0], light.width), max(known[1], light.height))
    return out


def region_of(light: LightFrame, full: dict[Any, tuple[int, int]]) -> Region | None:
    """The light's region of interest, None for the full frame."""
    x, y = light.origin or (0, 0)
    frame = full.get((light.instrument, light.xbinning, light.ybinning))
    if (x, y) == (0, 0) and (frame is None or (light.width, light.height) == frame):
        return None
    return Region(x, y, light.width, light.height)


def _rotation_clusters(angles: Sequence[float]) -> dict[float, float]:
    """Each angle → its cluster's representative (the mean, to 0.1°): angles closer than the tolerance, in a
    chain, are one rotation (0° and 359.5° too)."""
    ordered = sorted(set(angles))
    clusters: list[list[float]] = []
    for angle in ordered:
        if clusters and angle - clusters[-1][-1] < ROTATION_TOLERANCE:
            clusters[-1].append(angle)
        else:
            clusters.append([angle])
    if len(clusters) > 1 and clusters[0][0] + 360.0 - clusters[-1][-1] < ROTATION_TOLERANCE:
        clusters[0] = [a - 360.0 for a in clusters.pop()] + clusters[0]
    out: dict[float, float] = {}
    for cluster in clusters:
        mean = round((sum(cluster) / len(cluster)) % 360.0, 1)
        for angle in cluster:
            out[angle % 360.0] = mean
    return out


def group_lights(
    lights: Sequence[LightFrame], sensors: dict[str | None, tuple[int, int]] | None = None
) -> list[LightGroup]:
    """The lights by match key, in the order each key was first shot."""
    full = full_frames(lights, sensors or {})
    rotations = _rotation_clusters([light.rotation for light in lights if light.rotation is not None])
    groups: dict[LightKey, LightGroup] = {}
    for light in sorted(lights, key=lambda x: (x.date_obs or "", str(x.path))):
        key = LightKey(
            instrument=light.instrument,
            filter=light.filter,
            xbinning=light.xbinning,
            ybinning=light.ybinning,
            gain=light.gain,
            offset=light.offset,
            readout=light.readout,
            roi=region_of(light, full),
            rotation=None if light.rotation is None else rotations[light.rotation],
        )
        groups.setdefault(key, LightGroup(key)).lights.append(light)
    return list(groups.values())
