"""Bench options: what a `sim://` URL query or `Bench(**options)` may set, parsed and checked in one place.

Values arrive as strings from URLs or as Python values from code; both go through the same parsers, so
`sim://panel?curve=gamma&gamma=2.2` and `Bench(curve="gamma", gamma=2.2)` build the same bench. Unknown
names and bad values are `ConfigError`s naming the option.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from drivers.errors import ConfigError

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
    # panel
    max: int = 255  # highest brightness
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
    # filter wheel
    filters: tuple[str, ...] = DEFAULT_FILTERS
    transmissions: Mapping[str, float] = field(default_factory=dict)  # lower-case name → transmission
    move_time: float = 1.0  # s per slot
    wheel_fault: str | None = None  # stuck
    stuck_timeout: float = 10.0  # s past the due arrival before a stuck wheel raises DeviceTimeout

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
    return float(value)  # type: ignore[arg-type]


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected an integer")
    return int(str(value).strip()) if not isinstance(value, int | float) else int(value)


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
    "max": _int,
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
    "filters": _names,
    "move_time": _float,
    "wheel_fault": _fault("wheel"),
    "stuck_timeout": _float,
}

_CHECKS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "readout": (lambda v: v >= 0, "must be >= 0"),
    "full_well": (lambda v: v > 0, "must be > 0"),
    "read_noise": (lambda v: v >= 0, "must be >= 0"),
    "dark": (lambda v: v >= 0, "must be >= 0"),
    "doubling": (lambda v: v > 0, "must be > 0"),
    "glow": (lambda v: v >= 0, "must be >= 0"),
    "hot_pixels": (lambda v: 0 <= v <= 0.1, "must be a fraction between 0 and 0.1"),
    "prnu": (lambda v: 0 <= v <= 0.2, "must be a fraction between 0 and 0.2"),
    "banding": (lambda v: v >= 0, "must be >= 0"),
    "vignetting": (lambda v: 0 < v <= 1, "must be a corner/centre ratio in (0, 1]"),
    "dust": (lambda v: 0 <= v <= 100, "must be between 0 and 100"),
    "cool_rate": (lambda v: v > 0, "must be > 0"),
    "cooler_stall": (lambda v: v >= 0, "must be >= 0"),
    "disconnect_after": (lambda v: v >= 0, "must be >= 0"),
    "hang_timeout": (lambda v: v > 0, "must be > 0"),
    "dark_exposure_error": (lambda v: -0.5 < v < 1, "must be a fraction between -0.5 and 1"),
    "max": (lambda v: 1 <= v <= 65535, "must be between 1 and 65535"),
    "gamma": (lambda v: v > 0, "must be > 0"),
    "threshold": (lambda v: v >= 0, "must be >= 0"),
    "flux": (lambda v: v >= 0, "must be >= 0"),
    "pwm_hz": (lambda v: v >= 0, "must be >= 0 (0: no PWM)"),
    "pwm_error": (lambda v: -0.5 < v < 0.5, "must be a fraction between -0.5 and 0.5"),
    "pwm_jitter": (lambda v: 0 <= v <= 1, "must be a fraction of a period between 0 and 1"),
    "warmup": (lambda v: v >= 0, "must be >= 0"),
    "warmup_start": (lambda v: 0 <= v <= 1, "must be a fraction between 0 and 1"),
    "afterglow": (lambda v: v >= 0, "must be >= 0"),
    "afterglow_level": (lambda v: 0 <= v <= 1, "must be a fraction between 0 and 1"),
    "cover_time": (lambda v: v >= 0, "must be >= 0"),
    "move_time": (lambda v: v >= 0, "must be >= 0"),
    "stuck_timeout": (lambda v: v > 0, "must be > 0"),
}

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
            transmissions[filter_name] = _parse_one(key, value, _float, (lambda v: v >= 0, "must be >= 0"))
        elif name == "transmissions":
            if not isinstance(value, Mapping):
                raise ConfigError(f"sim option {key}: expected a mapping of filter name to transmission")
            for filter_name, fraction in value.items():
                transmissions[str(filter_name).lower()] = _parse_one(
                    f"transmission.{filter_name}", fraction, _float, (lambda v: v >= 0, "must be >= 0")
                )
        elif name == "fault":
            for fault in value if isinstance(value, list | tuple) else [value]:
                text = str(fault).strip().lower()
                if text not in FAULTS:
                    raise ConfigError(f"sim option fault={fault!r}: unknown fault (known: {', '.join(FAULTS)})")
                values[f"{FAULTS[text]}_fault"] = text
        elif name in _PARSERS:
            values[name] = _parse_one(key, value, _PARSERS[name], _CHECKS.get(name))
        else:
            raise ConfigError(f"unknown sim option {key!r} (known: {', '.join(sorted(KNOWN_OPTIONS))})")
    if transmissions:
        values["transmissions"] = transmissions
    options = BenchOptions(**values)
    if options.threshold is not None and options.threshold >= options.max:
        raise ConfigError(f"sim option threshold={options.threshold}: must be below max={options.max}")
    return options


def _parse_one(
    key: str,
    value: object,
    parser: Callable[[object], Any],
    check: tuple[Callable[[Any], bool], str] | None,
) -> Any:
    if value is None:
        return None
    try:
        parsed = parser(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sim option {key}={value!r}: {exc}") from None
    if check is not None and parsed is not None and not check[0](parsed):
        raise ConfigError(f"sim option {key}={value!r}: {check[1]}")
    return parsed


def option_names() -> list[str]:
    """Every option name (for docs and error messages)."""
    return sorted(f.name for f in fields(BenchOptions))
