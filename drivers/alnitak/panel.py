"""Alnitak Flip-Flat / Flat-Man / Flip-Mask flat panels over a serial line (pyserial).

URLs: `alnitak:///dev/ttyACM0` (a device path; `alnitak://COM3` on Windows) or any pyserial URL after a
`+`: `alnitak+socket://127.0.0.1:5000`, `alnitak+rfc2217://host:port`, `alnitak+loop://`. Query options
(stripped before the URL reaches pyserial): `baud` (9600), `timeout` (seconds per reply, 2), `retries`
(extra attempts after a bad or missing reply, 2), `eol` (lf|cr|crlf, the terminator we send, default
lf), `filler` (000|OOO, default 000), `settle` (seconds the light reports SETTLING after switching, 0).

Why LF and `000` by default: INDI's driver sends `>P000\\n` and has driven genuine Flip-Flats for years,
and the common Arduino clones read commands up to LF; the published spec's CR also works on genuine
units but makes those clones wait for their read timeout. Replies are accepted ending LF, CR LF or CR
and with either filler. Before every command the input is flushed, so a late or stray reply is never
mistaken for the next one; a bad reply flushes and retries, silence retries, then a `DeviceTimeout` or
`DeviceError` says what was sent and what came back. A vanished port closes the driver cleanly and
raises `DeviceDisconnected`.

`alnitak+emulator://?product=99` (emulator options: product, firmware, reply_eol, reply_filler,
motor_time, cover_jam, fault, fault_after, fault_count, slow_delay, seed) starts the Alnitak emulator
in-process on the run's simulated bench and drives it through a real pty with this same driver.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import replace
from typing import Any, Protocol

import serial
from serial.serialutil import Timeout

from drivers.alnitak.protocol import (
    BRIGHTNESS_MAX,
    BRIGHTNESS_MIN,
    COVER_PRODUCTS,
    LIGHTLESS_PRODUCTS,
    MalformedReply,
    Reply,
    Status,
    decode_reply,
    decode_status,
    encode_command,
    product_name,
    split_line,
)
from drivers.alnitak.url import AlnitakOptions, parse_alnitak_url
from drivers.base import CoverState, LightState
from drivers.clock import Clock, SystemClock, wait_until
from drivers.errors import (
    ConfigError,
    DeviceDisconnected,
    DeviceError,
    DeviceTimeout,
    InvalidOperation,
    InvalidValue,
    NotConnected,
    NotSupported,
)
from drivers.registry import OpenContext, SchemeFunctions

__all__ = ["AlnitakOptions", "AlnitakPanel", "open_alnitak", "parse_alnitak_url"]


try:  # pyserial's POSIX backend lets termios.error escape from flushes on a dead tty
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - Windows
    _PORT_ERRORS = (serial.SerialException, OSError)

_READ_SLICE = 0.05
"""Seconds one blocking read may take, so a reply deadline is kept to within this."""
_MAX_LINE = 64
"""A 'line' longer than this without a terminator is garbage, not a slow reply."""

_COVER_STATES = {
    Status.COVER_NEITHER: CoverState.UNKNOWN,
    Status.COVER_CLOSED: CoverState.CLOSED,
    Status.COVER_OPEN: CoverState.OPEN,
    Status.COVER_TIMED_OUT: CoverState.ERROR,
}


def open_alnitak(url: str, ctx: OpenContext) -> AlnitakPanel:
    """Registry opener for `alnitak://` URLs (not connected yet)."""
    options = parse_alnitak_url(url)
    if options.emulator is not None:
        raise ConfigError(f"{url!r}: alnitak+emulator:// is the simulators' scheme; open it with drivers.open")
    return AlnitakPanel(options, clock=ctx.clock)


ALNITAK = SchemeFunctions(open_alnitak)
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
        self._lock = threading.RLock()
        self._port: serial.Serial | None = None
        self._product: int | None = None
        self._firmware: int | None = None
        self._lost: str | None = None
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
        return self._port is not None

    # -- connection -----------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the port and handshake: ping (product id), then firmware version."""
        with self._lock:
            if self._port is not None:
                return
            if self._emulator is not None:
                self._emulator.start()
                self.options = replace(self.options, port=self._emulator.path or "", is_device_path=True)
            self._port = self._open_port()
            self._lost = None
            self._product = self._firmware = None  # a reconnect may find another device on the port
            try:
                self._product = self._exchange("P").product_id
                self._firmware = self._exchange("V").number()
            except Exception:
                self._close_port()
                self._product = self._firmware = None
                raise

    def disconnect(self) -> None:
        """Close the port; the light is left as it is (the sequencer switches it off first)."""
        with self._lock:
            self._close_port()
            if self._emulator is not None:
                self._emulator.stop()

    def _open_port(self) -> serial.Serial:
        opts = self.options
        kwargs: dict[str, Any] = {"baudrate": opts.baud, "timeout": min(_READ_SLICE, opts.timeout)}
        if opts.is_device_path:
            kwargs["exclusive"] = True  # a second program on the same panel would garble both
        try:
            port: serial.Serial = serial.serial_for_url(opts.port, do_not_open=True, **kwargs)
        except ValueError as exc:
            raise ConfigError(f"alnitak: bad port {opts.port!r}: {exc}") from None
        try:
            port.open()
        except _PORT_ERRORS as exc:
            raise DeviceError(self.name, f"cannot open {opts.port}: {_describe(exc)}") from None
        return port

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(*_PORT_ERRORS):
                port.close()

    # -- the wire -------------------------------------------------------------------------------

    def _exchange(self, letter: str, value: int | None = None) -> Reply:
        """Send one command and return its validated reply, retrying a bounded number of times."""
        with self._lock:
            port = self._require_port()
            frame = encode_command(letter, value, filler=self.options.filler, eol=self.options.eol)
            sent = frame.decode("ascii")
            last_answer: bytes | None = None
            last_problem = ""
            attempts = 1 + self.options.retries
            for _ in range(attempts):
                try:
                    port.reset_input_buffer()  # nothing left over may pass for this command's reply
                    port.write(frame)
                    port.flush()
                    line, partial = self._read_line(port)
                except _PORT_ERRORS as exc:
                    self._lost = _describe(exc)
                    self._close_port()
                    raise DeviceDisconnected(
                        self.name,
                        f"the port went away during {sent.strip()} ({self._lost}); unplugged? "
                        "The driver has closed it: connect again once the panel is back",
                    ) from None
                if line is None:
                    last_answer = partial or None
                    last_problem = "timeout"
                    continue
                try:
                    reply = decode_reply(line, letter)
                    if self._product is not None and reply.product_id != self._product:
                        raise MalformedReply(
                            f"product id {reply.product_id:02d} in {reply.text!r}, expected {self._product:02d}"
                        )
                except MalformedReply as exc:
                    last_answer = line
                    last_problem = str(exc)
                    continue
                return reply
            answered = None if last_answer is None else last_answer.decode("latin-1")
            if last_problem == "timeout":
                raise DeviceTimeout(
                    self.name,
                    f"no complete reply within {self.options.timeout:g} s, {attempts} attempt(s)",
                    sent=sent,
                    answered=answered,
                )
            raise DeviceError(
                self.name, f"no valid reply after {attempts} attempt(s): {last_problem}", sent=sent, answered=answered
            )

    def _read_line(self, port: serial.Serial) -> tuple[bytes | None, bytes]:
        """(line, b"") once a terminated line arrives, (None, bytes so far) when the deadline passes."""
        deadline = Timeout(self.options.timeout)
        buffer = b""
        while True:
            waiting = port.in_waiting
            chunk = port.read(max(1, min(waiting, _MAX_LINE)))
            buffer += chunk
            framed = split_line(buffer)
            if framed is not None:
                return framed[0], b""
            if len(buffer.strip(b"\r\n\x00")) > _MAX_LINE:
                return buffer, b""  # a runaway stream: hand it over as a (malformed) line
            if deadline.expired():
                return None, buffer.strip(b"\r\n\x00")

    def _require_port(self) -> serial.Serial:
        if self._port is None:
            why = f" (the port went away: {self._lost})" if self._lost else ""
            raise NotConnected(self.name, f"not connected{why}; call connect() first")
        return self._port

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
                    self.name, f"asked for brightness {brightness}, the panel set {reply.number()}",
                    sent=f">B{brightness:03d}", answered=reply.text,
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


def _describe(exc: BaseException) -> str:
    """pyserial and termios errors carry (errno, text) tuples; say what the errno means."""
    if len(exc.args) == 2 and isinstance(exc.args[0], int):
        return os.strerror(exc.args[0])
    return str(exc) or type(exc).__name__


def _status_text(status: Status) -> str:
    return (
        f"motor {'running' if status.motor_running else 'stopped'}, light {'on' if status.light_on else 'off'}, "
        f"cover {['neither open nor closed', 'closed', 'open', 'timed out'][status.cover]}"
    )
