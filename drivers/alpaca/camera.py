"""An ASCOM Alpaca camera (ICameraV1..V4) as a flatseq `Camera`.

Settings the camera lacks (Gain, Offset, ReadoutMode answered NotImplemented) read back as 0 and
may only be "set" to 0; anything else is refused with the device's own words. Images come through
ImageBytes when the server offers it, JSON otherwise.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from alpaca.camera import CameraStates

from drivers.alpaca.device import AlpacaLink
from drivers.base import CameraInfo, CameraSettings, ExposureReport, Frame
from drivers.bayer import ASCOM_MONOCHROME, ASCOM_RGGB, ASCOM_SENSOR_TYPES, pattern_at_origin
from drivers.errors import DeviceError, NotConnected, NotSupported
from drivers.regions import check_region, region_read

VALUE_NOT_SET = 0x402


def fits_time(text: str, device: str) -> float:
    """Seconds since the epoch from an ASCOM/FITS UTC time, CCYY-MM-DDThh:mm:ss[.sss...] (no zone: UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().removesuffix("Z"))
    except ValueError:
        raise DeviceError(device, "LastExposureStartTime is not a FITS time", answered=text) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class AlpacaCamera:
    """`drivers.base.Camera` over Alpaca."""

    def __init__(self, link: AlpacaLink, *, imagebytes: bool = True) -> None:
        self._link = link
        self._t = link.transport
        self._imagebytes = imagebytes
        self._info: CameraInfo | None = None

    @property
    def name(self) -> str:
        return self._link.name

    def connect(self) -> None:
        self._link.connect()
        self._info = self._read_info()

    def disconnect(self) -> None:
        self._info = None
        self._link.disconnect()

    @property
    def info(self) -> CameraInfo:
        """What the camera reported on connecting; a 0x0 placeholder before (the protocol check reads it)."""
        if self._info is None:
            return CameraInfo(name=self.name, width=0, height=0)
        return self._info

    def apply(self, settings: CameraSettings) -> None:
        """Binning first (it resets the subframe on many cameras), then the region (the full frame unless a region
        of interest is asked: StartX/StartY/NumX/NumY, binned pixels), gain, offset, mode, cooler."""
        if self._info is None:
            raise NotConnected(self.name, "not connected: call connect() before applying settings")
        info = self._info
        b = settings.binning
        check_region(self.name, settings.roi, info.width, info.height, b, info.subframe)
        x, y, w, h = settings.roi or (0, 0, info.width // b, info.height // b)
        self._t.put("binx", BinX=b)
        self._t.put("biny", BinY=b)
        self._t.put("startx", StartX=x)
        self._t.put("starty", StartY=y)
        self._t.put("numx", NumX=w)
        self._t.put("numy", NumY=h)
        self._put_setting("gain", Gain=settings.gain)
        self._put_setting("offset", Offset=settings.offset)
        self._put_setting("readoutmode", ReadoutMode=settings.readout_mode)
        if settings.temperature is not None:
            if not info.can_cool:
                raise NotSupported(self.name, "cannot take a cooler set-point (CanSetCCDTemperature is false)")
            self._t.put("setccdtemperature", SetCCDTemperature=float(settings.temperature))
            self._t.put("cooleron", CoolerOn=True)

    def read_settings(self) -> CameraSettings:
        can_cool = (
            self._info.can_cool if self._info is not None else bool(self._optional("cansetccdtemperature", False))
        )
        temperature = None
        if can_cool and self._optional("cooleron", False):
            temperature = float(self._t.get("setccdtemperature"))
        binning = int(self._t.get("binx"))
        region = None
        if self._info is not None:
            x, y, w, h = (int(self._t.get(name)) for name in ("startx", "starty", "numx", "numy"))
            region = region_read(x, y, w, h, self._info.width, self._info.height, binning)
        return CameraSettings(
            gain=int(self._optional("gain", 0)),
            offset=int(self._optional("offset", 0)),
            binning=binning,
            readout_mode=int(self._optional("readoutmode", 0)),
            temperature=temperature,
            roi=region,
        )

    def temperature(self) -> float | None:
        value = self._optional("ccdtemperature", None)
        return None if value is None else float(value)

    def start_exposure(self, seconds: float, light: bool) -> None:
        self._t.put("startexposure", Duration=float(seconds), Light=bool(light))

    def image_ready(self) -> bool:
        """ImageReady; while false, a CameraState of Error fails the exposure now instead of never.

        ASCOM wants ImageReady itself to raise when an exposure fails, but not every device does.
        """
        if self._t.get("imageready"):
            return True
        if self._optional("camerastate", None) == CameraStates.cameraError:
            raise DeviceError(
                self._t.label, "the exposure failed", sent="GET camerastate", answered="5 (CameraState Error)"
            )
        return False

    def read_image(self) -> Frame:
        size = (int(self._t.get("numx")), int(self._t.get("numy")))
        expected = size if min(size) > 0 else None  # the JSON fallback preallocates when it can
        return self._t.image("imagearray", imagebytes=self._imagebytes, expected=expected)

    def last_exposure(self) -> ExposureReport:
        """LastExposureDuration and LastExposureStartTime, as the camera reports them (None where it does not
        implement them or has no value yet)."""
        duration = self._optional("lastexposureduration", None)
        start = self._optional("lastexposurestarttime", None)
        return ExposureReport(
            duration=None if duration is None else float(duration),
            start=None if start is None else fits_time(str(start), self._t.label),
        )

    def abort_exposure(self) -> None:
        """AbortExposure; StopExposure for cameras that cannot abort; nothing for cameras that can do neither."""
        try:
            self._t.put("abortexposure")
        except NotSupported:
            with contextlib.suppress(NotSupported):
                self._t.put("stopexposure")

    # ---- helpers ------------------------------------------------------------------------------

    def _optional(self, member: str, default: Any) -> Any:
        """A property the camera may not implement (NotImplemented, or ValueNotSet before a first exposure,
        gives `default`)."""
        try:
            return self._t.get(member)
        except NotSupported:
            return default
        except DeviceError as exc:
            if exc.code == VALUE_NOT_SET:
                return default
            raise

    def _put_setting(self, member: str, **value: int) -> None:
        """Set Gain/Offset/ReadoutMode; a camera without that setting accepts only 0 (what it reads back)."""
        try:
            self._t.put(member, **value)
        except NotSupported:
            if any(requested != 0 for requested in value.values()):
                raise

    def _read_info(self) -> CameraInfo:
        get = self._t.get
        gain_range = self._range("gains", "gainmin", "gainmax")
        offset_range = self._range("offsets", "offsetmin", "offsetmax")
        modes = self._optional("readoutmodes", None) or ["Normal"]
        return CameraInfo(
            name=self.name,
            width=int(get("cameraxsize")),
            height=int(get("cameraysize")),
            max_adu=int(get("maxadu")),
            pixel_size_um=float(get("pixelsizex")),
            exposure_min=float(get("exposuremin")),
            exposure_max=float(get("exposuremax")),
            gain_min=gain_range[0],
            gain_max=gain_range[1],
            offset_min=offset_range[0],
            offset_max=offset_range[1],
            max_binning=min(int(self._optional("maxbinx", 1)), int(self._optional("maxbiny", 1))),
            readout_modes=tuple(str(mode) for mode in modes),
            can_cool=bool(self._optional("cansetccdtemperature", False)),
            exposure_resolution=float(self._optional("exposureresolution", 0.0)),
            bayer=self._bayer(),
            subframe=True,  # StartX/StartY/NumX/NumY are required members of every ASCOM camera
        )

    def _bayer(self) -> str | None:
        """The mosaic at pixel (0, 0): SensorType RGGB shifted by BayerOffsetX/Y; None for a mono sensor (and for
        a driver that does not say: SensorType is optional before ICameraV2)."""
        sensor_type = self._optional("sensortype", ASCOM_MONOCHROME)
        if sensor_type == ASCOM_MONOCHROME:
            return None
        if sensor_type != ASCOM_RGGB:
            name = ASCOM_SENSOR_TYPES.get(sensor_type, "unknown")
            raise DeviceError(
                self.name, f"SensorType {sensor_type!r} ({name}): flatseq takes mono and RGGB-family Bayer sensors"
            )
        x, y = self._t.get("bayeroffsetx"), self._t.get("bayeroffsety")
        try:
            return pattern_at_origin("RGGB", int(x), int(y))
        except (TypeError, ValueError) as exc:
            raise DeviceError(self.name, f"BayerOffsetX/Y answered {x!r}, {y!r}: {exc}") from None

    def _range(self, names: str, low: str, high: str) -> tuple[int, int]:
        """Gain/offset range: indices into Gains/Offsets in index mode, GainMin..GainMax in value mode."""
        listed = self._optional(names, None)
        if isinstance(listed, list) and listed:
            return 0, len(listed) - 1
        return int(self._optional(low, 0)), int(self._optional(high, 0))
