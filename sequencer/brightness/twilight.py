"""Sky flats, predicted: the twilight sky's flux against the Sun's altitude, and the exposure that lands on the
target while the sky darkens (dusk) or brightens (dawn) during it.

The model. Over the flat-field window (the Sun between about −2° and −10°) the twilight sky's surface brightness
in magnitudes falls close to linearly with the Sun's depression: Tyson & Gal 1993 (AJ 105, 1206, "An exposure
guide for taking twilight flatfields") build their exposure guide on that; Patat, Ugolnikov & Postylyakov 2006
(A&A 455, 385, "UBVRI twilight sky brightness at ESO-Paranal") fit m(ζ) = a0 + a1(ζ − 95°) + a2(ζ − 95°)² to
zenith photometry over ζ = 95°-105°, about a magnitude per degree in the visible. So log10 flux is linear in
altitude, slope near 0.4 dex per degree (`DEFAULT_SLOPE`), with a small curvature the fit absorbs by weighting
the recent frames (`fit_log_flux`).

Unlike a reactive scaler (next exposure = last × target / measured: always one frame late, and blind to the
sky changing during the exposure), each exposure here is chosen from the fit so that the flux integrated over
the exposure, altitude changing all along, lands on the target; from a geometric ladder of exposures
(`Ladder`), so one twilight uses a handful of distinct exposures and each needs its own dark-flats only once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from drivers.errors import ConfigError
from sequencer.brightness.sun import SunPath

__all__ = [
    "DEFAULT_RATIO",
    "DEFAULT_SLOPE",
    "DEFAULT_WINDOW",
    "Choice",
    "Ladder",
    "LogFlux",
    "SkySample",
    "TwilightWindow",
    "choose_exposure",
    "filter_order",
    "fit_log_flux",
    "predicted_signal",
    "twilight_window",
]

When = Literal["dusk", "dawn"]
DEFAULT_WINDOW = (-2.0, -10.0)
"""Sun altitudes (degrees) between which sky flats are taken: brighter, the shortest exposures are too short
(shutter, gradient); darker, stars and the night sky's own gradients show (Chromey & Hasselbacher 1996)."""
DEFAULT_SLOPE = 0.4
"""d log10(flux) / d altitude, per degree: about one magnitude per degree (Patat et al. 2006)."""
DEFAULT_RATIO = 1.25
"""Each exposure of the ladder is this many times the one below it."""
PRIOR_WEIGHT = 4.0
"""How many degrees² of altitude spread the prior slope is worth in the fit: one frame gives a prediction,
a few frames spread over a degree or more outweigh it."""
RECENT = 8
"""The fit uses the most recent frames only: the curvature of log flux and passing haze are local."""
NODES = 9
"""Simpson nodes across one exposure (the sky changes by under 30 % in the longest exposure of a window)."""
STEP = 2.0
"""Seconds between the start times `choose_exposure` considers when it has to wait for the sky."""


@dataclass(frozen=True)
class Ladder:
    """Exposures shortest × ratio^k up to the longest, rounded to 3 significant digits."""

    shortest: float
    longest: float
    ratio: float = DEFAULT_RATIO

    def __post_init__(self) -> None:
        if not (math.isfinite(self.shortest) and self.shortest > 0 and self.longest >= self.shortest):
            raise ConfigError(f"exposure ladder {self.shortest:g}-{self.longest:g} s is empty")
        if not (math.isfinite(self.ratio) and 1.01 <= self.ratio <= 4):
            raise ConfigError(f"exposure ladder ratio {self.ratio:g} must be within 1.01 to 4")

    @property
    def rungs(self) -> tuple[float, ...]:
        count = math.floor(math.log(self.longest / self.shortest) / math.log(self.ratio) + 1e-9) + 1
        return tuple(float(f"{self.shortest * self.ratio**k:.3g}") for k in range(count))

    def __contains__(self, exposure: object) -> bool:
        return isinstance(exposure, float | int) and any(math.isclose(exposure, r, rel_tol=1e-9) for r in self.rungs)


@dataclass(frozen=True)
class SkySample:
    """One frame of the sky: the Sun's altitude at mid-exposure and the signal per second above the pedestal."""

    altitude: float
    flux: float


@dataclass(frozen=True)
class LogFlux:
    """log10 flux = intercept + slope × (altitude − pivot)."""

    intercept: float
    slope: float
    pivot: float

    def flux(self, altitude: float | np.ndarray) -> np.ndarray:
        return np.power(10.0, self.intercept + self.slope * (np.asarray(altitude, dtype=np.float64) - self.pivot))


