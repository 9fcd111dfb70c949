"""What an Alnitak panel's firmware does with each command: the emulator's behaviour, free of I/O.

Answers exactly as the generic command set does (`>P000` → `*P99000`, `>S000` → `*Siiqrs`, …), drives
a simulated panel (the bench's, so the light reaches the simulated camera) and runs the cover motor on
the bench clock. Written independently of the driver's codec so the two cannot share a mistake.

Behaviour a client may rely on, as on the real devices:
- the filler in replies to P/O/C/L/D echoes the command's (`>POOO` → `*P99OOO`, `>P000` → `*P99000`):
  what both INDI (digits) and N.I.N.A. (letters) expect; `filler="000"` or `"OOO"` forces one;
- a Flip-Flat acknowledges `>L` with its cover open or moving but keeps the light off, and switches the
  light off when it starts opening; a Flip-Mask has no light; Flat-Mans ignore cover commands (acked);
- brightness is remembered while the light is off; `>B` above 255 is clamped, `>J` reads it back;
- unknown letters and malformed commands get no reply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import CoverState, FlatPanel
from drivers.clock import Clock

COVER_PRODUCTS = frozenset({98, 99})
LIGHTLESS_PRODUCTS = frozenset({98})
KNOWN_PRODUCTS = (10, 15, 19, 98, 99)
FILLER_MODES = ("auto", "000", "OOO")


@dataclass(frozen=True)
class FirmwareConfig:
    """The device being emulated."""

    product: int = 99
    firmware: int = 123
    filler: str = "auto"
    motor_time: float = 5.0
    """Seconds (bench clock) the cover motor runs for one open or close, when the simulated panel has no
    cover of its own (a bench panel with a cover moves at its own `cover_time`)."""
    cover_jam: bool = False
    """The cover never reaches its end stop: after `motor_time` the status says 3 (timed out)."""

    def __post_init__(self) -> None:
        if not 0 <= self.product <= 99:
            raise ValueError(f"product id must be 00-99, not {self.product}")
        if not 0 <= self.firmware <= 999:
            raise ValueError(f"firmware version must be 000-999, not {self.firmware}")
        if self.filler not in FILLER_MODES:
            raise ValueError(f"filler must be one of {', '.join(FILLER_MODES)}, not {self.filler!r}")
        if self.motor_time < 0:
            raise ValueError("motor_time must be >= 0")

    @property
    def has_cover(self) -> bool:
        return self.product in COVER_PRODUCTS

    @property
    def has_light(self) -> bool:
        return self.product not in LIGHTLESS_PRODUCTS


@dataclass(frozen=True)
class PanelSnapshot:
    """The emulated device's state, as its status LEDs would show it."""

    product: int
    light_on: bool
    brightness: int
    cover: CoverState
    motor_running: bool


