"""The device contract: the only thing the sequencer knows about hardware.

Every driver (Alnitak serial, ASCOM Alpaca, INDI, the simulators, a third party's plug-in) implements these
protocols; `drivers.registry` turns an equipment URL into one. The rules every member follows:

- Synchronous and bounded: a call returns or raises within its driver's timeout (a few seconds); nothing
  blocks for the length of an exposure or a move.
- Long operations are start + poll (`start_exposure` / `image_ready`, `open_cover` / `cover_state`,
  `move_to` / `position`, `light_on` / `light_state`), so the sequencer waits on its own clock and can stop
  at any moment.
- Errors are `drivers.errors.DeviceError`s naming the device: `DeviceTimeout` (no answer in time),
  `DeviceDisconnected` (gone: cable, server), `NotConnected` (called before `connect`), `InvalidValue` (out of
  range), `NotSupported` (no such capability), `InvalidOperation` (not now, e.g. light with the cover open).
  A driver never lets a protocol's own exception (serial, HTTP, XML) escape.
- Units: seconds, degrees Celsius, ADU, integer brightness steps; pixel sizes in micrometres.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "SETTING_NAMES",
    "Camera",
    "CameraInfo",
    "CameraSettings",
    "CoverState",
    "Equipment",
    "ExposureReport",
    "FilterWheel",
    "FlatPanel",
    "Frame",
    "LightState",
]

Frame = npt.NDArray[np.uint16]
"""A raw frame: uint16, shape (rows, cols) at the binned size, row 0 first as read out."""


@dataclass(frozen=True)
class CameraInfo:
    """What a camera can do; read once after connecting, constant while connected.

    Sizes are unbinned pixels. Exposure limits are seconds; `exposure_resolution` is the smallest step the
    camera times exposures in, seconds (0: it does not say). `gain_*` and `offset_*` are the device's own
    integer settings (a range with max < min means the camera does not say). `readout_modes` are the modes'
    names, index 0 first. `readout_time` is the nominal seconds from the end of an exposure until
    `image_ready()` (the sequencer bounds its waits with it). `unreported` names the `CameraSettings` fields
    the camera cannot read back (`read_settings` then returns what was last applied for them, and the frames'
    headers say so). `bayer` is a colour (one-shot-colour) sensor's mosaic as it starts at pixel (0, 0) of an
    unbinned frame as read ("RGGB", "GRBG", "GBRG" or "BGGR": the driver folds its own offsets in), None for a
    mono sensor; frames are never debayered. `subframe`: whether it reads out a region of interest
    (`CameraSettings.roi`; ASCOM StartX/StartY/NumX/NumY, INDI CCD_FRAME); a camera that does not say cannot.
    """

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
    exposure_resolution: float = 0.0
    unreported: tuple[str, ...] = ()
    bayer: str | None = None
    subframe: bool = False


SETTING_NAMES = ("gain", "offset", "binning", "readout_mode", "temperature", "roi")
"""The fields of `CameraSettings`, in the order messages list them."""


@dataclass(frozen=True)
class ExposureReport:
    """What a camera says it did for the image read last, as opposed to what was asked.

    `duration`: seconds actually exposed; `start`: when the exposure started, seconds since the epoch (UTC).
    None where the device does not report it: the sequencer then records the requested value and says so.
    """

    duration: float | None = None
    start: float | None = None


@dataclass(frozen=True)
class CameraSettings:
    """The settings a dark-flat must share exactly with its flats.

    `readout_mode` is an index into `CameraInfo.readout_modes`. `temperature` is the cooler set-point in °C
    (None: cooler not used); equality of the settings compares set-points, the measured sensor temperature
    is checked separately within a tolerance. `roi` is the region of interest read out, (x, y, width, height)
    in binned pixels as ASCOM's StartX/StartY/NumX/NumY count them; None is the full frame at this binning (a
    driver reads a region covering the whole frame back as None). Only for a camera with `CameraInfo.subframe`.
    """

    gain: int
    offset: int
    binning: int = 1
    readout_mode: int = 0
    temperature: float | None = None
    roi: tuple[int, int, int, int] | None = None

    def differences(self, other: CameraSettings, *, ignore: tuple[str, ...] = ()) -> list[str]:
        """Names and values of every field that differs (`"gain 100 != 120"`), for a refusal message; fields
        in `ignore` (those a camera cannot read back) are not compared."""
        out = []
        for name in SETTING_NAMES:
            mine, theirs = getattr(self, name), getattr(other, name)
            if name not in ignore and mine != theirs:
                out.append(f"{name} {mine!r} != {theirs!r}")
        return out


class LightState(enum.Enum):
    """A panel's light, as ASCOM's CalibratorState sees it."""

    OFF = "off"
    """Dark (also: a panel with no light, a Flip-Mask)."""
    SETTLING = "settling"
    """Switched on, not yet stable (ASCOM NotReady): wait before exposing."""
    READY = "ready"
    """On at the set brightness and stable."""
    ERROR = "error"
    """The device reports a fault: a failure, not something to wait out."""


class CoverState(enum.Enum):
    """A flip-flat's cover, as ASCOM's CoverState sees it."""

    NOT_PRESENT = "not present"
    """The panel has no motorised cover."""
    CLOSED = "closed"
    """Over the telescope: the panel lights the sensor, no sky comes in."""
    MOVING = "moving"
    """On its way (poll again)."""
    OPEN = "open"
    """Away from the telescope: the sky comes in, the panel must stay dark."""
    UNKNOWN = "unknown"
    """Neither open nor closed, and not moving (stopped half-way, or never moved since power-up)."""
    ERROR = "error"
    """The move failed (stuck, timed out): a failure, not something to wait out."""


@runtime_checkable
class Camera(Protocol):
    """A cooled astronomy camera."""

    @property
    def name(self) -> str:
        """A human name for messages ("ZWO ASI6200MM Pro", "sim camera (small)"); never raises."""
        ...

    def connect(self) -> None:
        """Open the link and make the camera usable; calling it when connected does nothing.

        Raises DeviceError (DeviceTimeout, DeviceDisconnected) when the camera cannot be reached.
        """
        ...

    def disconnect(self) -> None:
        """Close the link; the camera is left as it is. Safe to call when not connected."""
        ...

    @property
    def info(self) -> CameraInfo:
        """What the camera can do; valid once connected (NotConnected before)."""
        ...

    def apply(self, settings: CameraSettings) -> None:
        """Set gain, offset, binning, readout mode, the region read out (the full frame for `roi` None) and (if
        not None) the cooler set-point; returns at once (the cooler ramps on its own: poll `temperature`).
        InvalidValue for a setting out of range or a region outside the binned frame, NotSupported for a region
        on a camera without `subframe`, InvalidOperation during an exposure."""
        ...

    def read_settings(self) -> CameraSettings:
        """Gain, offset, binning, readout mode, region and set-point as the device reports them now (not as asked):
        the dark-flats are refused when these differ from their flats'."""
        ...

    def temperature(self) -> float | None:
        """Measured sensor temperature in °C, None if the camera has no sensor for it."""
        ...

    def start_exposure(self, seconds: float, light: bool) -> None:
        """Start one exposure of `seconds` and return at once; `light` False for dark frames (a shutterless
        camera only records it: the light must be off). InvalidValue out of range, InvalidOperation while
        another exposure runs."""
        ...

    def image_ready(self) -> bool:
        """Whether the image of the exposure started last can be read; False while exposing or reading out,
        and after an abort. DeviceError if the camera reports a failed exposure."""
        ...

    def read_image(self) -> Frame:
        """The last exposure as uint16 (rows, cols) at the binned size of its region; only once `image_ready()` is true
        (InvalidOperation before). May take as long as the download does, within the driver's timeout."""
        ...

    def last_exposure(self) -> ExposureReport:
        """What the camera reports of the exposure whose image `read_image` returned last: its actual duration
        and start (Alpaca LastExposureDuration/StartTime, INDI the image's own FITS keywords, the simulator's
        record). Fields the device does not report are None; never the requested values."""
        ...

    def abort_exposure(self) -> None:
        """Stop the exposure in progress, discarding it; does nothing when none is running."""
        ...


