"""Device protocols and their value types: the only thing the sequencer knows about hardware.

Synchronous calls, each bounded by a timeout. Long operations (exposures, cover moves, filter moves,
panel warm-up) are start + poll, so the sequencer waits on its own clock and can abort at any time.
Simulators and real drivers (Alnitak serial, ASCOM Alpaca, INDI) implement the same protocols.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from drivers.errors import (
    ConfigError,
    DeviceDisconnected,
    DeviceError,
    DeviceTimeout,
    FlatseqError,
    InvalidOperation,
    InvalidValue,
    NotConnected,
    NotSupported,
    UnknownScheme,
)

__all__ = [
    "Camera",
    "CameraInfo",
    "CameraSettings",
    "ConfigError",
    "CoverState",
    "DeviceDisconnected",
    "DeviceError",
    "DeviceTimeout",
    "FilterWheel",
    "FlatPanel",
    "FlatseqError",
    "Frame",
    "InvalidOperation",
    "InvalidValue",
    "LightState",
    "NotConnected",
    "NotSupported",
    "UnknownScheme",
]

Frame = npt.NDArray[np.uint16]
"""A raw frame: uint16, shape (rows, cols), row 0 first as read out."""


@dataclass(frozen=True)
class CameraInfo:
    """What a camera can do; read once after connecting."""

    name: str
    width: int
    height: int
    max_adu: int = 65535
    pixel_size_um: float = 3.76
    exposure_min: float = 0.0
    exposure_max: float = 3600.0
    gain_min: int = 0
    gain_max: int = 0
    offset_min: int = 0
    offset_max: int = 0
    max_binning: int = 1
    readout_modes: tuple[str, ...] = ("Normal",)
    can_cool: bool = False
    readout_time: float = 0.0
    """Seconds from the end of an exposure until the image is ready, nominally."""


@dataclass(frozen=True)
class CameraSettings:
    """The settings a dark-flat must share exactly with its flats.

    `temperature` is the cooler set-point in °C (None: cooler not used); equality of the settings
    compares set-points, the measured sensor temperature is checked separately within a tolerance.
    """

    gain: int
    offset: int
    binning: int = 1
    readout_mode: int = 0
    temperature: float | None = None

    def differences(self, other: CameraSettings) -> list[str]:
        """Names and values of every field that differs, for a refusal message."""
        out = []
        for name in ("gain", "offset", "binning", "readout_mode", "temperature"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out.append(f"{name} {mine!r} != {theirs!r}")
        return out


class LightState(enum.Enum):
    """A panel's light, as ASCOM's CalibratorState sees it."""

    OFF = "off"
    SETTLING = "settling"  # ASCOM NotReady: switched on, not yet stable
    READY = "ready"
    ERROR = "error"


class CoverState(enum.Enum):
    """A flip-flat's cover, as ASCOM's CoverState sees it."""

    NOT_PRESENT = "not present"
    CLOSED = "closed"
    MOVING = "moving"
    OPEN = "open"
    UNKNOWN = "unknown"
    ERROR = "error"


@runtime_checkable
class Camera(Protocol):
    """A cooled astronomy camera."""

    @property
    def name(self) -> str: ...

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...

    @property
    def info(self) -> CameraInfo: ...

    def apply(self, settings: CameraSettings) -> None:
        """Set gain, offset, binning, readout mode and (if not None) the cooler set-point."""
        ...

    def read_settings(self) -> CameraSettings:
        """Read gain, offset, binning, readout mode and set-point back from the device."""
        ...

    def temperature(self) -> float | None:
        """Measured sensor temperature in °C, None if the camera has no sensor for it."""
        ...

    def start_exposure(self, seconds: float, light: bool) -> None: ...

    def image_ready(self) -> bool: ...

    def read_image(self) -> Frame:
        """The last exposure as uint16 (rows, cols), binned size."""
        ...

    def abort_exposure(self) -> None: ...


@runtime_checkable
class FlatPanel(Protocol):
    """A flat panel or cover-calibrator (ASCOM CoverCalibrator semantics)."""

    @property
    def name(self) -> str: ...

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...

    @property
    def brightness_range(self) -> tuple[int, int]:
        """Lowest and highest integer brightness the panel accepts (0-255 for Alnitak)."""
        ...

    def light_on(self, brightness: int) -> None: ...

    def light_off(self) -> None: ...

    def light_state(self) -> LightState: ...

    def brightness(self) -> int: ...

    @property
    def has_cover(self) -> bool: ...

    def open_cover(self) -> None:
        """Start opening; poll `cover_state`. NotSupported without a cover."""
        ...

    def close_cover(self) -> None:
        """Start closing; poll `cover_state`. NotSupported without a cover."""
        ...

    def cover_state(self) -> CoverState: ...


@runtime_checkable
class FilterWheel(Protocol):
    """A filter wheel with named slots, 0-based."""

    @property
    def name(self) -> str: ...

    def connect(self) -> None: ...

    def disconnect(self) -> None: ...

    def names(self) -> list[str]: ...

    def position(self) -> int | None:
        """Current slot, None while moving."""
        ...

    def move_to(self, index: int) -> None:
        """Start moving to a slot; poll `position`."""
        ...


@dataclass
class Equipment:
    """The devices one run uses. The wheel is optional (a one-filter rig)."""

    camera: Camera
    panel: FlatPanel
    wheel: FilterWheel | None = None
    urls: dict[str, str] = field(default_factory=dict)
