"""A twilight sky over the simulated telescope: its brightness follows the Sun's altitude at the site and the
bench clock's date, the way twilight photometry measures it.

The Sun's altitude comes from astropy (`get_sun`, `AltAz`) sampled once a minute over the bench's span and
interpolated. The zenith sky's surface brightness follows the form Patat, Ugolnikov & Postylyakov 2006 fit at
Paranal (A&A 455, 385): m(ζ) = a1 (ζ − 95°) + a2 (ζ − 95°)² magnitudes relative to ζ = 95° (the Sun 5° down),
a1 about one magnitude per degree; Tyson & Gal 1993 (AJ 105, 1206) give the same near-exponential fall for
flat-field planning. The small quadratic term is the truth the sequencer does not know (its fit is linear in
log flux), and a night-sky floor stops the fall once twilight ends. This module is the simulator's own model,
kept apart from the sequencer's (which sees only frames), so a test of one against the other means something.

Across the field the twilight sky is not flat: Chromey & Hasselbacher 1996 (PASP 108, 944) measure gradients
of up to a few percent per degree away from the null point near the zenith; `gradient` is that tilt across
the frame, `gradient_map` its shape (mean 1). Faint stars (`StarField`), optional, drift across the frame
(tracking off: the sky turns), so each flat has them elsewhere and a master's rejection removes them; their
flux is steady while the sky fades, so they stand out more late in a dusk.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.errors import ConfigError

F64 = npt.NDArray[np.float64]
SAMPLE = 60.0
NODES = 17


@dataclass(frozen=True)
class SkyModel:
    """The sky's brightness law: e⁻/s per pixel through L at illumination 1 with the Sun 5° down (an f/7
    refractor's L flat at half an IMX455's well takes about a second there), magnitudes
    per degree (a1) and per degree² (a2) of solar zenith distance beyond 95°, and the night sky's floor."""

    flux95: float = 30_000.0
    a1: float = 1.0
    a2: float = 0.02
    night: float = 2.0
    gradient: float = 0.02
    """Peak-to-peak fraction of the sky's level across the frame."""
    gradient_angle: float = 30.0
    """Direction of the tilt in the frame, degrees from +x."""

    def flux(self, altitude: float | F64) -> F64:
        """e⁻/s per pixel through L at illumination 1 with the Sun at `altitude` degrees."""
        dz = np.maximum(90.0 - np.asarray(altitude, dtype=np.float64) - 95.0, -10.0)
        dz_dark = np.minimum(dz, 18.0)  # twilight's scattered light is gone by ζ ≈ 113°
        twilight = self.flux95 * np.power(10.0, -0.4 * (self.a1 * dz_dark + self.a2 * dz_dark**2))
        twilight = np.where(dz > 18.0, 0.0, twilight)
        return np.asarray(twilight + self.night, dtype=np.float64)


