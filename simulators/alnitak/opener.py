"""`alnitak+emulator://?product=99`: the Alnitak emulator started inside the run, on the run's bench.

The simulators register this scheme (pyproject's `flatseq.drivers` entry points) as any plug-in would. The
real Alnitak driver opens the emulator's pty like any serial port, so a sequence on the simulators goes
through the whole serial path (driver, pty, firmware) and the simulated camera still sees the panel's light.
"""

from __future__ import annotations

from typing import Any

from drivers.alnitak.panel import AlnitakPanel
from drivers.alnitak.url import parse_alnitak_url
from drivers.errors import ConfigError
from drivers.registry import OpenContext, SchemeFunctions
from drivers.urls import DeviceFacts
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.firmware import COVER_PRODUCTS
from simulators.alnitak.wire import Fault, FaultPlan
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


def emulator_for_url(url: str, options: dict[str, str], ctx: Any) -> AlnitakEmulator:
    """The (not yet started) emulator behind `alnitak+emulator://?product=99&…`, on the run's bench.

    It shares `ctx.bench` with the run's `sim://` devices (creating and storing the bench if none exists
    yet), so a sequence can drive the simulated camera's light through a real pty and the real driver.
    """

    def number(key: str, kind: type, default: Any) -> Any:
        try:
            return kind(options[key]) if key in options else default
        except ValueError:
            raise ConfigError(f"{url!r}: {key}={options[key]!r} is not a {kind.__name__}") from None

    product = number("product", int, 99)
    if ctx.bench is None:
        ctx.bench = Bench(clock=ctx.clock, cover=product in COVER_PRODUCTS)
    fault = options.get("fault", "none").lower()
    if fault not in {f.value for f in Fault}:
        raise ConfigError(f"{url!r}: fault={fault!r} must be one of {', '.join(f.value for f in Fault)}")
    plan = FaultPlan(
        Fault(fault),
        after=number("fault_after", int, 0),
        count=number("fault_count", int, None),
        delay=number("slow_delay", float, 3.0),
    )
    try:
        return AlnitakEmulator.on_bench(
            ctx.bench,
            product=product,
            firmware=number("firmware", int, 123),
            eol=options.get("reply_eol", "lf").lower(),
            filler=options.get("reply_filler", "auto").upper().replace("AUTO", "auto"),
            motor_time=number("motor_time", float, 5.0),
            cover_jam=options.get("cover_jam", "0").lower() in ("1", "true", "yes", "on"),
            fault=plan,
            seed=number("seed", int, 0),
        )
    except ValueError as exc:
        raise ConfigError(f"{url!r}: {exc}") from None


def open_emulator(url: str, ctx: OpenContext) -> AlnitakPanel:
    """Registry opener for `alnitak+emulator://`: the real driver on a pty served by the emulator."""
    options = parse_alnitak_url(url, emulator_options=EMULATOR_URL_OPTIONS)
    if options.emulator is None:
        raise ConfigError(f"{url!r} is not an alnitak+emulator:// URL")
    return AlnitakPanel(options, clock=ctx.clock, emulator=emulator_for_url(url, options.emulator, ctx))


def emulator_facts(url: str) -> DeviceFacts:
    """An emulated panel needs no hardware; Flip-Flat and Flip-Mask products have a cover."""
    options = parse_alnitak_url(url, emulator_options=EMULATOR_URL_OPTIONS).emulator or {}
    try:
        product = int(options.get("product", 99))
    except ValueError:
        raise ConfigError(f"{url!r}: product={options['product']!r} is not an int") from None
    return DeviceFacts(simulated=True, has_cover=product in COVER_PRODUCTS)


EMULATOR = SchemeFunctions(open_emulator, emulator_facts)
"""The `alnitak+emulator` scheme."""
