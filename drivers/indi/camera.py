"""An INDI CCD as a flatseq `Camera`: INDI's standard CCD properties, images from the CCD1 BLOB.

- Settings: CCD_BINNING (HOR_BIN/VER_BIN) and a full CCD_FRAME, gain from CCD_GAIN.GAIN or
  CCD_CONTROLS.Gain, offset from CCD_OFFSET.OFFSET or CCD_CONTROLS.Offset, the readout mode from READ_MODE.MODE
  (QHY) or else CCD_CAPTURE_FORMAT, the cooler set-point into CCD_TEMPERATURE (and CCD_COOLER on). All of
  them read back from the properties, except the set-point: CCD_TEMPERATURE is the measured temperature, so
  the set-point is listed in `CameraInfo.unreported` and read back as last applied.
- Frames: CCD_FRAME_TYPE FRAME_FLAT for flats, FRAME_DARK for dark-flats, FRAME_BIAS for the pedestal (the
  shortest exposure with the light off); CCD_EXPOSURE starts one; the image is the CCD1 BLOB (FITS, asked for
  uncompressed), taken when it arrives; `last_exposure` is its own EXPTIME and DATE-OBS.
- A camera without a gain or offset control reads back 0 there and takes only 0, as the Alpaca driver does.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import CameraInfo, CameraSettings, ExposureReport, Frame
from drivers.bayer import pattern_at_origin
from drivers.clock import Clock
from drivers.errors import DeviceDisconnected, DeviceError, DeviceTimeout, InvalidOperation, InvalidValue, NotSupported
from drivers.indi import vectors
from drivers.indi.fitsimage import FitsError, decode_fits
from drivers.indi.link import IndiLink, describe_values
from drivers.indi.vectors import PropertyState, Value
from drivers.regions import check_region, region_read

IMAGE = "CCD1"
CONTROLS = {
    "gain": (("CCD_GAIN", "GAIN"), ("CCD_CONTROLS", "Gain")),
    "offset": (("CCD_OFFSET", "OFFSET"), ("CCD_CONTROLS", "Offset")),
}
FITS_FORMATS = (".fits", ".fit", ".fts")


@dataclass(frozen=True)
class _Exposure:
    seq: int
    seconds: float
    started: float
    sent: str


class IndiCamera:
    """The camera part of an INDI device; `prepare()` once connected (BLOBs on, FITS, uncompressed)."""

    def __init__(self, link: IndiLink, *, clock: Clock, download_timeout: float) -> None:
        self._link = link
        self._clock = clock
        self._download_timeout = download_timeout
        self._info: CameraInfo | None = None
        self._set_point: float | None = None
        self._exposure: _Exposure | None = None
        self._last = ExposureReport()

    def reset(self) -> None:
        self._info = None
        self._exposure = None

    # ---- info and settings --------------------------------------------------------------------

    @property
    def info(self) -> CameraInfo:
        """What the camera says it can do; a 0x0 placeholder before connecting (the protocol check reads it)."""
        if not self._link.connected:
            return CameraInfo(name=self._link.name, width=0, height=0)
        return self.prepare()

    def prepare(self) -> CameraInfo:
        """Once per connection: images sent to us, as FITS, uncompressed; then read what the camera can do."""
        self._link.require_connected()
        if self._info is not None:
            return self._info
        link = self._link
        if not link.has("CCD_EXPOSURE"):
            raise NotSupported(link.name, "is not a camera: it has no CCD_EXPOSURE property")
        client = link.client
        client.wanted_blobs.add(IMAGE)
        client.send(vectors.enable_blob(link.name, "Also"), what="enableBLOB Also")
        self._choose("CCD_TRANSFER_FORMAT", ("FORMAT_FITS",))
        self._choose("CCD_COMPRESSION", ("INDI_DISABLED", "CCD_RAW"))
        upload = link.find("UPLOAD_MODE")
        if upload is not None and upload.value("UPLOAD_LOCAL") is True:  # keep saving there, and send to us too
            self._choose("UPLOAD_MODE", ("UPLOAD_BOTH", "UPLOAD_CLIENT"))
        self._info = self._read_info()
        return self._info

    def apply(self, settings: CameraSettings) -> None:
        info = self.prepare()
        link = self._link
        self._binning(settings.binning, info, settings.roi)
        for which, value in (("gain", settings.gain), ("offset", settings.offset)):
            control = self._control(which)
            if control is None:
                if value != 0:
                    raise NotSupported(link.name, f"has no {which} control (no {CONTROLS[which][0][0]}): only 0 fits")
                continue
            name, member = control
            if link.number(name, member) != float(value):
                link.set(name, {member: float(value)})
        self._readout_mode(settings.readout_mode, info)
        if settings.temperature is not None:
            if not info.can_cool:
                raise NotSupported(link.name, "cannot take a cooler set-point (CCD_TEMPERATURE is read-only or absent)")
            link.set("CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": float(settings.temperature)}, accept_busy=True)
            cooler = link.find("CCD_COOLER")
            if cooler is not None and cooler.writable and cooler.value("COOLER_ON") is not True:
                link.set("CCD_COOLER", link.switch_values("CCD_COOLER", "COOLER_ON"), accept_busy=True)
        self._set_point = settings.temperature

    def read_settings(self) -> CameraSettings:
        self.prepare()
        link = self._link
        values = {}
        for which in ("gain", "offset"):
            control = self._control(which)
            values[which] = 0 if control is None else round(link.number(*control))
        binning = link.find("CCD_BINNING")
        modes = self._mode_source()
        mode = 0
        if modes == "READ_MODE":
            vector = link.vector(modes)
            mode = round(link.number(modes, "MODE") - (vector.members["MODE"].minimum or 0.0))
        elif modes == "CCD_CAPTURE_FORMAT":
            vector = link.vector(modes)
            on = vector.on()
            mode = list(vector.members).index(on[0]) if on else 0
        factor = round(binning.number("HOR_BIN") or 1) if binning is not None else 1
        return CameraSettings(
            gain=values["gain"],
            offset=values["offset"],
            binning=factor,
            readout_mode=mode,
            temperature=self._set_point,
            roi=self._region(factor),
        )

    def temperature(self) -> float | None:
        """CCD_TEMPERATURE, the measured value; while it is Busy (the cooler ramping), the next update is let in
        first, so a caller polling the ramp sees it move."""
        self._link.require_connected()
        vector = self._link.find("CCD_TEMPERATURE")
        if vector is not None and vector.state is PropertyState.BUSY:
            self._link.news("CCD_TEMPERATURE")
            vector = self._link.find("CCD_TEMPERATURE")
        return None if vector is None else vector.number("CCD_TEMPERATURE_VALUE")

    # ---- exposures ----------------------------------------------------------------------------

    def start_exposure(self, seconds: float, light: bool) -> None:
        info = self.prepare()
        link = self._link
        if not info.exposure_min <= seconds <= info.exposure_max:
            raise InvalidValue(
                link.name, f"exposure {seconds:g} s out of range {info.exposure_min:g}-{info.exposure_max:g} s"
            )
        kind = "FRAME_FLAT" if light else "FRAME_BIAS" if seconds <= info.exposure_min else "FRAME_DARK"
        frame_type = link.find("CCD_FRAME_TYPE")
        if frame_type is not None and frame_type.on() != [kind]:
            link.set("CCD_FRAME_TYPE", link.switch_values("CCD_FRAME_TYPE", kind))
        values: dict[str, Value] = {"CCD_EXPOSURE_VALUE": float(seconds)}
        self._exposure = None
        started = self._clock.now()
        seq = link.set("CCD_EXPOSURE", values, accept_busy=True)
        self._exposure = _Exposure(seq, float(seconds), started, describe_values("CCD_EXPOSURE", values))

    def image_ready(self) -> bool:
        """True once the exposure's CCD1 image has come; its Alert fails the exposure, and so does no image long
        after the exposure should have ended (`download_timeout`)."""
        self._link.require_connected()
        exposure = self._exposure
        if exposure is None:
            return False
        client = self._link.client
        for attempt in (1, 2):
            if client.blob_after(IMAGE, exposure.seq):
                return True
            try:
                self._link.check_alert("CCD_EXPOSURE", exposure.seq, sent=exposure.sent)
            except DeviceError:
                self._exposure = None  # the camera ended it: there is nothing left to abort
                raise
            if client.lost is not None:
                self._exposure = None  # gone with the server
                state = self._state("CCD_EXPOSURE")
                raise DeviceDisconnected(
                    self._link.name,
                    f"the INDI server at {client.where} went away during the exposure (CCD_EXPOSURE was {state}; "
                    f"{client.lost})",
                    sent=exposure.sent,
                )
            overdue = self._clock.now() - (exposure.started + exposure.seconds)
            if overdue > self._download_timeout:
                raise DeviceTimeout(
                    self._link.name,
                    f"no CCD1 image {overdue:.0f} s after the {exposure.seconds:g} s exposure ended "
                    f"(CCD_EXPOSURE is {self._state('CCD_EXPOSURE')})",
                    sent=exposure.sent,
                )
            if attempt == 1:
                self._link.news(IMAGE)
        return False

    def read_image(self) -> Frame:
        self._link.require_connected()
        exposure = self._exposure
        blob = None if exposure is None else self._link.client.take_blob(IMAGE, exposure.seq)
        if blob is None:
            raise InvalidOperation(self._link.name, "no image to read: the exposure is not finished (or was aborted)")
        self._exposure = None
        if blob.format.lower() not in FITS_FORMATS:
            raise DeviceError(self._link.name, f"sent the CCD1 image as {blob.format!r}; flatseq reads FITS (.fits)")
        try:
            image = decode_fits(blob.data, blob.size)
        except FitsError as exc:
            raise DeviceError(self._link.name, f"sent a CCD1 image flatseq cannot read: {exc}") from None
        self._last = image.exposure()
        return image.frame

    def last_exposure(self) -> ExposureReport:
        return self._last

    def abort_exposure(self) -> None:
        """CCD_ABORT_EXPOSURE while an exposure runs (its image, if it comes, is not taken)."""
        exposure, self._exposure = self._exposure, None
        if exposure is None or self._link.client.blob_after(IMAGE, exposure.seq):
            return
        if self._link.has("CCD_ABORT_EXPOSURE"):
            self._link.set("CCD_ABORT_EXPOSURE", {"ABORT": True}, accept_busy=True)

    # ---- helpers ------------------------------------------------------------------------------

    def _state(self, name: str) -> str:
        vector = self._link.find(name)
        return "gone" if vector is None else vector.state.value

    def _choose(self, name: str, candidates: tuple[str, ...]) -> None:
        """Turn on the first of `candidates` a Switch vector has, unless one of them is on already."""
        vector = self._link.find(name)
        if vector is None or not vector.writable:
            return
        present = [c for c in candidates if c in vector.members]
        if present and not any(vector.value(c) is True for c in present):
            self._link.set(name, self._link.switch_values(name, present[0]))

    def _control(self, which: str) -> tuple[str, str] | None:
        """The (vector, member) holding gain or offset, if the camera has one."""
        for name, member in CONTROLS[which]:
            vector = self._link.find(name)
            if vector is None:
                continue
            for candidate in vector.members:
                if candidate.lower() == member.lower():
                    return name, candidate
        return None

    def _mode_source(self) -> str | None:
        for name in ("READ_MODE", "CCD_CAPTURE_FORMAT"):
            vector = self._link.find(name)
            if vector is not None and vector.members and (name != "READ_MODE" or "MODE" in vector.members):
                return name
        return None

    def _modes(self) -> tuple[str, ...]:
        source = self._mode_source()
        if source == "READ_MODE":
            member = self._link.vector(source).members["MODE"]
            low, high = round(member.minimum or 0), round(member.maximum or 0)
            return tuple(f"Mode {i}" for i in range(low, max(high, low) + 1))
        if source == "CCD_CAPTURE_FORMAT":
            return tuple(m.label or m.name for m in self._link.vector(source).members.values())
        return ("Normal",)

    def _readout_mode(self, index: int, info: CameraInfo) -> None:
        if not 0 <= index < len(info.readout_modes):
            raise InvalidValue(self._link.name, f"readout mode {index} out of range 0-{len(info.readout_modes) - 1}")
        source = self._mode_source()
        link = self._link
        if source == "READ_MODE":
            member = link.vector(source).members["MODE"]
            target = float(round(member.minimum or 0) + index)
            if member.value != target:
                link.set(source, {"MODE": target})
        elif source == "CCD_CAPTURE_FORMAT":
            wanted = list(link.vector(source).members)[index]
            if link.vector(source).on() != [wanted]:
                link.set(source, link.switch_values(source, wanted))

    def _binning(self, binning: int, info: CameraInfo, roi: tuple[int, int, int, int] | None) -> None:
        """CCD_BINNING, then CCD_FRAME: the full frame, or the region (CCD_FRAME counts unbinned pixels)."""
        link = self._link
        if not 1 <= binning <= info.max_binning:
            raise InvalidValue(link.name, f"binning {binning} out of range 1-{info.max_binning}")
        check_region(link.name, roi, info.width, info.height, binning, info.subframe)
        vector = link.find("CCD_BINNING")
        if vector is not None and (vector.number("HOR_BIN"), vector.number("VER_BIN")) != (binning, binning):
            link.set("CCD_BINNING", {"HOR_BIN": float(binning), "VER_BIN": float(binning)})
        frame = link.find("CCD_FRAME")
        x, y, w, h = (v * binning for v in roi) if roi is not None else (0, 0, info.width, info.height)
        wanted: dict[str, Value] = {"X": float(x), "Y": float(y), "WIDTH": float(w), "HEIGHT": float(h)}
        if frame is not None and frame.writable and any(frame.value(k) != v for k, v in wanted.items()):
            link.set("CCD_FRAME", {k: v for k, v in wanted.items() if k in frame.members})

    def _region(self, binning: int) -> tuple[int, int, int, int] | None:
        """CCD_FRAME as binned pixels; None for the full frame (or a camera without CCD_FRAME)."""
        frame = self._link.find("CCD_FRAME")
        info = self._info
        if frame is None or info is None or not {"X", "Y", "WIDTH", "HEIGHT"} <= set(frame.members):
            return None
        x, y, w, h = (round(frame.number(k) or 0) // binning for k in ("X", "Y", "WIDTH", "HEIGHT"))
        return region_read(x, y, w, h, info.width, info.height, binning)

    def _read_info(self) -> CameraInfo:
        link = self._link
        ccd = link.vector("CCD_INFO")
        exposure = link.vector("CCD_EXPOSURE").members.get("CCD_EXPOSURE_VALUE")
        if exposure is None:
            raise NotSupported(link.name, "has no CCD_EXPOSURE.CCD_EXPOSURE_VALUE number")
        bits = round(ccd.number("CCD_BITSPERPIXEL") or 16)
        ranges = {}
        for which in ("gain", "offset"):
            control = self._control(which)
            member = None if control is None else link.vector(control[0]).members[control[1]]
            ranges[which] = (0, 0) if member is None else (round(member.minimum or 0), round(member.maximum or 0))
        binning = link.find("CCD_BINNING")
        max_bin = 1
        if binning is not None:
            maxima = [m.maximum for m in binning.members.values() if m.maximum is not None]
            max_bin = max(1, round(min(maxima))) if maxima else 1
        temperature = link.find("CCD_TEMPERATURE")
        can_cool = temperature is not None and temperature.writable
        return CameraInfo(
            name=link.name,
            width=round(ccd.number("CCD_MAX_X") or 0),
            height=round(ccd.number("CCD_MAX_Y") or 0),
            max_adu=(1 << min(max(bits, 8), 16)) - 1,
            pixel_size_um=ccd.number("CCD_PIXEL_SIZE_X") or ccd.number("CCD_PIXEL_SIZE") or 0.0,
            exposure_min=exposure.minimum or 0.0,
            exposure_max=exposure.maximum or 3600.0,
            gain_min=ranges["gain"][0],
            gain_max=ranges["gain"][1],
            offset_min=ranges["offset"][0],
            offset_max=ranges["offset"][1],
            max_binning=max_bin,
            readout_modes=self._modes(),
            can_cool=can_cool,
            unreported=("temperature",) if can_cool else (),
            bayer=self._bayer(),
            subframe=(frame := link.find("CCD_FRAME")) is not None and frame.writable,
        )

    def _bayer(self) -> str | None:
        """A colour sensor's mosaic at pixel (0, 0) from CCD_CFA (CFA_TYPE shifted by CFA_OFFSET_X/Y); None
        where the driver defines no CCD_CFA (a mono sensor)."""
        link = self._link
        cfa = link.find("CCD_CFA")
        if cfa is None:
            return None
        kind, x, y = cfa.value("CFA_TYPE"), cfa.value("CFA_OFFSET_X"), cfa.value("CFA_OFFSET_Y")
        if kind in (None, ""):
            return None
        try:
            return pattern_at_origin(str(kind), int(str(x or 0)), int(str(y or 0)))
        except ValueError as exc:
            raise DeviceError(link.name, f"CCD_CFA answered type {kind!r}, offsets {x!r}, {y!r}: {exc}") from None
