"""Alnitak Flip-Flat / Flat-Man / Flip-Mask flat panels over a serial line (pyserial).

URLs: `alnitak:///dev/ttyACM0` (a device path; `alnitak://COM3` on Windows) or any pyserial URL after a
`+`: `alnitak+socket://127.0.0.1:5000`, `alnitak+rfc2217://host:port`, `alnitak+loop://`. Query options
(stripped before the URL reaches pyserial): `baud` (9600), `timeout` (seconds per reply, 2), `retries`
(extra attempts after a bad or missing reply, 2), `eol` (lf|cr|crlf, the terminator we send, default
lf), `filler` (000|OOO, default 000), `settle` (seconds the light reports SETTLING after switching, 0).

Why LF and `000` by default: INDI's driver sends `>P000\\n` and has driven genuine Flip-Flats for years,
and the common Arduino clones read commands up to LF; the published spec's CR also works on genuine
units but makes those clones wait for their read timeout. Replies are accepted ending LF, CR LF or CR
and with either filler; the exchange itself (flushes, retries, timeouts, a vanished port) is `wire`'s.

The simulators' `alnitak+emulator://?product=99` starts their Alnitak emulator in-process on the run's
simulated bench and drives it through a real pty with this same driver (its `emulator=` argument).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from drivers.alnitak.protocol import (
    BRIGHTNESS_MAX,
    BRIGHTNESS_MIN,
    COVER_PRODUCTS,
    LIGHTLESS_PRODUCTS,
    Reply,
    Status,
    decode_status,
    product_name,
)
from drivers.alnitak.url import AlnitakOptions, parse_alnitak_url
from drivers.alnitak.wire import SerialLine
from drivers.base import CoverState, LightState
from drivers.clock import Clock, SystemClock, wait_until
from drivers.errors import (
    ConfigError,
    DeviceError,
    DeviceTimeout,
    InvalidOperation,
    InvalidValue,
    NotSupported,
)
from drivers.registry import OpenContext, SchemeFunctions
from drivers.urls import DeviceFacts, url_shown

__all__ = ["AlnitakOptions", "AlnitakPanel", "open_alnitak", "parse_alnitak_url"]


_COVER_STATES = {
    Status.COVER_NEITHER: CoverState.UNKNOWN,
    Status.COVER_CLOSED: CoverState.CLOSED,
    Status.COVER_OPEN: CoverState.OPEN,
    Status.COVER_TIMED_OUT: CoverState.ERROR,
}


def _serial_options(url: str) -> AlnitakOptions:
    options = parse_alnitak_url(url)
    if options.emulator is not None:
        raise ConfigError(f"{url_shown(url)}: alnitak+emulator:// is the simulators' scheme; open it with drivers.open")
    return options


def open_alnitak(url: str, ctx: OpenContext) -> AlnitakPanel:
    """Registry opener for `alnitak://` URLs (not connected yet)."""
    return AlnitakPanel(_serial_options(url), clock=ctx.clock)


def alnitak_facts(url: str) -> DeviceFacts:
    """A serial panel is real hardware; the URL is checked as opening it would (no port is opened)."""
    _serial_options(url)
    return DeviceFacts()


ALNITAK = SchemeFunctions(open_alnitak, alnitak_facts)
"""The `alnitak` scheme (the simulators add `alnitak+emulator`, which hands this driver an emulator's pty)."""


class _Emulator(Protocol):
    """What the driver needs of an in-process emulator: start it, find its pty, stop it."""

    path: str | None

    def start(self) -> object: ...

    def stop(self) -> None: ...


class AlnitakPanel:
    """A `drivers.base.FlatPanel` speaking the Alnitak serial protocol.

    Every exchange holds a lock, so two threads never interleave bytes on the wire.
    """

    def __init__(
        self, options: AlnitakOptions, *, clock: Clock | None = None, emulator: _Emulator | None = None
    ) -> None:
        self.options = options
        self._emulator = emulator
        self._clock: Clock = clock or SystemClock()
        self._line = SerialLine()
        self._lock = self._line.lock
        self._product: int | None = None
        self._firmware: int | None = None
        self._switched_at: float | None = None

    # -- identity -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        if self._product is None:
            return f"Alnitak panel on {self.options.port}"
        return (
            f"Alnitak {product_name(self._product)} (id {self._product:02d}, fw {self._firmware}) "
            f"on {self.options.port}"
        )

    @property
    def product_id(self) -> int | None:
        """The product id the device reported at connect (10, 15, 19, 98, 99), None before."""
        return self._product

    @property
    def firmware_version(self) -> int | None:
        return self._firmware

    @property
    def connected(self) -> bool:
        return self._line.is_open

    # -- connection -----------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the port and handshake: ping (product id), then firmware version."""
        with self._lock:
            if self._line.is_open:
                return
            if self._emulator is not None:
                self._emulator.start()
                self.options = replace(self.options, port=self._emulator.path or "", is_device_path=True)
            self._product = self._firmware = None  # a reconnect may find another device on the port
            self._line.open(self.options, self.name)
            try:
                self._product = self._exchange("P").product_id
                self._firmware = self._exchange("V").number()
            except Exception:
                self._line.close()
                self._product = self._firmware = None
                raise

    def disconnect(self) -> None:
        """Close the port; the light is left as it is (the sequencer switches it off first)."""
        with self._lock:
            self._line.close()
            if self._emulator is not None:
                self._emulator.stop()

    def _exchange(self, letter: str, value: int | None = None) -> Reply:
        return self._line.exchange(self.options, self.name, letter, value, product=self._product)

    def _require_port(self) -> None:
        self._line.require(self.name)

    # -- FlatPanel ------------------------------------------------------------------------------

    @property
    def brightness_range(self) -> tuple[int, int]:
        return (BRIGHTNESS_MIN, BRIGHTNESS_MAX)

    @property
    def has_cover(self) -> bool:
        """From the product id; False until connected (properties never raise: protocol checks read them)."""
        return self._product in COVER_PRODUCTS

    @property
    def has_light(self) -> bool:
        return self._product not in LIGHTLESS_PRODUCTS

    def status(self) -> Status:
        """The device's motor, light and cover state (`>S`)."""
        return decode_status(self._exchange("S"))

    def light_on(self, brightness: int) -> None:
        """Set the brightness, then switch the light on; refused while a Flip-Flat's cover is open."""
        if isinstance(brightness, bool) or not isinstance(brightness, int):
            raise InvalidValue(self.name, f"brightness must be an integer, not {brightness!r}")
        if not BRIGHTNESS_MIN <= brightness <= BRIGHTNESS_MAX:
            raise InvalidValue(self.name, f"brightness {brightness} outside {BRIGHTNESS_MIN}-{BRIGHTNESS_MAX}")
        with self._lock:
            self._require_port()
            if not self.has_light:
                raise NotSupported(self.name, "a Flip-Mask has no light")
            if self.has_cover:
                self._refuse_light_unless_closed()
            reply = self._exchange("B", brightness)
            if reply.number() != brightness:
                raise InvalidValue(
                    self.name,
                    f"asked for brightness {brightness}, the panel set {reply.number()}",
                    sent=f">B{brightness:03d}",
                    answered=reply.text,
                )
            self._exchange("L")
            self._switched_at = self._clock.now()
            after = self.status()
            if not after.light_on:
                sent = f">L{self.options.filler}"
                raise DeviceError(self.name, "the light did not come on", sent=sent, answered=_status_text(after))

    def _refuse_light_unless_closed(self) -> None:
        status = self.status()
        if status.motor_running or status.cover == Status.COVER_OPEN:
            where = "moving" if status.motor_running else "open"
            raise InvalidOperation(
                self.name,
                f"light refused: the cover is {where}; close it first (a Flip-Flat does not light up open)",
                answered=_status_text(status),
            )

    def light_off(self) -> None:
        with self._lock:
            self._require_port()
            if not self.has_light:
                return
            self._exchange("D")
            self._switched_at = self._clock.now()

    def light_state(self) -> LightState:
        self._require_port()
        if not self.has_light:
            return LightState.OFF
        if not self.status().light_on:
            return LightState.OFF
        switched = self._switched_at
        if switched is not None and self._clock.now() - switched < self.options.settle:
            return LightState.SETTLING
        return LightState.READY

    def brightness(self) -> int:
        return self._exchange("J").number()

    def open_cover(self) -> None:
        """Start opening (`>O`); returns at once, poll `cover_state` or call `wait_for_cover`."""
        self._move_cover("O")

    def close_cover(self) -> None:
        """Start closing (`>C`); returns at once."""
        self._move_cover("C")

    def _move_cover(self, letter: str) -> None:
        self._require_port()
        if not self.has_cover:
            raise NotSupported(self.name, f"a {product_name(self._product or 0)} has no cover")
        self._exchange(letter)

    def cover_state(self) -> CoverState:
        self._require_port()
        if not self.has_cover:
            return CoverState.NOT_PRESENT
        status = self.status()
        if status.motor_running:
            return CoverState.MOVING
        return _COVER_STATES[status.cover]

    def wait_for_cover(self, *, timeout: float = 30.0, poll: float = 0.25) -> CoverState:
        """Poll status on the injected clock until the motor stops; the cover's final state.

        Raises DeviceTimeout if the motor still runs after `timeout` seconds and DeviceError if the
        device reports that the move timed out (cover stuck).
        """
        last: list[Status] = []

        def stopped() -> bool:
            last[:] = [self.status()]
            return not last[0].motor_running

        self._require_port()
        if not self.has_cover:
            return CoverState.NOT_PRESENT
        if not wait_until(self._clock, stopped, timeout=timeout, poll=poll):
            raise DeviceTimeout(
                self.name, f"cover motor still running after {timeout:g} s", answered=_status_text(last[0])
            )
        state = _COVER_STATES[last[0].cover]
        if state is CoverState.ERROR:
            raise DeviceError(self.name, "the cover move timed out (stuck?)", answered=_status_text(last[0]))
        return state


def _status_text(status: Status) -> str:
    return (
        f"motor {'running' if status.motor_running else 'stopped'}, light {'on' if status.light_on else 'off'}, "
        f"cover {['neither open nor closed', 'closed', 'open', 'timed out'][status.cover]}"
    )
