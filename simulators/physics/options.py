"""Bench options: what a `sim://` URL query or `Bench(**options)` may set, parsed and checked in one place.

Values arrive as strings from URLs or as Python values from code; both go through the same parsers, so
`sim://panel?curve=gamma&gamma=2.2` and `Bench(curve="gamma", gamma=2.2)` build the same bench. Unknown
names and bad values are `ConfigError`s naming the option. Every number is finite and within a physically
sensible range (`RANGES`): a sensor reading out for 1e300 s, or a panel a billion times brighter than the
sun, is a typo that would otherwise make a simulated run spin forever or overflow.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from drivers.errors import ConfigError, quoted
from simulators.physics.colour import PANEL_SPECTRA, bayer_pattern

DEFAULT_FILTERS = ("L", "R", "G", "B", "Ha", "OIII", "SII")

DEFAULT_TRANSMISSIONS: Mapping[str, float] = {
    "l": 1.0,
    "lum": 1.0,
    "luminance": 1.0,
    "clear": 1.0,
    "r": 0.33,
    "red": 0.33,
    "g": 0.35,
    "green": 0.35,
    "b": 0.30,
    "blue": 0.30,
    "ha": 0.035,
    "h-alpha": 0.035,
    "oiii": 0.04,
    "o3": 0.04,
    "sii": 0.03,
    "s2": 0.03,
    "none": 1.0,
    "uvir": 0.95,
    "dualband": 0.1,
    "dark": 0.0,
    "blank": 0.0,
    "opaque": 0.0,
}
"""Transmission of a white panel's light relative to L, by lower-case filter name; other names get 1.0."""

FAULTS: Mapping[str, str] = {"hang": "camera", "stuck": "wheel", "dead": "panel"}
"""Injectable faults by value → the device kind they belong to."""


