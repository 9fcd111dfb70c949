"""Equipment URLs → drivers. Schemes plug in by name, the way pyserial's URL handlers do.

A scheme is a `Scheme` (it opens a URL's device and tells what the URL says about it without opening it) or a
bare opener function. Built-in schemes are named as "module:attribute" strings and imported only when used, so
a rig that only has an Alnitak panel never imports the Alpaca client. Other packages add schemes through the
`flatseq.drivers` entry-point group: the simulators register `sim` and `alnitak+emulator` that way, exactly as
a third-party driver would. A URL is looked up by its whole head first (`alnitak+emulator`), then by its
scheme alone (`alnitak` for `alnitak+socket://`). Nothing here is module state: a `Registry` is built per
call or injected.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from drivers.base import Camera, Equipment, FilterWheel, FlatPanel
from drivers.clock import Clock, SystemClock
from drivers.errors import ConfigError, UnknownScheme
from drivers.urls import DeviceFacts, scheme_of, url_head, url_shown

BUILTIN_SCHEMES: Mapping[str, str] = {
    "alnitak": "drivers.alnitak.panel:ALNITAK",
    "alpaca": "drivers.alpaca.url:ALPACA",
    "indi": "drivers.indi.url:INDI",
}
ENTRY_POINT_GROUP = "flatseq.drivers"


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


@runtime_checkable
class Scheme(Protocol):
    """What a scheme provides: its devices, and what its URLs say before a device is opened."""

    def open(self, url: str, ctx: OpenContext) -> object:
        """The URL's device, not connected yet; ConfigError for a URL the scheme cannot use."""
        ...

    def facts(self, url: str) -> DeviceFacts:
        """What the URL alone tells (no I/O); ConfigError for a malformed URL."""
        ...


@dataclass(frozen=True)
class SchemeFunctions:
    """A `Scheme` from two functions; `facts` defaults to knowing nothing beyond the URL."""

    opener: Opener
    describe: Callable[[str], DeviceFacts] = field(default=lambda _url: DeviceFacts())
    """What the URL tells; by default nothing beyond that the device is real hardware."""

    def open(self, url: str, ctx: OpenContext) -> object:
        return self.opener(url, ctx)

    def facts(self, url: str) -> DeviceFacts:
        return self.describe(url)


class Registry:
    """Scheme name → scheme (or bare opener), each possibly named by a "module:attribute" string."""

    def __init__(self, schemes: Mapping[str, Scheme | Opener | str] | None = None) -> None:
        self._schemes: dict[str, Scheme | Opener | str] = {k.lower(): v for k, v in (schemes or {}).items()}

    def register(self, scheme: str, target: Scheme | Opener | str) -> None:
        self._schemes[scheme.lower()] = target

    def schemes(self) -> list[str]:
        return sorted(self._schemes)

    def knows(self, url: str) -> bool:
        """Whether some scheme handles the URL (ConfigError if it has no scheme at all)."""
        return self._name_for(url) is not None

    def scheme(self, url: str) -> Scheme:
        """The scheme that handles `url`: its whole head if registered, else its scheme alone."""
        name = self._name_for(url)
        if name is None:
            known = ", ".join(self.schemes())
            raise UnknownScheme(f"unknown equipment scheme {scheme_of(url)!r} (known: {known})")
        return self._resolve(name)

    def open(self, url: str, context: OpenContext | None = None) -> object:
        return self.scheme(url).open(url, context or OpenContext(urls=(url,)))

    def facts(self, url: str) -> DeviceFacts:
        """What `url` says about its device, from its scheme, with no I/O."""
        return self.scheme(url).facts(url)

    def _name_for(self, url: str) -> str | None:
        head = url_head(url)
        for name in (head, scheme_of(url)):
            if name in self._schemes:
                return name
        return None

    def _resolve(self, name: str) -> Scheme:
        target = self._schemes[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                raise UnknownScheme(f"the {name!r} driver is not available: {exc}") from None
            target = getattr(module, attr)
        if isinstance(target, Scheme):
            return target
        return SchemeFunctions(target)


def default_registry() -> Registry:
    """The built-in schemes plus any registered by installed packages (the simulators among them)."""
    registry = Registry(BUILTIN_SCHEMES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
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
        raise ConfigError(f"{url_shown(url)} is not a {what}")
