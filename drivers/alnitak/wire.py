"""The serial line to an Alnitak device: one command, one validated reply, with bounded retries.

Before every command the input is flushed, so a late or stray reply is never mistaken for the next one; a
bad reply flushes and retries, silence retries, then a `DeviceTimeout` or `DeviceError` says what was sent
and what came back. A vanished port closes the line and raises `DeviceDisconnected`. Every exchange holds a
lock, so two threads never interleave bytes on the wire.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import serial
from serial.serialutil import Timeout

from drivers.alnitak.protocol import MalformedReply, Reply, decode_reply, encode_command, split_line
from drivers.alnitak.url import AlnitakOptions
from drivers.errors import ConfigError, DeviceDisconnected, DeviceError, DeviceTimeout, NotConnected

try:  # pyserial's POSIX backend lets termios.error escape from flushes on a dead tty
    import termios

    PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # pragma: no cover - Windows
    PORT_ERRORS = (serial.SerialException, OSError)

READ_SLICE = 0.05
"""Seconds one blocking read may take, so a reply deadline is kept to within this."""
MAX_LINE = 64
"""A 'line' longer than this without a terminator is garbage, not a slow reply."""


class SerialLine:
    """An open (or closed) port to one device; `name` says whose it is in error messages."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._port: serial.Serial | None = None
        self._lost: str | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self, options: AlnitakOptions, name: str) -> None:
        kwargs: dict[str, Any] = {"baudrate": options.baud, "timeout": min(READ_SLICE, options.timeout)}
        if options.is_device_path:
            kwargs["exclusive"] = True  # a second program on the same panel would garble both
        try:
            port: serial.Serial = serial.serial_for_url(options.port, do_not_open=True, **kwargs)
        except ValueError as exc:
            raise ConfigError(f"alnitak: bad port {options.port!r}: {exc}") from None
        try:
            port.open()
        except PORT_ERRORS as exc:
            raise DeviceError(name, f"cannot open {options.port}: {describe(exc)}") from None
        self._port, self._lost = port, None

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(*PORT_ERRORS):
                port.close()

    def require(self, name: str) -> serial.Serial:
        if self._port is None:
            why = f" (the port went away: {self._lost})" if self._lost else ""
            raise NotConnected(name, f"not connected{why}; call connect() first")
        return self._port

    def exchange(
        self, options: AlnitakOptions, name: str, letter: str, value: int | None = None, product: int | None = None
    ) -> Reply:
        """Send one command and return its validated reply (from `product`, once known), retrying a bounded
        number of times."""
        with self.lock:
            port = self.require(name)
            frame = encode_command(letter, value, filler=options.filler, eol=options.eol)
            sent = frame.decode("ascii")
            last_answer: bytes | None = None
            last_problem = ""
            attempts = 1 + options.retries
            for _ in range(attempts):
                line, partial = self._send(port, frame, options.timeout, name, sent)
                if line is None:
                    last_answer, last_problem = partial or None, "timeout"
                    continue
                try:
                    reply = decode_reply(line, letter)
                    if product is not None and reply.product_id != product:
                        raise MalformedReply(
                            f"product id {reply.product_id:02d} in {reply.text!r}, expected {product:02d}"
                        )
                except MalformedReply as exc:
                    last_answer, last_problem = line, str(exc)
                    continue
                return reply
            answered = None if last_answer is None else last_answer.decode("latin-1")
            if last_problem == "timeout":
                raise DeviceTimeout(
                    name,
                    f"no complete reply within {options.timeout:g} s, {attempts} attempt(s)",
                    sent=sent,
                    answered=answered,
                )
            raise DeviceError(
                name, f"no valid reply after {attempts} attempt(s): {last_problem}", sent=sent, answered=answered
            )

    def _send(
        self, port: serial.Serial, frame: bytes, timeout: float, name: str, sent: str
    ) -> tuple[bytes | None, bytes]:
        try:
            port.reset_input_buffer()  # nothing left over may pass for this command's reply
            port.write(frame)
            port.flush()
            return read_line(port, timeout)
        except PORT_ERRORS as exc:
            self._lost = describe(exc)
            self.close()
            raise DeviceDisconnected(
                name,
                f"the port went away during {sent.strip()} ({self._lost}); unplugged? "
                "The driver has closed it: connect again once the panel is back",
            ) from None


def read_line(port: serial.Serial, timeout: float) -> tuple[bytes | None, bytes]:
    """(line, b"") once a terminated line arrives, (None, bytes so far) when the deadline passes."""
    deadline = Timeout(timeout)
    buffer = b""
    while True:
        waiting = port.in_waiting
        chunk = port.read(max(1, min(waiting, MAX_LINE)))
        buffer += chunk
        framed = split_line(buffer)
        if framed is not None:
            return framed[0], b""
        if len(buffer.strip(b"\r\n\x00")) > MAX_LINE:
            return buffer, b""  # a runaway stream: hand it over as a (malformed) line
        if deadline.expired():
            return None, buffer.strip(b"\r\n\x00")


def describe(exc: BaseException) -> str:
    """pyserial and termios errors carry (errno, text) tuples; say what the errno means."""
    if len(exc.args) == 2 and isinstance(exc.args[0], int):
        return os.strerror(exc.args[0])
    return str(exc) or type(exc).__name__
