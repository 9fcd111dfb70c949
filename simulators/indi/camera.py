"""The bench's camera as an INDI CCD, with INDI's standard CCD properties (the names INDI's CCD simulator uses).

Exposures are the bench's: flats follow the panel and the filter. CCD_FRAME_TYPE LIGHT and FLAT expose with the
light path open, DARK and BIAS record `light=False` (the simulated sensor has no shutter unless `shutter=1`).
CCD_TEMPERATURE is the measured temperature, Busy while the cooler ramps to its set-point. The readout modes
are CCD_CAPTURE_FORMAT switches named after the sensor's modes. Faults of the bench show as INDI shows them:
a failed exposure is CCD_EXPOSURE in Alert with the reason, a vanished camera CONNECTION in Alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from drivers.base import CameraSettings
from drivers.errors import DeviceDisconnected, DeviceError
from drivers.regions import region_read
from simulators.devices.camera import SETPOINT_RANGE, SimCamera
from simulators.indi import properties as p
from simulators.indi.device import DeviceCore, Outgoing, accept, out_of_range
from simulators.indi.fitsblob import FitsBlob

CCD_INTERFACE = 2
FRAME_TYPES = (("FRAME_LIGHT", "Light"), ("FRAME_BIAS", "Bias"), ("FRAME_DARK", "Dark"), ("FRAME_FLAT", "Flat"))
IMAGETYP = {
    "FRAME_LIGHT": "Light Frame",
    "FRAME_BIAS": "Bias Frame",
    "FRAME_DARK": "Dark Frame",
    "FRAME_FLAT": "Flat Field",
}


def _cfa_prop(device: str, pattern: str) -> p.Prop:
    """CCD_CFA as INDI's colour CCD drivers define it (read-only text: offsets and the pattern)."""
    members = {"CFA_OFFSET_X": ("X Offset", "0"), "CFA_OFFSET_Y": ("Y Offset", "0"), "CFA_TYPE": ("Filter", pattern)}
    return p.texts(device, "CCD_CFA", "Bayer Info", members, group="Image Info", perm="ro")


