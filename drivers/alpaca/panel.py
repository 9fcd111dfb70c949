"""An ASCOM Alpaca CoverCalibrator (ICoverCalibratorV1/V2) as a flatseq `FlatPanel`.

CalibratorState maps onto LightState: NotReady is "settling" (the sequencer waits), Error is a
failure. A device that reports Unknown cannot tell whether it is stable; it counts as ready when it
reports a non-zero Brightness, off otherwise. Brightness runs 0..MaxBrightness.
"""

from __future__ import annotations

from collections.abc import Mapping

from alpaca.covercalibrator import CalibratorStatus, CoverStatus

from drivers.alpaca.device import AlpacaLink
from drivers.base import CoverState, LightState
from drivers.errors import DeviceError, NotSupported

_LIGHT: Mapping[int, LightState] = {
    CalibratorStatus.Off: LightState.OFF,
    CalibratorStatus.NotReady: LightState.SETTLING,
    CalibratorStatus.Ready: LightState.READY,
    CalibratorStatus.Error: LightState.ERROR,
}

_COVER: Mapping[int, CoverState] = {
    CoverStatus.NotPresent: CoverState.NOT_PRESENT,
    CoverStatus.Closed: CoverState.CLOSED,
    CoverStatus.Moving: CoverState.MOVING,
    CoverStatus.Open: CoverState.OPEN,
    CoverStatus.Unknown: CoverState.UNKNOWN,
    CoverStatus.Error: CoverState.ERROR,
}


class AlpacaCoverCalibrator:
    """`drivers.base.FlatPanel` over Alpaca."""

    def __init__(self, link: AlpacaLink) -> None:
        self._link = link
        self._t = link.transport
        self._max_brightness: int | None = None
        self._has_cover = False

    @property
    def name(self) -> str:
        return self._link.name

    def connect(self) -> None:
        self._link.connect()
        if int(self._t.get("calibratorstate")) == CalibratorStatus.NotPresent:
            raise NotSupported(self.name, "has no calibrator light (CalibratorState NotPresent); flats need one")
        self._max_brightness = int(self._t.get("maxbrightness"))
        self._has_cover = int(self._t.get("coverstate")) != CoverStatus.NotPresent

    def disconnect(self) -> None:
        self._max_brightness = None
        self._link.disconnect()

    @property
    def brightness_range(self) -> tuple[int, int]:
        """0..MaxBrightness as read on connecting; (0, 0) before (the protocol check reads it)."""
        return 0, self._max_brightness or 0

    def light_on(self, brightness: int) -> None:
        self._t.put("calibratoron", Brightness=int(brightness))

    def light_off(self) -> None:
        self._t.put("calibratoroff")

    def light_state(self) -> LightState:
        state = int(self._t.get("calibratorstate"))
        if state == CalibratorStatus.Unknown:
            return LightState.READY if self.brightness() > 0 else LightState.OFF
        try:
            return _LIGHT[state]
        except KeyError:
            raise DeviceError(self.name, "reported a CalibratorState flatseq cannot use", answered=str(state)) from None

    def brightness(self) -> int:
        return int(self._t.get("brightness"))

    @property
    def has_cover(self) -> bool:
        return self._has_cover

    def open_cover(self) -> None:
        self._require_cover()
        self._t.put("opencover")

    def close_cover(self) -> None:
        self._require_cover()
        self._t.put("closecover")

    def cover_state(self) -> CoverState:
        state = int(self._t.get("coverstate"))
        try:
            return _COVER[state]
        except KeyError:
            raise DeviceError(self.name, "reported a CoverState outside the ASCOM list", answered=str(state)) from None

    def _require_cover(self) -> None:
        if not self._has_cover:
            raise NotSupported(self.name, "has no cover (CoverState NotPresent)")
