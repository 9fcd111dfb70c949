"""Alnitak equipment URLs → where the panel is and how to talk to it.

`alnitak:///dev/ttyACM0` (a device path; `alnitak://COM3` on Windows), any pyserial URL after a `+`
(`alnitak+socket://host:port`, `alnitak+rfc2217://host:port`, `alnitak+loop://`), or a port provided
at connect time by an in-process emulator (`alnitak+emulator://`, the simulators' scheme, which names its own
options). Our own query options are stripped before the URL reaches pyserial; pyserial's own (e.g.
`socket://…?logging=debug`) pass through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from drivers.alnitak.protocol import FILLERS, TERMINATORS
from drivers.errors import ConfigError, quoted
from drivers.urls import split_url, url_shown

_OUR_OPTIONS = frozenset({"baud", "timeout", "retries", "eol", "filler", "settle"})


@dataclass(frozen=True)
class AlnitakOptions:
    """Where the panel is and how to talk to it, parsed from its equipment URL."""

    port: str
    """What pyserial opens: a device path or a pyserial URL (socket://, rfc2217://, loop://)."""
    baud: int = 9600
    timeout: float = 2.0
    retries: int = 2
    eol: str = "lf"
    filler: str = "000"
    settle: float = 0.0
    is_device_path: bool = field(default=True, compare=False)
    emulator: dict[str, str] | None = field(default=None, compare=False)
    """For `alnitak+emulator://`: the emulator's own options (product, reply_eol, fault, …)."""


def parse_alnitak_url(url: str, *, emulator_options: frozenset[str] = frozenset()) -> AlnitakOptions:
    """Split an `alnitak[+transport]://…` URL into the pyserial port and our own options.

    `emulator_options`: for `alnitak+emulator://`, the query keys that configure the emulator (its opener
    passes them); they come back in `AlnitakOptions.emulator`.
    """
    parts = split_url(url)
    scheme, plus, transport = parts.scheme.partition("+")
    if scheme.lower() != "alnitak":
        raise ConfigError(f"{url_shown(url)} is not an alnitak:// URL")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _OUR_OPTIONS:
            ours[key.lower()] = value
        else:
            theirs.append((key, value))  # pyserial's own URL options, e.g. socket://…?logging=debug
    emulator: dict[str, str] | None = None
    if transport.lower() == "emulator":
        emulator = {k.lower(): v for k, v in theirs if k.lower() in emulator_options}
        unknown = [k for k, _ in theirs if k.lower() not in emulator_options]
        if unknown:
            known = ", ".join(sorted(_OUR_OPTIONS | emulator_options))
            raise ConfigError(f"{url_shown(url)}: unknown option(s) {', '.join(unknown)} (known: {known})")
        port = "alnitak+emulator://"
        is_path = True
    elif plus:
        if not transport:
            raise ConfigError(f"{url_shown(url)}: nothing after '+' (expected e.g. alnitak+socket://host:port)")
        port = f"{transport.lower()}://{parts.netloc}{parts.path}"
        if theirs:
            port += "?" + urlencode(theirs)
        is_path = False
    else:
        port = unquote(parts.netloc + parts.path)
        if not port:
            raise ConfigError(f"{url_shown(url)} names no serial port (expected e.g. alnitak:///dev/ttyACM0)")
        if theirs:
            names = ", ".join(k for k, _ in theirs)
            raise ConfigError(f"{url_shown(url)}: unknown option(s) {names} (known: {', '.join(sorted(_OUR_OPTIONS))})")
        is_path = True
    return AlnitakOptions(
        port=port,
        baud=number_option(url, ours, "baud", 9600, int, minimum=1, maximum=4_000_000),
        timeout=number_option(url, ours, "timeout", 2.0, float, minimum=0.001, maximum=60.0),
        retries=number_option(url, ours, "retries", 2, int, minimum=0, maximum=100),
        eol=_choice(url, ours, "eol", "lf", tuple(TERMINATORS)),
        filler=_choice(url, ours, "filler", "000", FILLERS),
        settle=number_option(url, ours, "settle", 0.0, float, minimum=0.0, maximum=60.0),
        is_device_path=is_path,
        emulator=emulator,
    )


def number_option(
    url: str, options: dict[str, str], key: str, default: Any, kind: type, *, minimum: float, maximum: float
) -> Any:
    """Option `key`'s number (`int` or `float`), `default` if absent, from `minimum` to `maximum` (NaN and
    infinity are neither); the emulator's options are read with it too."""
    if key not in options:
        return default
    try:
        value = kind(options[key]) if len(options[key]) <= 32 else None
    except ValueError:
        value = None
    if value is None:
        raise ConfigError(f"{url_shown(url)}: {key}={quoted(options[key])} is not a {kind.__name__}")
    if not math.isfinite(value):
        raise ConfigError(f"{url_shown(url)}: {key}={options[key]!r} must be a finite number")
    if value < minimum:
        raise ConfigError(f"{url_shown(url)}: {key}={options[key]!r} must be at least {minimum}")
    if value > maximum:
        raise ConfigError(f"{url_shown(url)}: {key}={options[key]!r} must be at most {maximum:g}")
    return value


def _choice(url: str, options: dict[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = options.get(key, default)
    if value.lower() in (a.lower() for a in allowed):
        return next(a for a in allowed if a.lower() == value.lower())
    raise ConfigError(f"{url_shown(url)}: {key}={value!r} must be one of {', '.join(allowed)}")
