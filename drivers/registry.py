"""Equipment URLs → drivers. Schemes plug in by name, the way pyserial's URL handlers do.

Built-in schemes are named as "module:function" strings and imported only when used, so a rig that
only has an Alnitak panel never imports the Alpaca client. Third-party packages add schemes through the
`flatseq.drivers` entry-point group. Nothing here is module state: a `Registry` is built per call or
injected.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from drivers.base import Camera, Equipment, FilterWheel, FlatPanel
from drivers.clock import Clock, SystemClock
from drivers.errors import ConfigError, UnknownScheme

BUILTIN_SCHEMES: Mapping[str, str] = {
    "sim": "simulators.scheme:open_sim",
    "alnitak": "drivers.alnitak.panel:open_alnitak",
    "alpaca": "drivers.alpaca.url:open_alpaca",
    # "indi": not written yet; until it is, an indi:// URL is refused at check time as an unknown scheme.
}


@dataclass
class OpenContext:
    """What every opener gets besides its URL: the run's clock and what the run's devices share.

    `bench` is the simulated optical bench the run's `sim://` devices share (created by the first
    one opened, from the options of every sim URL in `urls`); a test may inject its own bench so that,
    e.g., an Alnitak emulator's panel lights the simulated camera.
    """

    clock: Clock = field(default_factory=SystemClock)
    urls: tuple[str, ...] = ()
    bench: Any = None


Opener = Callable[[str, OpenContext], object]


def scheme_of(url: str) -> str:
    """The driver scheme: the part before "://" and before any "+transport"."""
    head, sep, _ = url.partition("://")
    if not sep or not head:
        raise ConfigError(f"equipment URL {url!r} has no scheme (expected e.g. sim://camera)")
    return head.split("+", 1)[0].lower()


def query_options(url: str) -> dict[str, str]:
    """The URL's query as a dict, keys lower-cased (sim://camera?sensor=small&seed=3)."""
    return {k.lower(): v for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)}


class Registry:
    """Scheme name → opener."""

    def __init__(self, openers: Mapping[str, Opener | str] | None = None) -> None:
        self._openers: dict[str, Opener | str] = dict(openers or {})

    def register(self, scheme: str, opener: Opener | str) -> None:
        self._openers[scheme.lower()] = opener

    def schemes(self) -> list[str]:
        return sorted(self._openers)

    def opener(self, scheme: str) -> Opener:
        try:
            target = self._openers[scheme]
        except KeyError:
            known = ", ".join(self.schemes())
            raise UnknownScheme(f"unknown equipment scheme {scheme!r} (known: {known})") from None
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                raise UnknownScheme(f"the {scheme!r} driver is not available: {exc}") from None
            opener: Opener = getattr(module, attr)
            return opener
        return target

    def open(self, url: str, context: OpenContext | None = None) -> object:
        ctx = context or OpenContext(urls=(url,))
        return self.opener(scheme_of(url))(url, ctx)


def default_registry() -> Registry:
    """The built-in schemes plus any registered by installed packages."""
    registry = Registry(BUILTIN_SCHEMES)
    for ep in entry_points(group="flatseq.drivers"):
        registry.register(ep.name, ep.value)
    return registry


def open_device(
    url: str,
    *,
    clock: Clock | None = None,
    context: OpenContext | None = None,
    registry: Registry | None = None,
) -> object:
    """Open one device from its URL (not connected yet: call `connect()`)."""
    ctx = context or OpenContext(clock=clock or SystemClock(), urls=(url,))
    return (registry or default_registry()).open(url, ctx)


def open_equipment(
    urls: Mapping[str, str],
    *,
    clock: Clock | None = None,
    bench: Any = None,
    registry: Registry | None = None,
) -> Equipment:
    """Open a run's camera, panel and (optional) filter wheel; `sim://` ones share one bench."""
    for role in ("camera", "panel"):
        if role not in urls:
            raise ConfigError(f"equipment: no {role} URL given")
    ctx = OpenContext(clock=clock or SystemClock(), urls=tuple(urls.values()), bench=bench)
    reg = registry or default_registry()
    camera = reg.open(urls["camera"], ctx)
    panel = reg.open(urls["panel"], ctx)
    wheel_url = urls.get("filter_wheel")
    wheel = reg.open(wheel_url, ctx) if wheel_url else None
    _expect(urls["camera"], camera, Camera, "camera")
    _expect(urls["panel"], panel, FlatPanel, "flat panel")
    if wheel is not None and wheel_url:
        _expect(wheel_url, wheel, FilterWheel, "filter wheel")
    return Equipment(camera=camera, panel=panel, wheel=wheel, urls=dict(urls))  # type: ignore[arg-type]


def _expect(url: str, device: object, protocol: type, what: str) -> None:
    if not isinstance(device, protocol):
        raise ConfigError(f"{url!r} is not a {what}")
