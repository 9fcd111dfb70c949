"""A flatseq `Camera` (the simulated bench's, or any) presented as an ASCOM ICameraV4 device.

The Camera protocol knows settings, exposures and frames; the ASCOM extras live here: the subframe
(StartX/StartY/NumX/NumY, cut out of the full binned frame), CameraState and PercentCompleted from
the exposure's start time on the bench clock, LastExposure*, the cooler set-point. What the protocol
cannot tell (electrons per ADU, cooler power, pulse guiding, fast readout) answers NotImplemented,
which ASCOM allows for each of those members.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alpaca.camera import CameraStates

from drivers.base import Camera, CameraInfo, Frame
from drivers.bayer import ASCOM_MONOCHROME, ASCOM_RGGB, offsets_from_rggb
from drivers.clock import Clock
from simulators.alpaca.common import CommonMembers, Identity
from simulators.alpaca.protocol import (
    INVALID_OPERATION,
    INVALID_VALUE,
    NOT_CONNECTED,
    AlpacaError,
    Bool,
    Float,
    ImageValue,
    Int,
    Member,
    Members,
    not_implemented,
)

INTERFACE_VERSION = 4
LEGACY_INTERFACE_VERSION = 3  # ICameraV3: Platform 6, Connected only


@dataclass(frozen=True)
class _Exposure:
    start: float
    duration: float
    light: bool
    start_x: int
    start_y: int
    num_x: int
    num_y: int


def _bayer_offset(info: CameraInfo, axis: int) -> int:
    """BayerOffsetX (0) / Y (1): where the frame starts in ASCOM's RGGB mosaic; NotImplemented for mono."""
    if info.bayer is None:
        raise not_implemented(f"BayerOffset{'XY'[axis]} (monochrome sensor)")
    return offsets_from_rggb(info.bayer)[axis]