def sun_altitudes(latitude: float, longitude: float, elevation: float, times: F64) -> F64:
    """The Sun's altitude (degrees) at `times` (Unix seconds) for the site, from astropy, offline."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, get_sun
    from astropy.time import Time
    from astropy.utils import iers

    when = Time(np.asarray(times, dtype=np.float64), format="unix", scale="utc")
    when.delta_ut1_utc = np.zeros(when.shape)
    place = EarthLocation(lon=longitude * u.deg, lat=latitude * u.deg, height=elevation * u.m)
    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("iers_degraded_accuracy", "ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        altitude = get_sun(when).transform_to(AltAz(obstime=when, location=place)).alt.deg
    return np.asarray(altitude, dtype=np.float64)


@dataclass(frozen=True)
class StarField:
    """`count` stars of `flux` e⁻/s each through L (Gaussian, `sigma` px at binning 1), at random places that
    drift `drift` px/s (binning 1) and wrap around the frame."""

    count: int = 0
    flux: float = 40_000.0
    sigma: float = 1.2
    drift: tuple[float, float] = (6.0, 2.5)
    seed: int = 0

    def electrons(self, shape: tuple[int, int], binning: int, t0: float, t1: float, epoch: float) -> F64:
        """e⁻ per pixel over [t0, t1] through L at illumination 1, trails included, on a frame of `shape`."""
        out = np.zeros(shape, dtype=np.float64)
        if self.count <= 0 or t1 <= t0:
            return out
        rows, cols = shape
        rng = np.random.default_rng([self.seed, 13])
        base = rng.random((self.count, 2)) * np.array([cols, rows])
        vx, vy = self.drift[0] / binning, self.drift[1] / binning
        sigma = max(self.sigma / binning, 0.5)
        steps = max(2, math.ceil(math.hypot(vx, vy) * (t1 - t0) / sigma))
        share = self.flux * (t1 - t0) / steps / (2 * math.pi * sigma * sigma)
        radius = math.ceil(3 * sigma)
        offsets = np.arange(-radius, radius + 1)
        for k in range(steps):
            t = t0 + (k + 0.5) * (t1 - t0) / steps - epoch
            xs = (base[:, 0] + vx * t) % cols
            ys = (base[:, 1] + vy * t) % rows
            for x, y in zip(xs, ys, strict=True):
                cx, cy = int(x), int(y)
                px = (cx + offsets) % cols
                py = (cy + offsets) % rows
                gx = np.exp(-0.5 * ((cx + offsets + 0.5 - x) / sigma) ** 2)
                gy = np.exp(-0.5 * ((cy + offsets + 0.5 - y) / sigma) ** 2)
                out[np.ix_(py, px)] += share * np.outer(gy, gx)
        return out


class TwilightSky:
    """The sky at a site over [start, start + hours] on the bench clock: its flux at any instant, the
    photoelectrons an exposure collects as it changes, and its gradient across the frame."""

    def __init__(
        self,
        latitude: float,
        longitude: float,
        elevation: float = 0.0,
        *,
        start: float,
        hours: float = 30.0,
        model: SkyModel | None = None,
        stars: StarField | None = None,
    ) -> None:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 360 and math.isfinite(elevation)):
            raise ConfigError(f"sim sky: no such site {latitude:g}°, {longitude:g}°")
        self.model = model or SkyModel()
        self.stars = stars or StarField()
        self.epoch = start
        count = math.ceil(hours * 3600 / SAMPLE) + 1
        self.times: F64 = start + np.arange(count, dtype=np.float64) * SAMPLE
        self.altitudes: F64 = sun_altitudes(latitude, longitude, elevation, self.times)

    def altitude(self, t: float | F64) -> F64:
        return np.asarray(np.interp(t, self.times, self.altitudes), dtype=np.float64)

    def flux(self, t: float) -> float:
        return float(self.model.flux(self.altitude(t)))

    def electrons(self, t0: float, t1: float) -> float:
        """e⁻ per pixel through L at illumination 1 collected over [t0, t1] (Simpson's rule)."""
        if t1 <= t0:
            return 0.0
        times = np.linspace(t0, t1, NODES)
        flux = self.model.flux(self.altitude(times))
        weights = np.ones(NODES)
        weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
        return float(flux @ weights * (t1 - t0) / (3.0 * (NODES - 1)))

    def gradient_map(self, shape: tuple[int, int]) -> F64:
        """The sky's tilt across a frame of `shape`, mean 1, peak-to-peak `model.gradient`."""
        rows, cols = shape
        y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
        angle = math.radians(self.model.gradient_angle)
        ramp = (x - (cols - 1) / 2) * math.cos(angle) + (y - (rows - 1) / 2) * math.sin(angle)
        span = float(ramp.max() - ramp.min()) or 1.0
        return np.asarray(1.0 + self.model.gradient * ramp / span, dtype=np.float64)

    def pattern(self, shape: tuple[int, int], binning: int, t0: float, t1: float) -> F64:
        """The sky's light across a frame relative to its mean level: gradient, plus the stars' trails over
        [t0, t1] as a fraction of the sky's own e⁻ (both through the same filter)."""
        pattern = self.gradient_map(shape)
        sky = self.electrons(t0, t1)
        if self.stars.count and sky > 0:
            pattern = pattern + self.stars.electrons(shape, binning, t0, t1, self.epoch) / sky
        return pattern
