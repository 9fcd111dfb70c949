"""A flatseq `FlatPanel` as an ASCOM ICoverCalibratorV2 device, and a `FilterWheel` as IFilterWheelV3.

LightState maps back onto CalibratorState (settling is NotReady, so clients wait), the optional
cover onto CoverState (NotPresent without one). Brightness reads 0 while the light is off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alpaca.covercalibrator import CalibratorStatus, CoverStatus

from drivers.base import CoverState, FilterWheel, FlatPanel, LightState
from drivers.clock import Clock
from simulators.alpaca.common import CommonMembers, Identity
from simulators.alpaca.protocol import INVALID_VALUE, AlpacaError, Int, Member, Members, not_implemented

_CALIBRATOR: Mapping[LightState, int] = {
    LightState.OFF: CalibratorStatus.Off,
    LightState.SETTLING: CalibratorStatus.NotReady,
    LightState.READY: CalibratorStatus.Ready,
    LightState.ERROR: CalibratorStatus.Error,
}

_COVER: Mapping[CoverState, int] = {
    CoverState.NOT_PRESENT: CoverStatus.NotPresent,
    CoverState.CLOSED: CoverStatus.Closed,
    CoverState.MOVING: CoverStatus.Moving,
    CoverState.OPEN: CoverStatus.Open,
    CoverState.UNKNOWN: CoverStatus.Unknown,
    CoverState.ERROR: CoverStatus.Error,
}


class CoverCalibratorDevice:
    """ICoverCalibratorV2 members over a `drivers.base.FlatPanel`."""

    device_type = "covercalibrator"
    display_type = "CoverCalibrator"

    def __init__(self, panel: FlatPanel, *, clock: Clock, device_number: int = 0, legacy: bool = False) -> None:
        self.device_number = device_number
        self._panel = panel
        self._common = CommonMembers(
            Identity(
                name=panel.name,
                description=f"{panel.name} (flatseq simulated flat panel)",
                interface_version=1 if legacy else 2,
            ),
            clock=clock,
            on_connect=panel.connect,
            on_disconnect=panel.disconnect,
            state=self._device_state,
            legacy=legacy,
        )

    @property
    def name(self) -> str:
        return self._common.identity.name

    def is_connected(self) -> bool:
        return self._common.connected

    def calibrator_state(self) -> int:
        return int(_CALIBRATOR[self._panel.light_state()])

    def cover_state(self) -> int:
        if not self._panel.has_cover:
            return int(CoverStatus.NotPresent)
        return int(_COVER[self._panel.cover_state()])

    def brightness(self) -> int:
        return 0 if self._panel.light_state() is LightState.OFF else self._panel.brightness()

    def calibrator_on(self, Brightness: int) -> None:  # noqa: N803 - Alpaca parameter name
        low, high = self._panel.brightness_range
        if not max(0, low) <= Brightness <= high:
            raise AlpacaError(INVALID_VALUE, f"Brightness {Brightness} is outside {max(0, low)}..{high}")
        self._panel.light_on(Brightness)

    def _cover_action(self, what: str) -> Member:
        def handler() -> None:
            if not self._panel.has_cover:
                raise not_implemented(f"{what} (this panel has no cover)")
            if what == "OpenCover":
                self._panel.open_cover()
            elif what == "CloseCover":
                self._panel.close_cover()
            else:
                raise not_implemented(f"{what} (the cover cannot be stopped mid-way)")

        return Member(handler)

    def _device_state(self) -> list[tuple[str, Any]]:
        if not self._common.connected:
            return []
        calibrator, cover = self.calibrator_state(), self.cover_state()
        return [
            ("Brightness", self.brightness()),
            ("CalibratorChanging", calibrator == CalibratorStatus.NotReady),
            ("CalibratorState", calibrator),
            ("CoverMoving", cover == CoverStatus.Moving),
            ("CoverState", cover),
        ]

    def members(self) -> Members:
        table: Members = {
            ("GET", "brightness"): Member(self.brightness),
            ("GET", "calibratorchanging"): Member(lambda: self.calibrator_state() == CalibratorStatus.NotReady),
            ("GET", "calibratorstate"): Member(self.calibrator_state),
            ("GET", "covermoving"): Member(lambda: self.cover_state() == CoverStatus.Moving),
            ("GET", "coverstate"): Member(self.cover_state),
            ("GET", "maxbrightness"): Member(lambda: self._panel.brightness_range[1]),
            ("PUT", "calibratoroff"): Member(self._panel.light_off),
            ("PUT", "calibratoron"): Member(self.calibrator_on, (Int("Brightness"),)),
            ("PUT", "closecover"): self._cover_action("CloseCover"),
            ("PUT", "opencover"): self._cover_action("OpenCover"),
            ("PUT", "haltcover"): self._cover_action("HaltCover"),
        }
        if self._common.legacy:  # CalibratorChanging and CoverMoving came with ICoverCalibratorV2
            del table[("GET", "calibratorchanging")], table[("GET", "covermoving")]
        return {**self._common.members(), **table}


class FilterWheelDevice:
    """IFilterWheelV3 members over a `drivers.base.FilterWheel`; focus offsets are all zero."""

    device_type = "filterwheel"
    display_type = "FilterWheel"

    def __init__(self, wheel: FilterWheel, *, clock: Clock, device_number: int = 0, legacy: bool = False) -> None:
        self.device_number = device_number
        self._wheel = wheel
        self._common = CommonMembers(
            Identity(
                name=wheel.name,
                description=f"{wheel.name} (flatseq simulated filter wheel)",
                interface_version=2 if legacy else 3,
            ),
            clock=clock,
            on_connect=wheel.connect,
            on_disconnect=wheel.disconnect,
            state=self._device_state,
            legacy=legacy,
        )

    @property
    def name(self) -> str:
        return self._common.identity.name

    def is_connected(self) -> bool:
        return self._common.connected

    def position(self) -> int:
        slot = self._wheel.position()
        return -1 if slot is None else slot

    def move(self, Position: int) -> None:  # noqa: N803 - Alpaca parameter name
        count = len(self._wheel.names())
        if not 0 <= Position < count:
            raise AlpacaError(INVALID_VALUE, f"Position {Position} is outside 0..{count - 1}")
        self._wheel.move_to(Position)

    def _device_state(self) -> list[tuple[str, Any]]:
        return [("Position", self.position())] if self._common.connected else []

    def members(self) -> Members:
        table: Members = {
            ("GET", "focusoffsets"): Member(lambda: [0] * len(self._wheel.names())),
            ("GET", "names"): Member(self._wheel.names),
            ("GET", "position"): Member(self.position),
            ("PUT", "position"): Member(self.move, (Int("Position"),)),
        }
        return {**self._common.members(), **table}
