"""A run's devices from its equipment URLs, `panel: manual` included: a light switched by hand is not opened
from a URL but stands in the panel's place (`manual.ManualLight`), with a dry run's simulated person
(`sim://manual`, role `manual_stand_in`) opened on the same bench as the camera."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import Camera, Equipment, FilterWheel, FlatPanel
from drivers.clock import Clock, SystemClock
from drivers.errors import ConfigError
from drivers.registry import OpenContext, Registry, default_registry, open_equipment
from drivers.urls import url_shown
from sequencer.plan.schema import MANUAL_LIGHT, SKY_LIGHT
from sequencer.run.manual import STAND_IN_ROLE, ManualLight


def open_run_equipment(
    urls: Mapping[str, str],
    *,
    clock: Clock | None = None,
    bench: Any = None,
    registry: Registry | None = None,
    known_off: bool = True,
) -> Equipment:
    """The camera, panel and wheel of `urls` (not connected yet). `known_off`: for a light switched by hand,
    whether it is known to be off (a run starting) or not (recovering after a crash)."""
    if urls.get("panel") not in (MANUAL_LIGHT, SKY_LIGHT):
        return open_equipment(urls, clock=clock, bench=bench, registry=registry)
    if "camera" not in urls:
        raise ConfigError("equipment: no camera URL given")
    reg = registry or default_registry()
    devices = {role: url for role, url in urls.items() if role != "panel"}
    ctx = OpenContext(clock=clock or SystemClock(), urls=tuple(devices.values()), bench=bench)
    camera = _opened(reg, devices["camera"], ctx, Camera, "camera")
    wheel_url = devices.get("filter_wheel")
    wheel = _opened(reg, wheel_url, ctx, FilterWheel, "filter wheel") if wheel_url else None
    stand_in_url = devices.get(STAND_IN_ROLE)
    stand_in = _opened(reg, stand_in_url, ctx, FlatPanel, "flat panel") if stand_in_url else None
    panel = ManualLight(stand_in=stand_in, known_off=known_off, sky=urls.get("panel") == SKY_LIGHT)
    return Equipment(camera=camera, panel=panel, wheel=wheel, urls=dict(urls))


def _opened(registry: Registry, url: str, ctx: OpenContext, protocol: type, what: str) -> Any:
    device = registry.open(url, ctx)
    if not isinstance(device, protocol):
        raise ConfigError(f"{url_shown(url)} is not a {what}")
    return device