class AlnitakFirmware:
    """Turns one 5-character command (`>B128`) into its reply line (`*B99128`), or None for no reply."""

    def __init__(self, panel: FlatPanel, clock: Clock, config: FirmwareConfig | None = None) -> None:
        self.config = config or FirmwareConfig()
        self._panel = panel
        self._clock = clock
        self._lock = threading.Lock()
        self._light_on = False
        self._brightness = 0
        self._delegate_cover = self.config.has_cover and _panel_has_cover(panel)
        if _panel_has_cover(panel) and not self.config.has_cover:
            raise ValueError(
                f"the simulated panel has a cover but product {self.config.product:02d} has none: "
                "build the bench with cover=True only for a Flip-Flat (99) or Flip-Mask (98)"
            )
        self._cover = CoverState.CLOSED if self.config.has_cover else CoverState.NOT_PRESENT
        self._target: CoverState | None = None
        self._move_ends = 0.0
        self._commands: dict[str, Callable[[str], str | None]] = {
            "P": self._ping,
            "O": self._open,
            "C": self._close,
            "L": self._light_on_cmd,
            "D": self._light_off_cmd,
            "B": self._set_brightness,
            "J": self._get_brightness,
            "S": self._status,
            "V": self._version,
        }

    def power_on(self) -> None:
        """Connect to the simulated panel (the firmware is its only driver) and start dark."""
        with self._lock:
            if not getattr(self._panel, "connected", False):
                self._panel.connect()
            self._light_on = False
            self._panel.light_off()

    def handle(self, command: str) -> str | None:
        if len(command) != 5 or command[0] != ">":
            return None
        letter, data = command[1], command[2:]
        with self._lock:
            self._advance_motor()
            action = self._commands.get(letter)
            if action is None:
                return None
            body = action(data)
            if body is None:
                return None
            return f"*{letter}{self.config.product:02d}{body}"

    def snapshot(self) -> PanelSnapshot:
        with self._lock:
            self._advance_motor()
            return PanelSnapshot(
                product=self.config.product,
                light_on=self._light_on,
                brightness=self._brightness,
                cover=CoverState.MOVING if self._target is not None else self._cover,
                motor_running=self._target is not None,
            )

    # -- commands (called with the lock held) ----------------------------------------------------

    def _filler(self, data: str) -> str:
        if self.config.filler != "auto":
            return self.config.filler
        return "OOO" if data == "OOO" else "000"

    def _ping(self, data: str) -> str:
        return self._filler(data)

    def _version(self, data: str) -> str:
        return f"{self.config.firmware:03d}"

    def _set_brightness(self, data: str) -> str | None:
        if not data.isdigit():
            return None
        self._brightness = min(int(data), 255)
        store = getattr(self._panel, "set_brightness", None)  # the bench panel keeps it while dark
        if callable(store):
            store(self._panel_level())
        elif self._light_on:
            self._panel.light_on(self._panel_level())
        return f"{self._brightness:03d}"

    def _get_brightness(self, data: str) -> str:
        return f"{self._brightness:03d}"

    def _light_on_cmd(self, data: str) -> str:
        cover_blocks = self.config.product == 99 and (self._target is not None or self._cover != CoverState.CLOSED)
        if self.config.has_light and not cover_blocks:
            self._light_on = True
            self._panel.light_on(self._panel_level())
        return self._filler(data)

    def _light_off_cmd(self, data: str) -> str:
        if self.config.has_light:
            self._light_on = False
            self._panel.light_off()
        return self._filler(data)

    def _open(self, data: str) -> str:
        if self.config.has_cover:
            if self._light_on:  # a Flip-Flat never shines into the sky
                self._light_off_cmd(data)
            self._start_move(CoverState.OPEN)
        return self._filler(data)

    def _close(self, data: str) -> str:
        if self.config.has_cover:
            self._start_move(CoverState.CLOSED)
        return self._filler(data)

    def _status(self, data: str) -> str:
        motor = "1" if self._target is not None else "0"
        light = "1" if self._light_on else "0"
        cover = {CoverState.CLOSED: "1", CoverState.OPEN: "2", CoverState.ERROR: "3"}.get(self._cover, "0")
        if self._target is not None:
            cover = "0"
        return motor + light + cover

    # -- the cover motor --------------------------------------------------------------------------
    #
    # With a bench panel that has a cover, that cover *is* the motor (its `cover_time`, starting where
    # the bench put it), so the serial status and the light reaching the camera always agree. Without
    # one, a motor of `motor_time` seconds is modelled here, starting closed.

    def _start_move(self, target: CoverState) -> None:
        if self._delegate_cover:
            if target == CoverState.OPEN:
                self._panel.open_cover()
            else:
                self._panel.close_cover()
            return
        if self._target is None and self._cover == target:
            return
        self._target = target
        self._move_ends = self._clock.now() + self.config.motor_time
        self._cover = CoverState.UNKNOWN

    def _advance_motor(self) -> None:
        if self._delegate_cover:
            state = self._panel.cover_state()
            moving = state == CoverState.MOVING
            self._target = state if moving else None
            self._cover = CoverState.ERROR if self.config.cover_jam and not moving else state
            return
        if self._target is not None and self._clock.now() >= self._move_ends:
            self._cover = CoverState.ERROR if self.config.cover_jam else self._target
            self._target = None

    def _panel_level(self) -> int:
        low, high = self._panel.brightness_range
        return max(low, min(high, self._brightness))


def _panel_has_cover(panel: FlatPanel) -> bool:
    try:
        return bool(panel.has_cover)
    except Exception:  # a panel model that cannot tell is a panel without a cover
        return False
