"""The camera's response to exposure time under a steady light: what the exposure search reasons with.

    mean(t) = pedestal + rate × (t + lag)

`pedestal` is the bias the run measures (one per camera setting); `rate` is the light's ADU per second
above it (the filter, the gain, the light's brightness); `lag` is how much longer than asked the sensor
collects light: a mechanical shutter's travel (positive), a sensor that starts integrating late (negative),
light gathered during a rolling readout. A linear camera has lag 0, and one measured level then fixes the
rate: the second trial lands. A camera with a non-linear low end shows its lag once two levels at different
exposures are measured; the lag belongs to the camera, so it carries over to the next filter and run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sequencer.core.jsonfields import Fields

__all__ = ["CameraResponse", "Level", "fit_levels"]

SPREAD = 1.15
"""Two levels measure a lag only if their exposures differ by this ratio at least (closer ones say nothing
about the intercept, only noise)."""


@dataclass(frozen=True)
class Level:
    """One measured trial: `signal` ADU above the pedestal after `exposure` seconds; `rough` when it was read
    from a saturated frame's unclipped pixels."""

    exposure: float
    signal: float
    rough: bool = False


@dataclass(frozen=True)
class CameraResponse:
    """mean(t) = pedestal + rate × (t + lag), in ADU."""

    pedestal: float
    rate: float
    lag: float = 0.0
    levels: int = 1
    """How many measured levels it rests on: the lag is measured from two levels or more, assumed 0 below."""

    @property
    def lag_known(self) -> bool:
        return self.levels >= 2

    def signal_at(self, seconds: float) -> float:
        return max(self.rate * (seconds + self.lag), 0.0)

    def mean_at(self, seconds: float) -> float:
        return self.pedestal + self.signal_at(seconds)

    def exposure_for(self, mean_adu: float) -> float | None:
        """The exposure that gives `mean_adu`, None if no exposure can (no light, or at or below pedestal)."""
        signal = mean_adu - self.pedestal
        if signal <= 0 or self.rate <= 0:
            return None
        seconds = signal / self.rate - self.lag
        return seconds if seconds > 0 and math.isfinite(seconds) else None

    def rescaled(self, factor: float) -> CameraResponse:
        """The same camera with the light multiplied by `factor` (another filter, another brightness)."""
        return CameraResponse(self.pedestal, self.rate * factor, self.lag, self.levels)

    @classmethod
    def through(cls, level: Level, pedestal: float, lag: float = 0.0, levels: int = 1) -> CameraResponse | None:
        """The response with this lag through one measured level (None if it shows no light)."""
        lit = level.exposure + lag
        if level.signal <= 0 or lit <= 0:
            return None
        return cls(pedestal, level.signal / lit, lag, levels)

    def to_dict(self) -> dict[str, float]:
        return {"pedestal": self.pedestal, "rate": self.rate, "lag": self.lag, "levels": self.levels}

    @classmethod
    def from_dict(cls, data: object, where: str = "response") -> CameraResponse:
        """Read back `to_dict`'s output, every value checked (a `FieldError` names the key)."""
        f = Fields(data, where)
        raw: dict[str, Any] = f.data
        return cls(
            pedestal=f.number("pedestal", -1e9, 1e9),
            rate=f.number("rate", 1e-9, 1e12),
            lag=f.number("lag", -3600.0, 3600.0) if "lag" in raw else 0.0,
            levels=f.integer("levels", 0, 1_000_000) if "levels" in raw else 1,
        )


def fit_levels(
    levels: Sequence[Level], pedestal: float, target_signal: float, prior_lag: float | None = None
) -> CameraResponse | None:
    """The response through the measured levels, trusting most those nearest the target.

    Two levels at different exposures give the line through both (rate and lag: a secant, which also follows
    a curved low end as the trials close in); one level gives the rate with the prior's lag (a camera property
    learnt earlier), else with no lag. Rough levels count only when nothing better was measured.
    """
    exact = [lv for lv in levels if lv.signal > 0 and not lv.rough]
    usable = exact or [lv for lv in levels if lv.signal > 0]
    if not usable:
        return None

    def distance(lv: Level) -> float:
        return abs(math.log(lv.signal / max(target_signal, 1e-9)))

    ranked = sorted(usable, key=distance)
    nearest = ranked[0]
    partner = next((lv for lv in ranked[1:] if _spread(lv, nearest) >= SPREAD), None)
    if partner is not None and not partner.rough and not nearest.rough:
        line = _line(nearest, partner, pedestal)
        if line is not None:
            return line
    lag = prior_lag if prior_lag is not None else 0.0
    response = CameraResponse.through(nearest, pedestal, lag, levels=2 if prior_lag is not None else 1)
    if response is None and lag != 0.0:
        response = CameraResponse.through(nearest, pedestal, 0.0)
    return response


def _spread(a: Level, b: Level) -> float:
    return max(a.exposure, b.exposure) / min(a.exposure, b.exposure)


def _line(a: Level, b: Level, pedestal: float) -> CameraResponse | None:
    """The straight line through two levels, if it is a camera's (rising, and lit over both exposures)."""
    rate = (b.signal - a.signal) / (b.exposure - a.exposure)
    if rate <= 0 or not math.isfinite(rate):
        return None
    lag = a.signal / rate - a.exposure
    if a.exposure + lag <= 0 or b.exposure + lag <= 0:
        return None
    return CameraResponse(pedestal, rate, lag, levels=2)
