"""Clock seconds → the strings written in headers, file names, the manifest and the journal.

Every timestamp comes from the run's injected clock (a dry run on the virtual clock gets consistent,
reproducible dates), never from the wall clock directly.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def fits_date(seconds: float, timespec: str = "milliseconds") -> str:
    """FITS DATE-OBS form: UTC, ISO-8601 (milliseconds by default) and no zone letter (FITS dates are UTC)."""
    return utc_datetime(seconds).replace(tzinfo=None).isoformat(timespec=timespec)


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
