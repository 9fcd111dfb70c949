"""A master flat from flats of several exposures (sky flats on a ladder): each flat minus the master dark-flat
of its own exposure, divided by its median, then all combined with rejection.

A dark-flat holds the dark current and amp glow of its exposure, so a flat of 2.12 s calibrated with the
dark-flat of 1.69 s keeps 0.43 s of glow: each exposure's flats take their own master dark-flat, as a panel
set's do, and only then are they normalised to one level and stacked together. Moving stars (tracking off)
fall on different pixels in each flat and go in the rejection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.errors import ConfigError
from sequencer.calibration.combine import Combined, PixelSource, Rejection, combine, default_workers
from sequencer.calibration.normalise import calibrated_median
from sequencer.calibration.rejection import F64

__all__ = ["CalibratedPixels", "ExposureGroup", "combine_exposures"]


class CalibratedPixels:
    """A frame minus a full-frame array, as a `PixelSource` (its own exposure's master dark-flat)."""

    def __init__(self, source: PixelSource, subtract: F64) -> None:
        if subtract.shape != source.shape:
            raise ConfigError(f"{source.name}: the master dark-flat is {subtract.shape}, the frame {source.shape}")
        self._source = source
        self._subtract = subtract
        self.name = source.name
        self.shape = source.shape
        self.dtype: np.dtype[np.generic] = np.dtype(np.float64)

    def read_rows(self, start: int, stop: int) -> npt.NDArray[np.generic]:
        return np.asarray(self._source.read_rows(start, stop), dtype=np.float64) - self._subtract[start:stop]


@dataclass(frozen=True)
class ExposureGroup:
    """The flats of one exposure and the master dark-flat of that exposure."""

    exposure: float
    flats: Sequence[PixelSource]
    dark: F64


@dataclass(frozen=True)
class MixedMaster:
    """The master flat (mean 1) and, per exposure, the flats' medians after their dark-flat."""

    combined: Combined
    medians: Mapping[float, list[float]]


def combine_exposures(
    groups: Sequence[ExposureGroup], rejection: Rejection, *, workers: int | None = None
) -> MixedMaster:
    """Each flat minus its exposure's dark, over its own median; all combined; the result scaled to mean 1."""
    if not groups or not any(g.flats for g in groups):
        raise ConfigError("nothing to combine: no flats")
    exposures = [g.exposure for g in groups]
    if len(set(exposures)) != len(exposures):
        raise ConfigError("each exposure's flats come in one group, with one master dark-flat")
    sources: list[PixelSource] = []
    scales: list[float] = []
    medians: dict[float, list[float]] = {}
    for group in groups:
        for flat in group.flats:
            calibrated = CalibratedPixels(flat, group.dark)
            median = calibrated_median(calibrated)
            if not median > 0:
                raise ConfigError(f"{flat.name}: no signal above its {group.exposure:g} s dark-flat")
            sources.append(calibrated)
            scales.append(median)
            medians.setdefault(group.exposure, []).append(median)
    combined = combine(sources, rejection, scales=scales, workers=workers or default_workers())
    mean = float(np.mean(combined.image))
    image = np.asarray(combined.image / mean, dtype=np.float64)
    scaled = Combined(
        image=image,
        frames=combined.frames,
        rejected_per_frame=combined.rejected_per_frame,
        rejection=combined.rejection,
        total=combined.total / mean,
    )
    return MixedMaster(scaled, medians)
