"""ASCOM Alpaca devices: `alpaca://host:port/camera/0`, `/covercalibrator/0`, `/filterwheel/0`.

URL options (query string): `timeout` (seconds per HTTP call, default 5), `download_timeout`
(seconds per image, default 120), `connect_timeout` (seconds for Connect, default 30), `client_id`
(the ClientID sent, default from the process id) and `imagebytes` (0 forces JSON image downloads).
The port defaults to 11111, the usual Alpaca port. The transport is in `transport`, image codecs
in `imagebytes` / `jsonimage`, one module per device type.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.alpaca.camera import AlpacaCamera
from drivers.alpaca.device import AlpacaLink
from drivers.alpaca.panel import AlpacaCoverCalibrator
from drivers.alpaca.transport import AlpacaAddress, AlpacaTransport, TransportOptions
from drivers.alpaca.wheel import AlpacaFilterWheel
from drivers.errors import ConfigError, quoted
from drivers.registry import OpenContext, SchemeFunctions
from drivers.urls import DeviceFacts, query_options, split_url, url_shown

__all__ = [
    "AlpacaCamera",
    "AlpacaCoverCalibrator",
    "AlpacaFilterWheel",
    "AlpacaOptions",
    "open_alpaca",
    "parse_alpaca_url",
]

DEFAULT_PORT = 11111
DEVICE_TYPES = ("camera", "covercalibrator", "filterwheel")
MAX_SECONDS = 3600.0
"""The longest timeout a URL may set: an hour is longer than any download, and a timeout must end."""
INT32_MAX = 2**31 - 1
_OPTIONS = ("timeout", "download_timeout", "connect_timeout", "client_id", "imagebytes")
_USAGE = "expected alpaca://host:port/camera/0 (or /covercalibrator/N, /filterwheel/N)"


@dataclass(frozen=True)
class AlpacaOptions:
    transport: TransportOptions
    connect_timeout: float = 30.0
    imagebytes: bool = True


def parse_alpaca_url(url: str) -> tuple[AlpacaAddress, AlpacaOptions]:
    """The device address and options an `alpaca://` URL names; ConfigError says what is wrong."""
    parts = split_url(url)
    if parts.scheme.lower() != "alpaca":
        raise ConfigError(f"{url_shown(url)} is not an alpaca:// URL; {_USAGE}")
    if not parts.hostname:
        raise ConfigError(f"{url_shown(url)} names no host; {_USAGE}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"{url_shown(url)} has an invalid port; {_USAGE}") from None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) != 2 or segments[0].lower() not in DEVICE_TYPES or not _whole(segments[1], INT32_MAX):
        raise ConfigError(f"{url_shown(url)}: {_USAGE}")
    address = AlpacaAddress(parts.hostname, port, segments[0].lower(), int(segments[1]))
    return address, _options(url, query_options(url))


def _options(url: str, raw: dict[str, str]) -> AlpacaOptions:
    unknown = sorted(set(raw) - set(_OPTIONS))
    if unknown:
        raise ConfigError(f"{url_shown(url)}: unknown option {', '.join(unknown)} (known: {', '.join(_OPTIONS)})")

    def seconds(name: str, default: float) -> float:
        if name not in raw:
            return default
        try:
            value = float(raw[name])
        except ValueError:
            value = -1.0
        if not 0 < value <= MAX_SECONDS:  # NaN fails both
            raise ConfigError(
                f"{url_shown(url)}: {name} must be a positive number of seconds (at most {MAX_SECONDS:g}), "
                f"not {quoted(raw[name])}"
            )
        return value

    client_id = None
    if "client_id" in raw:
        if not _whole(raw["client_id"], 0xFFFFFFFF):
            raise ConfigError(
                f"{url_shown(url)}: client_id must be a whole number 0..4294967295, not {quoted(raw['client_id'])}"
            )
        client_id = int(raw["client_id"])
    flag = raw.get("imagebytes", "1").lower()
    if flag not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{url_shown(url)}: imagebytes must be 0 or 1, not {raw['imagebytes']!r}")
    transport = TransportOptions(
        timeout=seconds("timeout", 5.0),
        download_timeout=seconds("download_timeout", 120.0),
        client_id=client_id,
    )
    return AlpacaOptions(
        transport=transport,
        connect_timeout=seconds("connect_timeout", 30.0),
        imagebytes=flag in ("1", "true", "yes"),
    )


def _whole(text: str, largest: int) -> bool:
    """Whether `text` is a plain decimal number from 0 to `largest` (no sign, no Unicode digits)."""
    return 0 < len(text) <= len(str(largest)) and text.isascii() and text.isdigit() and int(text) <= largest


def alpaca_facts(url: str) -> DeviceFacts:
    """An Alpaca device is real hardware (or someone's server); the URL is checked as opening it would."""
    parse_alpaca_url(url)
    return DeviceFacts()


def open_alpaca(url: str, ctx: OpenContext) -> AlpacaCamera | AlpacaCoverCalibrator | AlpacaFilterWheel:
    """Registry opener for `alpaca://` URLs; the device is not connected yet."""
    address, options = parse_alpaca_url(url)
    transport = AlpacaTransport(address, options.transport, clock=ctx.clock)
    link = AlpacaLink(transport, clock=ctx.clock, connect_timeout=options.connect_timeout)
    if address.device_type == "camera":
        return AlpacaCamera(link, imagebytes=options.imagebytes)
    if address.device_type == "covercalibrator":
        return AlpacaCoverCalibrator(link)
    return AlpacaFilterWheel(link)


ALPACA = SchemeFunctions(open_alpaca, alpaca_facts)
"""The `alpaca` scheme."""
