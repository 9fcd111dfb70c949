"""One INDI device as whatever flatseq uses it for: camera, flat panel or filter wheel.

An `indi://host:port/Device%20Name` URL names a device, not a role, and one INDI device may play several (INDI's
CCD simulator has a filter wheel; a Flip-Flat is a light box and a dust cap). `IndiDevice` therefore offers the
members of all three protocols, each answered by the part that knows its properties; a member the device
has no property for fails with NotSupported naming what is missing. Role work is done on first use, so a
camera's images are never sent to the connection that uses the same device as a wheel.
"""

from __future__ import annotations

from drivers.base import CameraInfo, CameraSettings, CoverState, ExposureReport, Frame, LightState
from drivers.clock import Clock
from drivers.indi.camera import IndiCamera
from drivers.indi.link import IndiLink
from drivers.indi.panel import IndiLightBox
from drivers.indi.wheel import IndiWheel


class IndiDevice:
    """`Camera`, `FlatPanel` and `FilterWheel` over one INDI device."""

    def __init__(self, link: IndiLink, *, clock: Clock, download_timeout: float) -> None:
        self._link = link
        self._camera = IndiCamera(link, clock=clock, download_timeout=download_timeout)
        self._box = IndiLightBox(link)
        self._wheel = IndiWheel(link)

    @property
    def name(self) -> str:
        return self._link.name

    def connect(self) -> None:
        self._link.connect()

    def disconnect(self) -> None:
        self._camera.reset()
        self._link.disconnect()

    # ---- Camera -------------------------------------------------------------------------------

    @property
    def info(self) -> CameraInfo:
        return self._camera.info

    def apply(self, settings: CameraSettings) -> None:
        self._camera.apply(settings)

    def read_settings(self) -> CameraSettings:
        return self._camera.read_settings()

    def temperature(self) -> float | None:
        return self._camera.temperature()

    def start_exposure(self, seconds: float, light: bool) -> None:
        self._camera.start_exposure(seconds, light)

    def image_ready(self) -> bool:
        return self._camera.image_ready()

    def read_image(self) -> Frame:
        return self._camera.read_image()

    def last_exposure(self) -> ExposureReport:
        return self._camera.last_exposure()

    def abort_exposure(self) -> None:
        self._camera.abort_exposure()

    # ---- FlatPanel ----------------------------------------------------------------------------

    @property
    def brightness_range(self) -> tuple[int, int]:
        return self._box.brightness_range

    def light_on(self, brightness: int) -> None:
        self._box.light_on(brightness)

    def light_off(self) -> None:
        self._box.light_off()

    def light_state(self) -> LightState:
        return self._box.light_state()

    def brightness(self) -> int:
        return self._box.brightness()

    @property
    def has_cover(self) -> bool:
        return self._box.has_cover

    def open_cover(self) -> None:
        self._box.open_cover()

    def close_cover(self) -> None:
        self._box.close_cover()

    def cover_state(self) -> CoverState:
        return self._box.cover_state()

    # ---- FilterWheel --------------------------------------------------------------------------

    def names(self) -> list[str]:
        return self._wheel.names()

    def position(self) -> int | None:
        return self._wheel.position()

    def move_to(self, index: int) -> None:
        self._wheel.move_to(index)