def fit_log_flux(samples: Sequence[SkySample], prior_slope: float = DEFAULT_SLOPE) -> LogFlux | None:
    """Least squares of log10 flux on altitude over the recent samples, the slope pulled towards the prior (a
    ridge on the slope): a single frame fixes the level, frames across a degree fix the slope. None: no usable
    sample (a frame with no signal above the pedestal says nothing about the sky's level)."""
    usable = [s for s in samples[-RECENT:] if s.flux > 0 and math.isfinite(s.flux)]
    if not usable:
        return None
    x = np.array([s.altitude for s in usable])
    y = np.log10(np.array([s.flux for s in usable]))
    pivot = float(x.mean())
    dx = x - pivot
    slope = float((np.sum(dx * (y - y.mean())) + PRIOR_WEIGHT * prior_slope) / (np.sum(dx * dx) + PRIOR_WEIGHT))
    return LogFlux(float(y.mean()), slope, pivot)


def predicted_signal(model: LogFlux, path: SunPath, start: float, exposures: np.ndarray) -> np.ndarray:
    """The signal (flux units × s) each of `exposures` starting at `start` collects, the sky changing during it:
    Simpson's rule over the Sun's altitude along the exposure."""
    exposures = np.asarray(exposures, dtype=np.float64)
    fractions = np.linspace(0.0, 1.0, NODES)
    times = start + np.outer(exposures, fractions)
    flux = model.flux(path.altitudes_at(times.reshape(-1))).reshape(times.shape)
    weights = np.ones(NODES)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return np.asarray(flux @ weights * exposures / (3.0 * (NODES - 1)), dtype=np.float64)


@dataclass(frozen=True)
class Choice:
    """The next sky flat: when to start it, its exposure (a rung), and the signal expected."""

    start: float
    exposure: float
    predicted: float


def choose_exposure(
    model: LogFlux, path: SunPath, now: float, ladder: Ladder, target: float, band: float, until: float
) -> Choice | None:
    """The earliest start at or after `now` at which a rung is predicted within `band` (relative) of `target`,
    the rung closest to it; the sky is waited for (too bright at dusk, too dark at dawn), but an exposure's
    middle never falls after `until` (the window's end). None: no rung lands before then (the sky is out of
    the ladder's reach)."""
    rungs = np.array(ladder.rungs)
    start = now
    while start <= until:
        signal = predicted_signal(model, path, start, rungs)
        error = np.abs(np.log(signal / target))
        fits = (error <= math.log1p(band)) & (start + rungs / 2 <= until)
        if fits.any():
            best = int(np.argmin(np.where(fits, error, np.inf)))
            return Choice(start, float(rungs[best]), float(signal[best]))
        start += STEP
    return None


@dataclass(frozen=True)
class TwilightWindow:
    """When the Sun is within the window on one twilight: [opens, closes] in Unix seconds."""

    when: When
    altitudes: tuple[float, float]
    opens: float
    closes: float

    @property
    def minutes(self) -> float:
        return (self.closes - self.opens) / 60.0


def twilight_window(path: SunPath, when: When, altitudes: tuple[float, float], now: float) -> TwilightWindow:
    """The window of `when` under way at `now`, else the next one on the path.

    A `ConfigError` with a clear message when the path holds none: the window has passed, or the Sun never
    reaches those altitudes there (polar summer or winter)."""
    high, low = max(altitudes), min(altitudes)
    descending = when == "dusk"
    first, last = (high, low) if descending else (low, high)
    where = f"the {when} window (Sun from {first:g}° to {last:g}°)"
    current = path.altitude(now)
    inside = low <= current <= high and (path.rate(now) < 0) == descending
    opens = now if inside else path.crossing(first, now, descending=descending)
    if opens is None:
        raise ConfigError(f"{where}: the Sun does not reach it after the given time on this path; too late?")
    closes = path.crossing(last, opens, descending=descending)
    if closes is None:
        raise ConfigError(f"{where} opens but does not close on this path (the Sun stays within it)")
    return TwilightWindow(when, (first, last), opens, closes)


NARROWBAND = ("ha", "h-alpha", "halpha", "oiii", "o3", "sii", "s2", "nii", "n2", "hb", "hbeta", "h-beta")
"""Filter names that pass a few nanometres: they need the most light, so they come first at dusk."""
LUMINANCE = ("l", "lum", "luminance", "clear", "c", "none", "uvir", "uv/ir")


def filter_order(names: Sequence[str], when: When, flux: dict[str, float] | None = None) -> list[str]:
    """The order a twilight takes filters in: at dusk the one that needs the most light first (the sky
    fades), at dawn the reverse. By measured flux when known (a previous twilight's fit), else by name:
    narrowband, then colour filters, luminance last (at dusk)."""

    def need(name: str) -> tuple[float, int]:
        if flux and name in flux and flux[name] > 0:
            return (-math.log(flux[name]), 0)
        key = name.strip().lower()
        rank = 0 if key in NARROWBAND else 2 if key in LUMINANCE else 1
        return (math.inf if flux else 0.0, -rank)

    dusk = sorted(names, key=need, reverse=True)
    return dusk if when == "dusk" else list(reversed(dusk))