class CameraDevice:
    """ICameraV4 members over a `drivers.base.Camera`."""

    device_type = "camera"
    display_type = "Camera"

    def __init__(self, camera: Camera, *, clock: Clock, device_number: int = 0, legacy: bool = False) -> None:
        self.device_number = device_number
        self._camera = camera
        self._clock = clock
        self._lock = threading.RLock()
        self._common = CommonMembers(
            Identity(
                name=camera.name,
                description=f"{camera.name} (flatseq simulated camera)",
                interface_version=LEGACY_INTERFACE_VERSION if legacy else INTERFACE_VERSION,
            ),
            clock=clock,
            on_connect=self._on_connect,
            on_disconnect=camera.disconnect,
            state=self._device_state,
            legacy=legacy,
        )
        self._info: CameraInfo | None = None
        self._subframe = (0, 0, 0, 0)  # StartX, StartY, NumX, NumY in binned pixels
        self._setpoint = 0.0
        self._cooler_on = False
        self._exposure: _Exposure | None = None
        self._image: Frame | None = None

    @property
    def name(self) -> str:
        return self._common.identity.name

    def is_connected(self) -> bool:
        return self._common.connected

    # ---- connection ---------------------------------------------------------------------------

    def _on_connect(self) -> None:
        self._camera.connect()
        info = self._camera.info
        settings = self._camera.read_settings()
        with self._lock:
            self._info = info
            self._subframe = (0, 0, info.width // settings.binning, info.height // settings.binning)
            self._cooler_on = settings.temperature is not None
            if settings.temperature is not None:
                self._setpoint = settings.temperature

    @property
    def info(self) -> CameraInfo:
        if self._info is None:
            raise AlpacaError(NOT_CONNECTED, f"{self.name} is not connected")
        return self._info

    # ---- settings -----------------------------------------------------------------------------

    def _apply(self, **changes: Any) -> None:
        settings = self._camera.read_settings()
        self._camera.apply(dataclasses.replace(settings, **changes))

    def _binning(self) -> int:
        return self._camera.read_settings().binning

    def set_binning(self, value: int, axis: str) -> None:
        """Symmetric binning only: setting either axis bins both, and the subframe resets to full frame."""
        info = self.info
        if not 1 <= value <= info.max_binning:
            raise AlpacaError(INVALID_VALUE, f"Bin{axis} {value} is outside 1..{info.max_binning}")
        with self._lock:
            self._apply(binning=value)
            self._subframe = (0, 0, info.width // value, info.height // value)

    def _ranged(self, name: str, field: str, value: int, low: int, high: int) -> None:
        if not low <= value <= high:
            raise AlpacaError(INVALID_VALUE, f"{name} {value} is outside {low}..{high}")
        self._apply(**{field: value})

    def set_gain(self, Gain: int) -> None:  # noqa: N803 - Alpaca parameter names
        self._ranged("Gain", "gain", Gain, self.info.gain_min, self.info.gain_max)

    def set_offset(self, Offset: int) -> None:  # noqa: N803
        self._ranged("Offset", "offset", Offset, self.info.offset_min, self.info.offset_max)

    def set_readout_mode(self, ReadoutMode: int) -> None:  # noqa: N803
        self._ranged("ReadoutMode", "readout_mode", ReadoutMode, 0, len(self.info.readout_modes) - 1)

    def _require_cooler(self, member: str) -> None:
        if not self.info.can_cool:
            raise not_implemented(member)

    def get_setpoint(self) -> float:
        self._require_cooler("SetCCDTemperature")
        return self._setpoint

    def set_setpoint(self, SetCCDTemperature: float) -> None:  # noqa: N803
        self._require_cooler("SetCCDTemperature")
        if not -273.15 <= SetCCDTemperature <= 100.0:
            raise AlpacaError(INVALID_VALUE, f"SetCCDTemperature {SetCCDTemperature} is outside -273.15..100 °C")
        with self._lock:
            self._setpoint = SetCCDTemperature
            if self._cooler_on:
                self._apply(temperature=SetCCDTemperature)

    def get_cooler_on(self) -> bool:
        self._require_cooler("CoolerOn")
        return self._cooler_on

    def set_cooler_on(self, CoolerOn: bool) -> None:  # noqa: N803
        """On: regulate to the set-point. Off: stop asking for one (the Camera protocol has no cooler switch)."""
        self._require_cooler("CoolerOn")
        with self._lock:
            self._cooler_on = CoolerOn
            self._apply(temperature=self._setpoint if CoolerOn else None)

    def cooler_power(self) -> float:
        """TEC power in percent, for cameras that can tell (the simulated one can)."""
        reader = getattr(self._camera, "cooler_power", None)
        if not callable(reader):
            raise not_implemented("CoolerPower")
        return float(reader())

    def ccd_temperature(self) -> float:
        value = self._camera.temperature()
        if value is None:
            raise not_implemented("CCDTemperature")
        return value

    def _subframe_setter(self, index: int, name: str, minimum: int) -> Member:
        def setter(**value: int) -> None:
            number = value[name]
            if number < minimum:
                raise AlpacaError(INVALID_VALUE, f"{name} {number} is below {minimum}")
            with self._lock:
                frame = list(self._subframe)
                frame[index] = number
                self._subframe = (frame[0], frame[1], frame[2], frame[3])

        return Member(setter, (Int(name),))

    # ---- exposures ----------------------------------------------------------------------------

    def start_exposure(self, Duration: float, Light: bool) -> None:  # noqa: N803
        info = self.info
        if Duration < 0 or Duration > info.exposure_max or (0 < Duration < info.exposure_min):
            raise AlpacaError(
                INVALID_VALUE, f"Duration {Duration} s is outside {info.exposure_min:g}..{info.exposure_max:g} s"
            )
        with self._lock:
            binning = self._binning()
            sx, sy, nx, ny = self._subframe
            width, height = info.width // binning, info.height // binning
            if nx < 1 or ny < 1 or sx + nx > width or sy + ny > height:
                raise AlpacaError(
                    INVALID_VALUE,
                    f"subframe StartX={sx} StartY={sy} NumX={nx} NumY={ny} does not fit the {width}x{height} "
                    f"binned sensor",
                )
            if self._state() in (CameraStates.cameraExposing, CameraStates.cameraReading):
                raise AlpacaError(INVALID_OPERATION, "an exposure is already in progress")
            self._camera.start_exposure(Duration, Light)
            self._exposure = _Exposure(self._clock.now(), Duration, Light, sx, sy, nx, ny)
            self._image = None

    def abort_exposure(self) -> None:
        """Discards an exposure in progress; harmless when idle."""
        with self._lock:
            self._camera.abort_exposure()
            if self._exposure is not None and not self._camera.image_ready():
                self._exposure = None
                self._image = None

    def _state(self) -> int:
        exposure = self._exposure
        if exposure is None:
            return int(CameraStates.cameraIdle)
        if self._clock.now() < exposure.start + exposure.duration:
            return int(CameraStates.cameraExposing)
        if not self._camera.image_ready():
            return int(CameraStates.cameraReading)
        return int(CameraStates.cameraIdle)

    def camera_state(self) -> int:
        with self._lock:
            return self._state()

    def image_ready(self) -> bool:
        with self._lock:
            return self._exposure is not None and self._camera.image_ready()

    def percent_completed(self) -> int:
        with self._lock:
            exposure = self._exposure
            if exposure is None:
                return 0
            if self._camera.image_ready():
                return 100
            if exposure.duration <= 0:
                return 99
            done = (self._clock.now() - exposure.start) / exposure.duration
            return max(0, min(99, int(done * 100)))

    def _finished(self) -> _Exposure:
        exposure = self._exposure
        if exposure is None:
            raise AlpacaError(INVALID_OPERATION, "no image: no exposure has been taken")
        if not self._camera.image_ready():
            raise AlpacaError(INVALID_OPERATION, "no image yet: the exposure is still in progress")
        return exposure

    def image_array(self) -> ImageValue:
        with self._lock:
            return ImageValue(self._read())

    def _read(self) -> Frame:
        """The finished exposure's image (read from the camera once, cropped to the subframe)."""
        exposure = self._finished()
        if self._image is None:
            frame = self._camera.read_image()
            sx, sy, nx, ny = exposure.start_x, exposure.start_y, exposure.num_x, exposure.num_y
            if (sx, sy) != (0, 0) or frame.shape != (ny, nx):
                frame = frame[sy : sy + ny, sx : sx + nx].copy()
            self._image = frame
        return self._image

    def _timed(self) -> tuple[float, float]:
        """(duration, start) of the finished exposure as the camera timed it (it knows once it has read out),
        else as it was started."""
        exposure = self._finished()
        self._read()
        report = self._camera.last_exposure()
        duration = report.duration if report.duration is not None else exposure.duration
        return duration, report.start if report.start is not None else exposure.start

    def last_duration(self) -> float:
        """LastExposureDuration: the actual exposure time, as the camera timed it."""
        with self._lock:
            return self._timed()[0]

    def last_start_time(self) -> str:
        """FITS-style UTC start time: CCYY-MM-DDThh:mm:ss.sss."""
        with self._lock:
            moment = datetime.fromtimestamp(self._timed()[1], tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    def _device_state(self) -> list[tuple[str, Any]]:
        if not self._common.connected:
            return []
        state: list[tuple[str, Any]] = [("CameraState", self.camera_state())]
        temperature = self._camera.temperature()
        if temperature is not None:
            state.append(("CCDTemperature", temperature))
        if callable(getattr(self._camera, "cooler_power", None)):
            state.append(("CoolerPower", self.cooler_power()))
        state += [("ImageReady", self.image_ready()), ("PercentCompleted", self.percent_completed())]
        return state

    # ---- the member table ---------------------------------------------------------------------

    def members(self) -> Members:
        def info() -> CameraInfo:  # read at call time: only valid once connected
            return self.info

        def refuse(member: str) -> Member:
            def handler(**_: Any) -> None:
                raise not_implemented(member)

            return Member(handler)

        table: Members = {
            ("GET", "bayeroffsetx"): Member(lambda: _bayer_offset(info(), 0)),
            ("GET", "bayeroffsety"): Member(lambda: _bayer_offset(info(), 1)),
            ("GET", "binx"): Member(self._binning),
            ("GET", "biny"): Member(self._binning),
            ("PUT", "binx"): Member(lambda BinX: self.set_binning(BinX, "X"), (Int("BinX"),)),  # noqa: N803
            ("PUT", "biny"): Member(lambda BinY: self.set_binning(BinY, "Y"), (Int("BinY"),)),  # noqa: N803
            ("GET", "camerastate"): Member(self.camera_state),
            ("GET", "cameraxsize"): Member(lambda: info().width),
            ("GET", "cameraysize"): Member(lambda: info().height),
            ("GET", "canabortexposure"): Member(lambda: True),
            ("GET", "canasymmetricbin"): Member(lambda: False),
            ("GET", "canfastreadout"): Member(lambda: False),
            ("GET", "cangetcoolerpower"): Member(lambda: callable(getattr(self._camera, "cooler_power", None))),
            ("GET", "canpulseguide"): Member(lambda: False),
            ("GET", "cansetccdtemperature"): Member(lambda: info().can_cool),
            ("GET", "canstopexposure"): Member(lambda: False),
            ("GET", "ccdtemperature"): Member(self.ccd_temperature),
            ("GET", "cooleron"): Member(self.get_cooler_on),
            ("PUT", "cooleron"): Member(self.set_cooler_on, (Bool("CoolerOn"),)),
            ("GET", "coolerpower"): Member(self.cooler_power),
            ("GET", "electronsperadu"): refuse("ElectronsPerADU"),
            ("GET", "exposuremax"): Member(lambda: info().exposure_max),
            ("GET", "exposuremin"): Member(lambda: info().exposure_min),
            ("GET", "exposureresolution"): Member(lambda: self.info.exposure_resolution or 0.001),
            ("GET", "fastreadout"): refuse("FastReadout"),
            ("PUT", "fastreadout"): Member(refuse("FastReadout").handler, (Bool("FastReadout"),)),
            ("GET", "fullwellcapacity"): refuse("FullWellCapacity"),
            ("GET", "gain"): Member(lambda: self._camera.read_settings().gain),
            ("PUT", "gain"): Member(self.set_gain, (Int("Gain"),)),
            ("GET", "gainmax"): Member(lambda: info().gain_max),
            ("GET", "gainmin"): Member(lambda: info().gain_min),
            ("GET", "gains"): refuse("Gains (gain value mode)"),
            ("GET", "hasshutter"): Member(lambda: False),
            ("GET", "heatsinktemperature"): refuse("HeatSinkTemperature"),
            ("GET", "imagearray"): Member(self.image_array),
            ("GET", "imagearrayvariant"): Member(self.image_array),
            ("GET", "imageready"): Member(self.image_ready),
            ("GET", "ispulseguiding"): refuse("IsPulseGuiding"),
            ("GET", "lastexposureduration"): Member(self.last_duration),
            ("GET", "lastexposurestarttime"): Member(self.last_start_time),
            ("GET", "maxadu"): Member(lambda: info().max_adu),
            ("GET", "maxbinx"): Member(lambda: info().max_binning),
            ("GET", "maxbiny"): Member(lambda: info().max_binning),
            ("GET", "numx"): Member(lambda: self._subframe[2]),
            ("PUT", "numx"): self._subframe_setter(2, "NumX", 1),
            ("GET", "numy"): Member(lambda: self._subframe[3]),
            ("PUT", "numy"): self._subframe_setter(3, "NumY", 1),
            ("GET", "offset"): Member(lambda: self._camera.read_settings().offset),
            ("PUT", "offset"): Member(self.set_offset, (Int("Offset"),)),
            ("GET", "offsetmax"): Member(lambda: info().offset_max),
            ("GET", "offsetmin"): Member(lambda: info().offset_min),
            ("GET", "offsets"): refuse("Offsets (offset value mode)"),
            ("GET", "percentcompleted"): Member(self.percent_completed),
            ("GET", "pixelsizex"): Member(lambda: info().pixel_size_um),
            ("GET", "pixelsizey"): Member(lambda: info().pixel_size_um),
            ("GET", "readoutmode"): Member(lambda: self._camera.read_settings().readout_mode),
            ("PUT", "readoutmode"): Member(self.set_readout_mode, (Int("ReadoutMode"),)),
            ("GET", "readoutmodes"): Member(lambda: list(info().readout_modes)),
            ("GET", "sensorname"): refuse("SensorName"),
            ("GET", "sensortype"): Member(lambda: ASCOM_MONOCHROME if info().bayer is None else ASCOM_RGGB),
            ("GET", "setccdtemperature"): Member(self.get_setpoint),
            ("PUT", "setccdtemperature"): Member(self.set_setpoint, (Float("SetCCDTemperature"),)),
            ("GET", "startx"): Member(lambda: self._subframe[0]),
            ("PUT", "startx"): self._subframe_setter(0, "StartX", 0),
            ("GET", "starty"): Member(lambda: self._subframe[1]),
            ("PUT", "starty"): self._subframe_setter(1, "StartY", 0),
            ("GET", "subexposureduration"): refuse("SubExposureDuration"),
            ("PUT", "subexposureduration"): Member(
                refuse("SubExposureDuration").handler, (Float("SubExposureDuration"),)
            ),
            ("PUT", "abortexposure"): Member(self.abort_exposure),
            ("PUT", "pulseguide"): Member(refuse("PulseGuide").handler, (Int("Direction"), Int("Duration"))),
            ("PUT", "startexposure"): Member(self.start_exposure, (Float("Duration"), Bool("Light"))),
            ("PUT", "stopexposure"): refuse("StopExposure (CanStopExposure is false)"),
        }
        return {**self._common.members(), **table}