class CameraDevice:
    """`ServedDevice` for a `SimCamera`."""

    @staticmethod
    def _cfa(device: str, pattern: str | None) -> dict[str, p.Prop]:
        return {} if pattern is None else {"CCD_CFA": _cfa_prop(device, pattern)}

    def __init__(self, camera: SimCamera, core: DeviceCore) -> None:
        self.camera = camera
        self.core = core
        self.settings = CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=None)
        self._exposing = False
        self._countdown: int | None = None
        self._temperature: float | None = None
        info = camera.info
        n = core.name
        self.props = {
            "CCD_INFO": p.numbers(
                n,
                "CCD_INFO",
                "CCD Information",
                [
                    ("CCD_MAX_X", "Max. Width", info.width, 1, 16000, 0),
                    ("CCD_MAX_Y", "Max. Height", info.height, 1, 16000, 0),
                    ("CCD_PIXEL_SIZE", "Pixel size (um)", info.pixel_size_um, 1, 40, 0),
                    ("CCD_PIXEL_SIZE_X", "Pixel size X", info.pixel_size_um, 1, 40, 0),
                    ("CCD_PIXEL_SIZE_Y", "Pixel size Y", info.pixel_size_um, 1, 40, 0),
                    ("CCD_BITSPERPIXEL", "Bits per pixel", 16, 8, 64, 0),
                ],
                group="Image Info",
                perm="ro",
            ),
            **self._cfa(n, info.bayer),
            "CCD_EXPOSURE": p.numbers(
                n,
                "CCD_EXPOSURE",
                "Expose",
                [("CCD_EXPOSURE_VALUE", "Duration (s)", 1, info.exposure_min, info.exposure_max, 1)],
            ),
            "CCD_ABORT_EXPOSURE": p.switches(
                n, "CCD_ABORT_EXPOSURE", "Abort", [("ABORT", "Abort")], None, rule="AtMostOne"
            ),
            "CCD_FRAME": p.numbers(
                n,
                "CCD_FRAME",
                "Frame",
                [
                    ("X", "Left", 0, 0, info.width - 1, 0),
                    ("Y", "Top", 0, 0, info.height - 1, 0),
                    ("WIDTH", "Width", info.width, 1, info.width, 0),
                    ("HEIGHT", "Height", info.height, 1, info.height, 0),
                ],
                group="Image Settings",
            ),
            "CCD_BINNING": p.numbers(
                n,
                "CCD_BINNING",
                "Binning",
                [("HOR_BIN", "X", 1, 1, info.max_binning, 1), ("VER_BIN", "Y", 1, 1, info.max_binning, 1)],
                group="Image Settings",
            ),
            "CCD_FRAME_TYPE": p.switches(
                n, "CCD_FRAME_TYPE", "Type", FRAME_TYPES, "FRAME_LIGHT", group="Image Settings"
            ),
            "CCD_GAIN": p.numbers(n, "CCD_GAIN", "Gain", [("GAIN", "value", 100, info.gain_min, info.gain_max, 1)]),
            "CCD_OFFSET": p.numbers(
                n, "CCD_OFFSET", "Offset", [("OFFSET", "value", 50, info.offset_min, info.offset_max, 1)]
            ),
            "CCD_CAPTURE_FORMAT": p.switches(
                n,
                "CCD_CAPTURE_FORMAT",
                "Format",
                [(f"SIM_MODE_{i}", name) for i, name in enumerate(info.readout_modes)],
                "SIM_MODE_0",
                group="Image Settings",
            ),
            "CCD_TEMPERATURE": p.numbers(
                n,
                "CCD_TEMPERATURE",
                "Temperature",
                [("CCD_TEMPERATURE_VALUE", "Temperature (C)", 0, *SETPOINT_RANGE, 0)],
            ),
            "CCD_COOLER": p.switches(
                n, "CCD_COOLER", "Cooler", [("COOLER_ON", "ON"), ("COOLER_OFF", "OFF")], "COOLER_OFF"
            ),
            "CCD_TRANSFER_FORMAT": p.switches(
                n, "CCD_TRANSFER_FORMAT", "Encode", [("FORMAT_FITS", "FITS")], "FORMAT_FITS", group="Image Settings"
            ),
            "CCD_COMPRESSION": p.switches(
                n,
                "CCD_COMPRESSION",
                "Compression",
                [("INDI_ENABLED", "Enabled"), ("INDI_DISABLED", "Disabled")],
                "INDI_DISABLED",
                group="Image Settings",
            ),
            "UPLOAD_MODE": p.switches(
                n, "UPLOAD_MODE", "Upload", [("UPLOAD_CLIENT", "Client")], "UPLOAD_CLIENT", group="Options"
            ),
            "CCD1": p.Prop("BLOB", n, "CCD1", "Image Data", group="Image Info", perm="ro"),
        }
        self.props["CCD1"].elements["CCD1"] = p.Element("CCD1", "Image")
        core.working = list(self.props.values())
        core.props.update(self.props)

    def _connect(self) -> None:
        self.camera.connect()
        self.camera.apply(self.settings)
        self._temperature = self.camera.temperature()
        self.props["CCD_TEMPERATURE"].elements["CCD_TEMPERATURE_VALUE"].value = float(self._temperature or 0.0)

    def new(self, name: str, values: Mapping[str, p.Value]) -> list[Outgoing]:
        core = self.core
        if name == "CONNECTION":
            return core.connection(values, self._connect)
        prop = core.props.get(name)
        if prop is None or prop.perm == "ro" or not core.connected:
            return [] if prop is None else core.alert(prop, f"{name} cannot be set now (device not connected?)")
        merged = accept(prop, values)
        why = out_of_range(prop, merged) if prop.kind == "Number" else None
        if why is not None:
            return core.alert(prop, why)
        try:
            return self._handle(prop, merged)
        except DeviceError as exc:
            return core.alert(prop, exc.message)

    def _handle(self, prop: p.Prop, values: dict[str, p.Value]) -> list[Outgoing]:
        core, name = self.core, prop.name
        if name == "CCD_EXPOSURE":
            return self._start(prop, float(values["CCD_EXPOSURE_VALUE"]))
        if name == "CCD_ABORT_EXPOSURE":
            return self._abort()
        if name == "CCD_FRAME":
            frame = tuple(round(float(values[k])) for k in ("X", "Y", "WIDTH", "HEIGHT"))
            self._apply(roi=self._roi(frame, self.settings.binning))
        elif name == "CCD_BINNING":
            if values["HOR_BIN"] != values["VER_BIN"]:
                return core.alert(prop, "the simulated camera bins square only (HOR_BIN = VER_BIN)")
            binning = round(float(values["HOR_BIN"]))
            frame = tuple(
                round(float(self.props["CCD_FRAME"].elements[k].value)) for k in ("X", "Y", "WIDTH", "HEIGHT")
            )
            self._apply(binning=binning, roi=self._roi(frame, binning))
        elif name == "CCD_GAIN":
            self._apply(gain=round(float(values["GAIN"])))
        elif name == "CCD_OFFSET":
            self._apply(offset=round(float(values["OFFSET"])))
        elif name == "CCD_CAPTURE_FORMAT":
            chosen = next((k for k, v in values.items() if v is True), "SIM_MODE_0")
            self._apply(readout_mode=list(prop.elements).index(chosen))
        elif name == "CCD_TEMPERATURE":
            self._apply(temperature=float(values["CCD_TEMPERATURE_VALUE"]))
            self.props["CCD_COOLER"].choose("COOLER_ON")
            self.props["CCD_TEMPERATURE"].state = "Busy"
            return [core.set(self.props["CCD_COOLER"], "Ok"), core.set(self.props["CCD_TEMPERATURE"], "Busy")]
        elif name == "CCD_COOLER":
            if values.get("COOLER_OFF") is True:
                self._apply(temperature=None)
        elif name == "CCD_COMPRESSION" and values.get("INDI_ENABLED") is True:
            return core.alert(prop, "the simulated camera sends uncompressed FITS only")
        for member, value in values.items():
            prop.elements[member].value = value
        return [core.set(prop, "Ok")]

    def _roi(self, frame: tuple[int, ...], binning: int) -> tuple[int, int, int, int] | None:
        """CCD_FRAME (unbinned pixels, as INDI counts them) as the camera's region in binned pixels."""
        info = self.camera.info
        x, y, w, h = (v // binning for v in frame)
        return region_read(x, y, w, h, info.width, info.height, binning)

    def _apply(self, **changes: Any) -> None:
        settings = replace(self.settings, **changes)
        self.camera.apply(settings)
        self.settings = settings

    def _frame_type(self) -> str:
        return self.props["CCD_FRAME_TYPE"].on() or "FRAME_LIGHT"

    def _start(self, prop: p.Prop, seconds: float) -> list[Outgoing]:
        light = self._frame_type() in ("FRAME_LIGHT", "FRAME_FLAT")
        self.camera.start_exposure(seconds, light)
        self._exposing = True
        self._countdown = int(seconds)
        prop.elements["CCD_EXPOSURE_VALUE"].value = seconds
        return [self.core.set(prop, "Busy")]

    def _abort(self) -> list[Outgoing]:
        self.camera.abort_exposure()
        self._exposing = False
        exposure, abort = self.props["CCD_EXPOSURE"], self.props["CCD_ABORT_EXPOSURE"]
        exposure.elements["CCD_EXPOSURE_VALUE"].value = 0.0
        abort.choose(None)
        return [
            self.core.set(abort, "Ok"),
            self.core.set(exposure, "Idle"),
            p.message(self.core.name, self.core.now, "[INFO] Exposure aborted."),
        ]

    def poll(self) -> list[Outgoing]:
        if not self.core.connected:
            return []
        try:
            return self._temperature_news() + (self._exposure_news() if self._exposing else [])
        except DeviceDisconnected as exc:
            self._exposing = False
            failed = []
            if self.props["CCD_EXPOSURE"].state == "Busy":
                failed = self.core.alert(self.props["CCD_EXPOSURE"], exc.message)
            return failed + self.core.lost(exc.message)

    def _temperature_news(self) -> list[Outgoing]:
        now = self.camera.temperature()
        prop = self.props["CCD_TEMPERATURE"]
        target = self.settings.temperature
        state = "Idle" if target is None else "Ok" if self.camera.cooler_at_setpoint() else "Busy"
        if now == self._temperature and state == prop.state:
            return []
        self._temperature = now
        prop.elements["CCD_TEMPERATURE_VALUE"].value = float(now or 0.0)
        return [self.core.set(prop, state)]

    def _exposure_news(self) -> list[Outgoing]:
        prop = self.props["CCD_EXPOSURE"]
        try:
            ready = self.camera.image_ready()
        except DeviceDisconnected:
            raise
        except DeviceError as exc:
            self._exposing = False
            return self.core.alert(prop, exc.message)
        if not ready:
            left = self.camera.exposure_deadline()
            remaining = None if left is None else max(0, int(left - self.core.now))
            if remaining is not None and remaining != self._countdown:
                self._countdown = remaining
                prop.elements["CCD_EXPOSURE_VALUE"].value = float(remaining)
                return [self.core.set(prop, "Busy")]
            return []
        frame = self.camera.read_image()
        self._exposing = False
        blob = FitsBlob(self.core.name, frame, self._cards(), self.core.now)
        prop.elements["CCD_EXPOSURE_VALUE"].value = 0.0
        return [blob, self.core.set(prop, "Ok")]

    def _cards(self) -> list[tuple[str, str | float | int | bool, str]]:
        record = self.camera.last_exposure_record
        settings = self.settings if record is None else record.settings
        kind = self._frame_type()
        cards: list[tuple[str, str | float | int | bool, str]] = [
            ("INSTRUME", self.core.name, "CCD Name"),
            ("FRAME", kind.removeprefix("FRAME_").title(), "Frame Type"),
            ("IMAGETYP", IMAGETYP[kind], "Frame Type"),
            ("XBINNING", settings.binning, "Binning factor in width"),
            ("YBINNING", settings.binning, "Binning factor in height"),
            ("GAIN", float(settings.gain), "Gain"),
            ("OFFSET", float(settings.offset), "Offset"),
            ("PIXSIZE1", float(self.camera.info.pixel_size_um), "Pixel Size 1 (microns)"),
            ("PIXSIZE2", float(self.camera.info.pixel_size_um), "Pixel Size 2 (microns)"),
        ]
        if record is not None:
            cards.append(("EXPTIME", float(record.seconds), "Total Exposure Time (s)"))
            if record.temperature is not None:
                cards.append(("CCD-TEMP", round(float(record.temperature), 2), "CCD Temperature (Celsius)"))
            cards.append(("DATE-OBS", p.timestamp(record.start), "UTC start date of observation"))
        return cards
