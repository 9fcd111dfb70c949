"""INDI devices: `indi://host:port/Device%20Name` (port 7624 by default), camera, light box or filter wheel.

The path is the device's INDI name, percent-encoded (`CCD%20Simulator`). URL options: `timeout` (seconds for
the server to answer a property change, default 5), `connect_timeout` (seconds for the device to appear and
connect, default 30), `download_timeout` (seconds an image may take after its exposure ends, default 30).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from drivers.errors import ConfigError
from drivers.indi.client import IndiClient
from drivers.indi.device import IndiDevice
from drivers.indi.link import IndiLink
from drivers.registry import OpenContext, SchemeFunctions
from drivers.urls import query_options

__all__ = ["DEFAULT_PORT", "INDI", "IndiAddress", "IndiDevice", "open_indi", "parse_indi_url"]

DEFAULT_PORT = 7624
_OPTIONS = {"timeout": 5.0, "connect_timeout": 30.0, "download_timeout": 30.0}
_USAGE = "expected indi://host:port/Device%20Name (e.g. indi://localhost:7624/CCD%20Simulator)"


@dataclass(frozen=True)
class IndiAddress:
    """Where a device lives and how long to wait for it."""

    host: str
    port: int
    device: str
    timeout: float = 5.0
    connect_timeout: float = 30.0
    download_timeout: float = 30.0


def parse_indi_url(url: str) -> IndiAddress:
    """The device an `indi://` URL names; ConfigError says what is wrong, in one line."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "indi":
        raise ConfigError(f"{url!r} is not an indi:// URL; {_USAGE}")
    if not parts.hostname:
        raise ConfigError(f"{url!r} names no host; {_USAGE}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"{url!r} has an invalid port; {_USAGE}") from None
    device = unquote(parts.path.lstrip("/")).strip()
    if not device or "/" in device:
        raise ConfigError(f"{url!r} names no device (or more than one); {_USAGE}")
    raw = query_options(url)
    unknown = sorted(set(raw) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"{url!r}: unknown option {', '.join(unknown)} (known: {', '.join(_OPTIONS)})")
    seconds = {}
    for name, default in _OPTIONS.items():
        text = raw.get(name)
        try:
            value = default if text is None else float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ConfigError(f"{url!r}: {name} must be a positive number of seconds, not {text!r}")
        seconds[name] = value
    return IndiAddress(parts.hostname, port, device, **seconds)


def open_indi(url: str, ctx: OpenContext) -> IndiDevice:
    """Registry opener for `indi://` URLs; the device is not connected yet."""
    address = parse_indi_url(url)
    client = IndiClient(address.host, address.port, address.device, clock=ctx.clock, timeout=address.timeout)
    link = IndiLink(client, connect_timeout=address.connect_timeout)
    return IndiDevice(link, clock=ctx.clock, download_timeout=address.download_timeout)


INDI = SchemeFunctions(open_indi)
"""The `indi` scheme."""
