"""Device protocols and drivers; `drivers.open(url)` turns an equipment URL into a device."""

from drivers.registry import OpenContext, Registry, default_registry, open_device, open_equipment

open = open_device  # drivers.open(url) reads as intended

__all__ = ["OpenContext", "Registry", "default_registry", "open", "open_device", "open_equipment"]
