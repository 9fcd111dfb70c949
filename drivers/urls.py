"""Equipment URLs: their grammar, and what a URL tells about its device before anything is opened.

`scheme://where?option=value`; a scheme may carry a transport after a `+` (`alnitak+socket://host:5000`,
`alnitak+emulator://`). `flatseq check` and the duration estimate ask a URL's `DeviceFacts` (through the
registry, which asks the scheme) instead of opening the device, so a sequence is checked with no hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, quote, urlsplit

from drivers.errors import ConfigError, quoted

SIM_SCHEME = "sim"
"""The simulators' scheme: `sim://camera`, `sim://panel`, `sim://filterwheel` (see the simulators package)."""


@dataclass(frozen=True)
class DeviceFacts:
    """What an equipment URL says about its device without opening it; None means "ask the device".

    `simulated`: needs no hardware (a dry run keeps it as it is). `sensor`: (width, height) in unbinned pixels;
    `readout_time`: seconds from the end of an exposure to the image; `filter_names`: a wheel's slots in order;
    `has_cover`: whether a panel sits on a motorised cover.
    """

    simulated: bool = False
    sensor: tuple[int, int] | None = None
    readout_time: float | None = None
    filter_names: tuple[str, ...] | None = None
    has_cover: bool | None = None


def url_shown(url: str) -> str:
    """A URL as a message quotes it (`quoted`, up to 100 characters)."""
    return quoted(url, 100)


def url_head(url: str) -> str:
    """The part before "://", lower-cased: the scheme with its transport (`alnitak+socket`)."""
    head, sep, _ = url.partition("://")
    if not sep or not head:
        raise ConfigError(f"equipment URL {url_shown(url)} has no scheme (expected e.g. sim://camera)")
    return head.lower()


def scheme_of(url: str) -> str:
    """The driver scheme: the part before "://" and before any "+transport"."""
    return url_head(url).split("+", 1)[0]


def split_url(url: str) -> SplitResult:
    """`urllib.parse.urlsplit`, with a URL it cannot split (an unclosed `[`) a ConfigError naming it."""
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"equipment URL {url_shown(url)} is malformed: {exc}") from None


def query_options(url: str) -> dict[str, str]:
    """The URL's query as a dict, keys lower-cased (sim://camera?sensor=small&seed=3)."""
    return {k.lower(): v for k, v in parse_qsl(split_url(url).query, keep_blank_values=True)}


def sim_url(device: str, **options: str) -> str:
    """A simulator's URL: `sim_url("filterwheel", filters="L,Ha")` is `sim://filterwheel?filters=L,Ha`."""
    query = "&".join(f"{quote(key)}={quote(value, safe=',')}" for key, value in options.items())
    return f"{SIM_SCHEME}://{device}" + (f"?{query}" if query else "")
