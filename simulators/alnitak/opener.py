"""`alnitak+emulator://?product=99`: the Alnitak emulator started inside the run, on the run's bench.

The simulators register this scheme (pyproject's `flatseq.drivers` entry points) as any plug-in would. The
real Alnitak driver opens the emulator's pty like any serial port, so a sequence on the simulators goes
through the whole serial path (driver, pty, firmware) and the simulated camera still sees the panel's light.
"""

from __future__ import annotations

import math
from typing import Any

from drivers.alnitak.panel import AlnitakPanel
from drivers.alnitak.url import number_option, parse_alnitak_url
from drivers.errors import ConfigError
from drivers.registry import OpenContext, SchemeFunctions
from drivers.urls import DeviceFacts, url_shown
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.firmware import COVER_PRODUCTS, FirmwareConfig
from simulators.alnitak.wire import REPLY_ENDINGS, Fault, FaultPlan
from simulators.devices.bench import Bench

EMULATOR_URL_OPTIONS = frozenset(
    {
        "product",
        "firmware",
        "reply_eol",
        "reply_filler",
        "motor_time",
        "cover_jam",
        "fault",
        "fault_after",
        "fault_count",
        "slow_delay",
        "seed",
    }
)
"""Options of an `alnitak+emulator://` URL that configure the emulator (the rest configure the driver)."""


_RANGES: dict[str, tuple[float, float]] = {
    "motor_time": (0, 600),
    "fault_after": (0, 1e9),
    "fault_count": (0, 1e9),
    "slow_delay": (0, 60),
    "seed": (0, 2**32 - 1),
}
"""Each number's range: an emulated cover moves for at most 10 minutes, a slow reply waits at most a minute
(product and firmware are the emulated firmware's to check)."""


def emulator_settings(url: str, options: dict[str, str]) -> dict[str, Any]:
    """The emulator's settings from its URL options (`AlnitakEmulator.on_bench` keywords), every one checked
    as building the emulator would check it; ConfigError names the URL and the option."""

    def number(key: str, kind: type, default: Any) -> Any:
        low, high = _RANGES.get(key, (-math.inf, math.inf))
        return number_option(url, options, key, default, kind, minimum=low, maximum=high)

    fault = options.get("fault", "none").lower()
    if fault not in {f.value for f in Fault}:
        raise ConfigError(f"{url_shown(url)}: fault={fault!r} must be one of {', '.join(f.value for f in Fault)}")
    eol = options.get("reply_eol", "lf").lower()
    if eol not in REPLY_ENDINGS:
        raise ConfigError(f"{url_shown(url)}: reply_eol: eol must be one of {', '.join(REPLY_ENDINGS)}, not {eol!r}")
    settings: dict[str, Any] = {
        "product": number("product", int, 99),
        "firmware": number("firmware", int, 123),
        "eol": eol,
        "filler": options.get("reply_filler", "auto").upper().replace("AUTO", "auto"),
        "motor_time": number("motor_time", float, 5.0),
        "cover_jam": options.get("cover_jam", "0").lower() in ("1", "true", "yes", "on"),
        "fault": FaultPlan(
            Fault(fault),
            after=number("fault_after", int, 0),
            count=number("fault_count", int, None),
            delay=number("slow_delay", float, 3.0),
        ),
        "seed": number("seed", int, 0),
    }
    try:
        FirmwareConfig(
            product=settings["product"],
            firmware=settings["firmware"],
            filler=settings["filler"],
            motor_time=settings["motor_time"],
            cover_jam=settings["cover_jam"],
        )
    except ValueError as exc:
        raise ConfigError(f"{url_shown(url)}: {exc}") from None
    return settings


def emulator_for_url(url: str, options: dict[str, str], ctx: Any) -> AlnitakEmulator:
    """The (not yet started) emulator behind `alnitak+emulator://?product=99&…`, on the run's bench.

    It shares `ctx.bench` with the run's `sim://` devices (creating and storing the bench if none exists
    yet), so a sequence can drive the simulated camera's light through a real pty and the real driver.
    """
    settings = emulator_settings(url, options)
    if ctx.bench is None:
        ctx.bench = Bench(clock=ctx.clock, cover=settings["product"] in COVER_PRODUCTS)
    try:
        return AlnitakEmulator.on_bench(ctx.bench, **settings)
    except ValueError as exc:
        raise ConfigError(f"{url_shown(url)}: {exc}") from None


def open_emulator(url: str, ctx: OpenContext) -> AlnitakPanel:
    """Registry opener for `alnitak+emulator://`: the real driver on a pty served by the emulator."""
    options = parse_alnitak_url(url, emulator_options=EMULATOR_URL_OPTIONS)
    if options.emulator is None:
        raise ConfigError(f"{url_shown(url)} is not an alnitak+emulator:// URL")
    return AlnitakPanel(options, clock=ctx.clock, emulator=emulator_for_url(url, options.emulator, ctx))


def emulator_facts(url: str) -> DeviceFacts:
    """An emulated panel needs no hardware; Flip-Flat and Flip-Mask products have a cover. The URL is checked
    as opening it would."""
    options = parse_alnitak_url(url, emulator_options=EMULATOR_URL_OPTIONS).emulator
    if options is None:
        raise ConfigError(f"{url_shown(url)} is not an alnitak+emulator:// URL")
    settings = emulator_settings(url, options)
    return DeviceFacts(simulated=True, has_cover=settings["product"] in COVER_PRODUCTS)


EMULATOR = SchemeFunctions(open_emulator, emulator_facts)
"""The `alnitak+emulator` scheme."""
