"""The Sun's altitude at a site, at any instant of the run's clock (astropy: `get_sun`, `AltAz`).

A twilight is sampled once (astropy is called on an array of times, not once per frame) and interpolated: the
Sun's altitude is smooth, so a sample a minute is good to well under 0.01°. UT1 − UTC (under 0.9 s, about
0.004° of solar altitude) is taken as zero, so no IERS table is downloaded: a run in the field may be offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.errors import ConfigError

__all__ = ["SAMPLE_SECONDS", "Site", "SunPath", "sun_altitudes"]

SAMPLE_SECONDS = 60.0
"""One astropy sample a minute; the altitude between samples is interpolated linearly (off by under 0.001°)."""
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Site:
    """Where the telescope stands: geodetic latitude and longitude (degrees, east positive), elevation (m)."""

    latitude: float
    longitude: float
    elevation: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90):
            raise ConfigError(f"site latitude {self.latitude:g}° is not within -90° to 90°")
        if not (math.isfinite(self.longitude) and -180 <= self.longitude <= 360):
            raise ConfigError(f"site longitude {self.longitude:g}° is not within -180° to 360°")
        if not (math.isfinite(self.elevation) and -500 <= self.elevation <= 9000):
            raise ConfigError(f"site elevation {self.elevation:g} m is not within -500 m to 9000 m")


def sun_altitudes(site: Site, times: F64) -> F64:
    """The Sun's apparent altitude (degrees, no refraction) at each of `times` (Unix seconds, UTC). astropy's
    coordinates are imported here, on first use: they take a second to load and most commands never need them."""
    import warnings

    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, get_sun
    from astropy.time import Time
    from astropy.utils import iers

    when = Time(np.asarray(times, dtype=np.float64), format="unix", scale="utc")
    when.delta_ut1_utc = np.zeros(when.shape)
    location = EarthLocation(lon=site.longitude * u.deg, lat=site.latitude * u.deg, height=site.elevation * u.m)
    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("iers_degraded_accuracy", "ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # polar motion beyond the bundled table: milli-arcseconds, irrelevant here
        frame = AltAz(obstime=when, location=location)
        altitude = get_sun(when).transform_to(frame).alt.deg
    return np.asarray(altitude, dtype=np.float64)


class SunPath:
    """The Sun's altitude over [start, end] (Unix seconds) at `site`, sampled once, interpolated after."""

    def __init__(self, site: Site, start: float, end: float, step: float = SAMPLE_SECONDS) -> None:
        if not end > start:
            raise ConfigError("a Sun path needs an end after its start")
        self.site = site
        count = max(math.ceil((end - start) / step) + 1, 2)
        self.times: F64 = start + np.arange(count, dtype=np.float64) * step
        self.altitudes: F64 = sun_altitudes(site, self.times)

    @property
    def start(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1])

    def altitude(self, t: float) -> float:
        """The Sun's altitude at `t` (held at the ends outside the sampled span)."""
        return float(np.interp(t, self.times, self.altitudes))

    def altitudes_at(self, times: F64) -> F64:
        return np.asarray(np.interp(times, self.times, self.altitudes), dtype=np.float64)

    def crossing(self, altitude: float, after: float, *, descending: bool) -> float | None:
        """The first instant at or after `after` when the Sun passes `altitude` going down (`descending`) or up;
        None when it does not within the path."""
        alt = self.altitudes - altitude
        for i in range(len(self.times) - 1):
            if self.times[i + 1] < after:
                continue
            a, b = alt[i], alt[i + 1]
            passes = (a >= 0 > b) if descending else (a <= 0 < b)
            if passes:
                t = float(self.times[i] + (self.times[i + 1] - self.times[i]) * a / (a - b))
                if t >= after:
                    return t
        return None

    def rate(self, t: float) -> float:
        """How fast the Sun's altitude changes at `t`, degrees per second (negative at dusk)."""
        dt = min(SAMPLE_SECONDS, max((self.end - self.start) / 4, 1.0))
        return (self.altitude(t + dt) - self.altitude(t - dt)) / (2 * dt)
