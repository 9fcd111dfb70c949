"""Clock seconds → the strings written in headers, file names, the manifest and the journal.

Every timestamp comes from the run's injected clock (a dry run on the virtual clock gets consistent,
reproducible dates), never from the wall clock directly.
"""

from __future__ import annotations

from datetime import UTC, datetime

MJD_UNIX_EPOCH = 40587.0
"""The Modified Julian Date of 1970-01-01T00:00:00 UTC."""


def utc_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def fits_date(seconds: float, timespec: str = "milliseconds") -> str:
    """FITS DATE-OBS form: UTC, ISO-8601 (milliseconds by default) and no zone letter (FITS dates are UTC)."""
    return utc_datetime(seconds).replace(tzinfo=None).isoformat(timespec=timespec)


def mjd(seconds: float, timespec: str = "milliseconds") -> float:
    """The Modified Julian Date of the instant `fits_date(seconds, timespec)` writes (the same truncation, so a
    DATE-x and its MJD-x name one instant), to 1e-9 day (86 µs)."""
    moment = datetime.fromisoformat(fits_date(seconds, timespec)).replace(tzinfo=UTC)
    return round(moment.timestamp() / 86400.0 + MJD_UNIX_EPOCH, 9)


def parse_fits_date(text: str) -> float | None:
    """Clock seconds of a FITS date (``2026-01-01T00:00:12.345``, a trailing Z or a zone tolerated, UTC when it
    has none); None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().removesuffix("Z"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def iso_utc(seconds: float) -> str:
    """Manifest and journal form: ISO-8601 UTC with milliseconds and a trailing Z."""
    return fits_date(seconds) + "Z"


def run_id_at(seconds: float) -> str:
    """A run id such as ``2026-11-24T031500Z``: sortable, and safe in a file name on every OS."""
    return utc_datetime(seconds).strftime("%Y-%m-%dT%H%M%SZ")


def local_date(seconds: float) -> str:
    """The observer's calendar date (YYYY-MM-DD, local time zone): what ``{date}`` means."""
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d")


def local_time(seconds: float) -> str:
    """Local time of day as HHMMSS, for ``{time}`` in file names."""
    return datetime.fromtimestamp(seconds).strftime("%H%M%S")