@runtime_checkable
class FlatPanel(Protocol):
    """A flat panel or cover-calibrator (ASCOM CoverCalibrator semantics)."""

    @property
    def name(self) -> str:
        """A human name for messages; never raises."""
        ...

    def connect(self) -> None:
        """Open the link and identify the device; calling it when connected does nothing. DeviceError when
        it cannot be reached."""
        ...

    def disconnect(self) -> None:
        """Close the link; the light is left as it is (the sequencer switches it off first)."""
        ...

    @property
    def brightness_range(self) -> tuple[int, int]:
        """Lowest and highest integer brightness the panel accepts (0-255 for Alnitak; read from the device
        where it says, never assumed)."""
        ...

    def light_on(self, brightness: int) -> None:
        """Switch the light on at `brightness`; returns at once, `light_state` says when it is READY.
        InvalidValue outside `brightness_range`, InvalidOperation with a Flip-Flat's cover open."""
        ...

    def light_off(self) -> None:
        """Switch the light off; the safe state, so it is tried whatever else failed. DeviceError if the
        device does not answer (the sequencer then says loudly that the light may still be on)."""
        ...

    def light_state(self) -> LightState:
        """The light now, as the device reports it."""
        ...

    def brightness(self) -> int:
        """The brightness setting as the device reports it (kept while the light is off)."""
        ...

    @property
    def has_cover(self) -> bool:
        """Whether the panel sits on a motorised cover; known once connected, never raises."""
        ...

    def open_cover(self) -> None:
        """Start opening; returns at once, poll `cover_state`. NotSupported without a cover."""
        ...

    def close_cover(self) -> None:
        """Start closing; returns at once, poll `cover_state`. NotSupported without a cover."""
        ...

    def cover_state(self) -> CoverState:
        """The cover now (NOT_PRESENT without one)."""
        ...


@runtime_checkable
class FilterWheel(Protocol):
    """A filter wheel with named slots, 0-based."""

    @property
    def name(self) -> str:
        """A human name for messages; never raises."""
        ...

    def connect(self) -> None:
        """Open the link; calling it when connected does nothing. DeviceError when it cannot be reached."""
        ...

    def disconnect(self) -> None:
        """Close the link. Safe to call when not connected."""
        ...

    def names(self) -> list[str]:
        """The filters' names by slot, slot 0 first (as the device or its configuration names them)."""
        ...

    def position(self) -> int | None:
        """The current slot, None while moving. DeviceTimeout if the wheel reports itself stuck."""
        ...

    def move_to(self, index: int) -> None:
        """Start moving to slot `index`; returns at once, poll `position`. InvalidValue for a slot that does
        not exist."""
        ...


@dataclass
class Equipment:
    """The devices one run uses, opened from its URLs (`urls`, by role). The wheel is optional (a one-filter
    rig)."""

    camera: Camera
    panel: FlatPanel
    wheel: FilterWheel | None = None
    urls: dict[str, str] = field(default_factory=dict)
