"""The field notes' first rule, checked on what the devices did: a dark-flat matches its flats exactly (same
exposure, gain, offset, binning, readout mode, set-point, temperature within tolerance) and sees no light.

Checked on the camera's own account, not on the plan: the settings read back from the camera before the
series (against those read back when the flats were taken), and each dark-flat's exposure as the camera
timed it (against the flats'). A dark-flat that fails is kept on disk, marked REJECTED, and stops the set.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from drivers.base import CameraSettings, LightState
from sequencer.run.operator import Exposure, Operator

LIGHT_LEAK_FRACTION = 0.05
"""A dark-flat this far up toward its flats' level saw light."""
LIGHT_LEAK_FLOOR_ADU = 1.0
"""ADU above the dark level a dark-flat may sit whatever its flats' level: flats with no light above the pedestal
(a simulator that ignores the panel, INDI's CCD simulator) give no scale to judge a leak by, and their noise
alone would otherwise read as light."""
MIN_EXPOSURE_TOLERANCE = 1e-6
"""Seconds: exposures within a microsecond (or the camera's own resolution, if coarser) are the same."""


def refusal_before(
    op: Operator,
    flats_settings: CameraSettings,
    flats_temperature: float | None,
    temperature_tolerance: float,
) -> str | None:
    """Why the dark-flats may not start now (the light is on, the camera's settings or its temperature are not
    the flats'), or None."""
    panel, camera = op.eq.panel, op.eq.camera
    light = panel.light_state()
    if light is not LightState.OFF:
        return f"refusing dark-flats: {panel.name} reports its light {light.value}"
    diffs = camera.read_settings().differences(flats_settings, ignore=camera.info.unreported)
    if diffs:
        return "refusing dark-flats: the camera's settings differ from the flats' (" + "; ".join(diffs) + ")"
    now = camera.temperature()
    if flats_temperature is not None and now is not None and abs(now - flats_temperature) > temperature_tolerance:
        return (
            f"refusing dark-flats: sensor at {now:.1f} °C, flats at {flats_temperature:.1f} °C "
            f"(tolerance ±{temperature_tolerance:g} °C)"
        )
    return None


@dataclass(frozen=True)
class FlatSample:
    """What the dark-flats are checked against, of one flat: its level, its sensor temperature, its exposure as
    the camera timed it (None where the camera does not say). From this run, or from the manifest of a run
    resumed after a crash."""

    mean: float
    ccd_temp: float | None
    timed: float | None
    asked: float | None = None
    """The exposure asked of the camera (a sky set's flats have several: its dark-flats go by it)."""


@dataclass(frozen=True)
class FlatsTaken:
    """A set's flats, summed up for its dark-flats."""

    level: float
    temperature: float | None
    seconds: float | None

    @classmethod
    def of(cls, samples: list[FlatSample]) -> FlatsTaken:
        temps = [s.ccd_temp for s in samples if s.ccd_temp is not None]
        timed = [s.timed for s in samples if s.timed is not None]
        return cls(
            level=sum(s.mean for s in samples) / len(samples) if samples else 0.0,
            temperature=sum(temps) / len(temps) if temps else None,
            seconds=statistics.median(timed) if timed else None,
        )


def exposure_tolerance(exposure: float, resolution: float) -> float:
    """How far two exposures of this camera may differ and still be the same exposure."""
    return max(resolution, MIN_EXPOSURE_TOLERANCE, MIN_EXPOSURE_TOLERANCE * exposure)


def leak_limit(flat_level: float, dark_level: float) -> float:
    """The highest mean a frame taken in the dark may have: above it, light reached the sensor."""
    return dark_level + max(LIGHT_LEAK_FRACTION * max(0.0, flat_level - dark_level), LIGHT_LEAK_FLOOR_ADU)


def dark_flat_verdict(
    dark: Exposure,
    mean: float,
    *,
    flat_level: float,
    dark_level: float,
    flats_seconds: float | None,
    resolution: float,
    leak_hint: str | None = None,
) -> str | None:
    """Why a dark-flat does not match its flats (it saw light, or the camera exposed it for another time), or
    None when it does. `leak_hint` says what to do about light (default: check the panel and the cover)."""
    if mean > leak_limit(flat_level, dark_level):
        hint = leak_hint or "is the panel off and the scope covered?"
        return f"light reached the dark-flat: mean {mean:.0f} ADU, flats at {flat_level:.0f} ADU ({hint})"
    timed = dark.reported.duration
    if timed is None or flats_seconds is None:
        return None  # the camera does not time its exposures: both are the request, and the header says so
    if abs(timed - flats_seconds) > exposure_tolerance(flats_seconds, resolution):
        return (
            f"the camera exposed the dark-flat {timed:.6g} s, its flats {flats_seconds:.6g} s "
            f"(both asked {dark.exposure:g} s): a dark-flat must match its flats' exposure"
        )
    return None


def sample_of(exposure: Exposure, mean: float) -> FlatSample:
    """A flat of this run, as the dark-flats are checked against it."""
    return FlatSample(mean, exposure.ccd_temp, exposure.reported.duration, exposure.exposure)