@dataclass(frozen=True)
class BenchOptions:
    """Every knob of the simulated bench, with its default. See each group's comment."""

    # sensor overrides (None: the preset's value)
    readout: float | None = None  # seconds from end of exposure to image ready
    full_well: float | None = None  # e⁻, both conversion modes
    read_noise: float | None = None  # e⁻ RMS at gain 0 (HCG scales with it)
    dark: float | None = None  # e⁻/s per pixel at -10 °C
    doubling: float | None = None  # °C per doubling of dark current
    glow: float | None = None  # amp glow at the corners, e⁻/s
    hot_pixels: float | None = None  # fraction of hot pixels
    prnu: float | None = None  # pixel response non-uniformity, RMS fraction
    banding: float | None = None  # fixed column pattern, fraction of read noise
    # optics
    vignetting: float = 0.75  # corner / centre illumination
    dust: int = 5  # dust donuts
    # camera
    ambient: float = 15.0  # °C
    cool_rate: float = 0.25  # °C per second toward the set-point
    cooler: str = "ok"  # ok | stuck
    cooler_stall: float = 5.0  # °C above the set-point where a stuck cooler stalls
    shutter: bool = False  # a mechanical shutter honours light=False
    disconnect_after: int | None = None  # frames before the camera vanishes
    camera_fault: str | None = None  # hang
    hang_timeout: float = 60.0  # s past the due time before a hung camera raises DeviceTimeout itself
    dark_exposure_error: float = 0.0  # dark frames expose this fraction longer than asked (a timing fault)
    exposure_offset: float = 0.0  # s of light beyond the asked exposure (a shutter's travel): a non-linear low end
    # panel
    max: int = 255  # highest brightness
    dimmable: bool = True  # 0: a switch-only panel (one level: light_on ignores the brightness)
    curve: str = "linear"  # linear | gamma | threshold
    gamma: float = 2.2
    threshold: int | None = None  # brightness below which an EL panel stays dark (default max/10)
    flux: float = 200_000.0  # e⁻/s per pixel at full brightness through L, mean illumination
    pwm_hz: float = 100.0  # 0: no PWM (analogue dimming)
    pwm_error: float = 0.015  # the PWM clock runs this fraction off nominal (RC oscillator)
    pwm_jitter: float = 0.02  # RMS cycle-to-cycle jitter, fraction of a period
    warmup: float = 0.7  # s, time constant of the approach to full output after switching on
    warmup_start: float = 0.85  # output fraction right after switching on
    afterglow: float = 0.3  # s, decay time constant after switching off
    afterglow_level: float = 0.02  # fraction of the output still emitted right after switching off
    cover: bool = False  # a flip-flat cover (the panel lights the camera only while closed)
    cover_time: float = 3.0  # s for a full open or close
    panel_fault: str | None = None  # dead
    # a light switched by hand (the bench's manual light: a tablet, an EL sheet, a T-shirt at dusk)
    manual_flux: float = 20_000.0  # e⁻/s per pixel through L while it is on, mean illumination
    # a twilight sky (simulators.physics.sky), seen while the telescope is uncapped (the manual light's switch)
    sky: tuple[float, float, float] | None = None  # the site: latitude,longitude[,elevation]
    sky_flux: float = 30_000.0  # e⁻/s per pixel through L with the Sun 5° down
    sky_gradient: float = 0.02  # peak-to-peak fraction of the sky's level across the frame
    sky_stars: int = 0  # faint stars drifting across the frame (tracking off)
    # filter wheel
    filters: tuple[str, ...] = DEFAULT_FILTERS
    transmissions: Mapping[str, float] = field(default_factory=dict)  # lower-case name → transmission
    move_time: float = 1.0  # s per slot
    wheel_fault: str | None = None  # stuck
    stuck_timeout: float = 10.0  # s past the due arrival before a stuck wheel raises DeviceTimeout
    # colour (simulators.physics.colour)
    bayer: str | None = None  # a colour preset's pattern at pixel (0, 0) instead of RGGB (GRBG, GBRG, BGGR)
    spectrum: str = "led"  # the panel's colour: led (bluish white), white, warm

    def transmission(self, name: str) -> float:
        """Relative transmission of a filter: an explicit option, the table above, else 1.0."""
        key = name.lower()
        if key in self.transmissions:
            return self.transmissions[key]
        return DEFAULT_TRANSMISSIONS.get(key, 1.0)

    def effective_threshold(self) -> int:
        return self.threshold if self.threshold is not None else max(self.max // 10, 1)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected an integer")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if not re.fullmatch(r"[-+]?[0-9]{1,18}", text):
        raise ValueError("expected an integer")
    return int(text)


def _site(value: object) -> tuple[float, float, float]:
    parts = [p.strip() for p in str(value).split(",")]
    if len(parts) not in (2, 3):
        raise ValueError("expected latitude,longitude[,elevation]")
    lat, lon, elev = (*[_float(p) for p in parts], 0.0)[:3]
    if not (-90 <= lat <= 90 and -180 <= lon <= 360 and -500 <= elev <= 9000):
        raise ValueError("latitude within ±90°, longitude within -180° to 360°, elevation within -500 m to 9000 m")
    return (lat, lon, elev)


def parse_seed(value: object) -> int:
    """The bench's random seed: a whole number from 0 to 2³²−1 (numpy takes no negative seed)."""
    try:
        seed = _int(value)
    except ValueError:
        seed = -1
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ConfigError(f"sim option seed={quoted(value)}: expected an integer from 0 to 4294967295")
    return seed


def _names(value: object) -> tuple[str, ...]:
    items = [str(v).strip() for v in value] if isinstance(value, list | tuple) else str(value).split(",")
    names = tuple(name.strip() for name in items if name.strip())
    if not names:
        raise ValueError("expected a comma-separated list of filter names")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("filter names must be unique")
    return names


def _choice(*allowed: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return text

    return parse


def _fault(kind: str) -> Callable[[object], str | None]:
    def parse(value: object) -> str | None:
        text = str(value).strip().lower()
        if text in ("", "none"):
            return None
        if FAULTS.get(text) != kind:
            known = ", ".join(v for v, k in FAULTS.items() if k == kind)
            raise ValueError(f"not a {kind} fault (known: {known})")
        return text

    return parse


_PARSERS: Mapping[str, Callable[[object], Any]] = {
    "readout": _float,
    "full_well": _float,
    "read_noise": _float,
    "dark": _float,
    "doubling": _float,
    "glow": _float,
    "hot_pixels": _float,
    "prnu": _float,
    "banding": _float,
    "vignetting": _float,
    "dust": _int,
    "ambient": _float,
    "cool_rate": _float,
    "cooler": _choice("ok", "stuck"),
    "cooler_stall": _float,
    "shutter": _bool,
    "disconnect_after": _int,
    "camera_fault": _fault("camera"),
    "hang_timeout": _float,
    "dark_exposure_error": _float,
    "exposure_offset": _float,
    "max": _int,
    "dimmable": _bool,
    "curve": _choice("linear", "gamma", "threshold"),
    "gamma": _float,
    "threshold": _int,
    "flux": _float,
    "pwm_hz": _float,
    "pwm_error": _float,
    "pwm_jitter": _float,
    "warmup": _float,
    "warmup_start": _float,
    "afterglow": _float,
    "afterglow_level": _float,
    "cover": _bool,
    "cover_time": _float,
    "panel_fault": _fault("panel"),
    "manual_flux": _float,
    "sky": _site,
    "sky_flux": _float,
    "sky_gradient": _float,
    "sky_stars": _int,
    "filters": _names,
    "move_time": _float,
    "wheel_fault": _fault("wheel"),
    "stuck_timeout": _float,
    "bayer": bayer_pattern,
    "spectrum": _choice(*PANEL_SPECTRA),
}


@dataclass(frozen=True)
class Range:
    """The values an option may take: `low` to `high` (an end excluded if open), described as `what`."""

    low: float
    high: float
    what: str = ""
    unit: str = ""
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        if self.low_open or self.high_open:
            interval = f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        else:
            interval = f"between {self.low:g} and {self.high:g}"
        return f"must be {self.what + ' ' if self.what else ''}{interval}{self.unit}"


_FRACTION = "a fraction"
RANGES: Mapping[str, Range] = {
    "readout": Range(0, 60, unit=" s"),
    "full_well": Range(1, 1e7, unit=" e⁻"),
    "read_noise": Range(0, 1000, unit=" e⁻"),
    "dark": Range(0, 1e5, unit=" e⁻/s"),
    "doubling": Range(0.5, 100, unit=" °C"),
    "glow": Range(0, 1e6, unit=" e⁻/s"),
    "hot_pixels": Range(0, 0.1, _FRACTION),
    "prnu": Range(0, 0.2, _FRACTION),
    "banding": Range(0, 100, "a multiple of the read noise"),
    "vignetting": Range(0, 1, "a corner/centre ratio", low_open=True),
    "dust": Range(0, 100, unit=" donuts"),
    "ambient": Range(-50, 60, unit=" °C"),
    "cool_rate": Range(0, 10, unit=" °C/s", low_open=True),
    "cooler_stall": Range(0, 50, unit=" °C"),
    "disconnect_after": Range(0, 1e9, unit=" frames"),
    "hang_timeout": Range(0, 3600, unit=" s", low_open=True),
    "dark_exposure_error": Range(-0.5, 1, low_open=True, high_open=True),
    "exposure_offset": Range(-1, 1, unit=" s"),
    "max": Range(1, 65535),
    "gamma": Range(0.1, 10),
    "threshold": Range(0, 65534),
    "flux": Range(0, 1e9, unit=" e⁻/s"),
    "manual_flux": Range(0, 1e9, unit=" e⁻/s"),
    "sky_flux": Range(0, 1e9, unit=" e⁻/s"),
    "sky_gradient": Range(0, 0.5, _FRACTION),
    "sky_stars": Range(0, 500, unit=" stars"),
    "pwm_hz": Range(0, 1e6, unit=" Hz (0: no PWM)"),
    "pwm_error": Range(-0.5, 0.5, _FRACTION, low_open=True, high_open=True),
    "pwm_jitter": Range(0, 1, "a fraction of a period"),
    "warmup": Range(0, 600, unit=" s"),
    "warmup_start": Range(0, 1, _FRACTION),
    "afterglow": Range(0, 600, unit=" s"),
    "afterglow_level": Range(0, 1, _FRACTION),
    "cover_time": Range(0, 600, unit=" s"),
    "move_time": Range(0, 600, unit=" s per slot"),
    "stuck_timeout": Range(0, 3600, unit=" s", low_open=True),
}
"""Every numeric option's range: wide enough for any real rig, narrow enough that nothing overflows or
spins (a simulated run waits on its clock for readouts, moves and timeouts of these lengths)."""
TRANSMISSION = Range(0, 1, "a fraction of L's light")

KNOWN_OPTIONS = frozenset(_PARSERS) | {"fault", "transmissions"}
"""Option names `parse_options` accepts, besides `transmission.<filter>`."""


def parse_options(raw: Mapping[str, object]) -> BenchOptions:
    """Build `BenchOptions` from names → values (strings or Python values).

    `fault=<value>` is routed by value (hang → camera, stuck → wheel, dead → panel) and may be a list;
    `transmission.<filter>=<fraction>` sets one filter's transmission (names are case-insensitive).
    """
    values: dict[str, Any] = {}
    transmissions: dict[str, float] = {}
    for key, value in raw.items():
        name = key.lower()
        if name.startswith("transmission."):
            filter_name = name.split(".", 1)[1]
            transmissions[filter_name] = _parse_one(key, value, _float, TRANSMISSION)
        elif name == "transmissions":
            if not isinstance(value, Mapping):
                raise ConfigError(f"sim option {key}: expected a mapping of filter name to transmission")
            for filter_name, fraction in value.items():
                transmissions[str(filter_name).lower()] = _parse_one(
                    f"transmission.{filter_name}", fraction, _float, TRANSMISSION
                )
        elif name == "fault":
            for fault in value if isinstance(value, list | tuple) else [value]:
                text = str(fault).strip().lower()
                if text not in FAULTS:
                    raise ConfigError(f"sim option fault={fault!r}: unknown fault (known: {', '.join(FAULTS)})")
                values[f"{FAULTS[text]}_fault"] = text
        elif name in _PARSERS:
            values[name] = _parse_one(key, value, _PARSERS[name], RANGES.get(name))
        else:
            raise ConfigError(f"unknown sim option {key!r} (known: {', '.join(sorted(KNOWN_OPTIONS))})")
    if transmissions:
        values["transmissions"] = transmissions
    options = BenchOptions(**values)
    if options.threshold is not None and options.threshold >= options.max:
        raise ConfigError(f"sim option threshold={options.threshold}: must be below max={options.max}")
    return options


def _parse_one(key: str, value: object, parser: Callable[[object], Any], allowed: Range | None) -> Any:
    if value is None:
        return None
    try:
        parsed = parser(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"sim option {key}={quoted(value)}: {exc}") from None
    if allowed is not None and parsed is not None and not allowed.contains(parsed):
        raise ConfigError(f"sim option {key}={quoted(value)}: {allowed.describe()}")
    return parsed


def option_names() -> list[str]:
    """Every option name (for docs and error messages)."""
    return sorted(f.name for f in fields(BenchOptions))


def add_option_argument(parser: argparse.ArgumentParser) -> None:
    """`--option NAME=VALUE`, repeatable: any bench option for a `flatseq sim` server."""
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any sim:// bench option, e.g. --option cool_rate=2 --option warmup=0.05 (repeatable)",
    )


def options_from_cli(items: list[str]) -> dict[str, str]:
    """The `--option NAME=VALUE` items as bench options (checked when the bench is built)."""
    options: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--option {item!r}: expected NAME=VALUE (a sim:// option such as cool_rate=2)")
        if name.strip() in ("seed", "sensor"):
            raise ConfigError(f"--option {item!r}: give the {name.strip()} with --{name.strip()}")
        options[name.strip()] = value.strip()
    return options
