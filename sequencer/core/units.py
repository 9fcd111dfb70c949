"""Durations (`4s`, `1.5`, `500ms`, `2min`) and fractions (`50%`, `0.5`) as users write them.

Every duration is finite and at most `MAX_SECONDS` (an hour): a flat takes seconds, a settle a few, a cooler
minutes, and `exposure: 1e9s` (31 years) is a typo, not a plan. The bound holds whatever the camera.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_DURATION = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h)?\s*$"
)
MAX_SECONDS = 3600.0
"""The longest exposure, wait or timeout a sequence file may ask for."""
INT32_MAX = 2**31 - 1
"""The largest gain, offset, readout mode or brightness: ASCOM carries them as 32-bit integers."""
ABSOLUTE_ZERO = -273.15
"""No sensor temperature is below it (°C)."""
_UNIT_SECONDS = {
    None: 1.0,
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string with a unit; negative or non-finite values are refused."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 4s, 1.5 or 500ms, got a yes/no value")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ValueError(f"a duration cannot be negative: {value!r}")
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f"expected a duration such as 4s, 1.5 or 500ms, got {value!r}")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"expected a duration such as 4s, 1.5 or 500ms, got {type(value).__name__}")
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is longer than {format_duration(MAX_SECONDS)}, the most a sequence may ask for")
    return seconds


def parse_fraction(value: Any) -> float:
    """A fraction of full scale from `50%` or `0.5`; a bare number above 1 is refused as ambiguous."""
    if isinstance(value, bool):
        raise ValueError("expected a fraction such as 50% or 0.5, got a yes/no value")
    if isinstance(value, str):
        text = value.strip()
        try:
            fraction = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a fraction such as 50% or 0.5, got {value!r}") from None
        if not text.endswith("%") and fraction > 1:
            raise ValueError(f"{value!r} is above 1: write a percentage with % (e.g. 50%) or a fraction (0.5)")
    elif isinstance(value, int | float):
        fraction = float(value)
        if fraction > 1:
            raise ValueError(f"{value!r} is above 1: write a percentage with % (e.g. 50%) or a fraction (0.5)")
    else:
        raise ValueError(f"expected a fraction such as 50% or 0.5, got {type(value).__name__}")
    if not math.isfinite(fraction) or fraction < 0:
        raise ValueError(f"a fraction must be between 0% and 100%, got {value!r}")
    return fraction


def format_duration(seconds: float) -> str:
    """Short, human: 0.5s, 4s, 1m30s, 1h02m."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _above_zero(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("the exposure must be above 0 s")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
Exposure = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_above_zero)]
Fraction = Annotated[float, BeforeValidator(parse_fraction)]
