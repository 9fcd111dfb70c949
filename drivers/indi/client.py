"""The INDI client: one TCP connection to an INDI server for one device, a reader thread keeping the latest
state of each of its properties, and bounded waits for what the device does next.

Our own small client rather than indipyclient: the drivers above are synchronous and bounded (a call returns
within its timeout, on the run's injected clock), and a camera image has to go from the socket into its frame
without the parser holding 160 MB of base64 (see `stream`). indipyclient's asyncio loop, its own timers and
its whole-BLOB strings would have to be wrapped and worked around for both; the protocol needs ~300 lines.

Waits are bounded twice: on the injected clock (a VirtualClock moved by another thread ends them) and in
real time, with a condition variable's timeout (the server is a real process: a silent one is noticed after
`timeout` real seconds, as a socket timeout would notice it).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable

from drivers.clock import Clock
from drivers.errors import DeviceDisconnected, DeviceError, DeviceTimeout
from drivers.indi import vectors
from drivers.indi.stream import Blob, ElementStream, StreamError
from drivers.indi.vectors import Vector

RECV_BYTES = 4 * 1024 * 1024
MESSAGES_KEPT = 20


class IndiClient:
    """One device on one INDI server. Thread-safe: the reader thread updates, callers read and wait."""

    def __init__(self, host: str, port: int, device: str, *, clock: Clock, timeout: float) -> None:
        self.host = host
        self.port = port
        self.device = device
        self.clock = clock
        self.timeout = timeout
        self.vectors: dict[str, Vector] = {}
        self.devices_seen: set[str] = set()
        self.messages: deque[tuple[int, str]] = deque(maxlen=MESSAGES_KEPT)
        self.seq = 0
        """Messages received so far; every vector remembers the number of the last one that touched it."""
        self.defined = 0
        """Sequence number of the last property definition (a burst of them ends when this stops moving)."""
        self.blobs: dict[str, tuple[int, Blob]] = {}
        self.wanted_blobs: set[str] = set()
        self.lost: str | None = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- the connection -----------------------------------------------------------------------

    def open(self) -> None:
        """Connect and ask for the device's properties; DeviceDisconnected if no server answers."""
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except ConnectionRefusedError:
            raise DeviceDisconnected(
                self.device, f"no INDI server answers at {self.where} (connection refused)"
            ) from None
        except socket.gaierror as exc:
            raise DeviceDisconnected(self.device, f"cannot resolve host {self.host!r} ({exc.strerror})") from None
        except OSError as exc:
            raise DeviceTimeout(self.device, f"cannot reach the INDI server at {self.where} ({exc})") from None
        sock.settimeout(None)  # the reader blocks; silence is noticed by the waits, not by the socket
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._cond:
            self._sock, self.lost = sock, None
        self._reader = threading.Thread(target=self._read, name=f"indi-reader {self.device}", daemon=True)
        self._reader.start()
        self.send(vectors.get_properties(self.device), what="getProperties")

    def list_devices(self, quiet: float) -> list[str]:
        """The devices the server has, from a getProperties on a connection of its own (indiserver answers only
        one getProperties scope per connection); read until the server is quiet for `quiet` s."""
        found: set[str] = set()
        stream = ElementStream(lambda *_: False)
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(vectors.get_properties())
                sock.settimeout(quiet)
                for _ in range(1000):
                    data = sock.recv(RECV_BYTES)
                    if not data:
                        break
                    found.update(r.element.attrib.get("device", "") for r in stream.feed(data))
        except (OSError, StreamError):
            pass
        return sorted(found - {""})

    def close(self) -> None:
        with self._cond:
            sock, self._sock = self._sock, None
            if self.lost is None:
                self.lost = "closed"
            self._cond.notify_all()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=5)
        self._reader = None

    def send(self, data: bytes, *, what: str) -> int:
        """Send one message; the sequence number replies to it will be newer than."""
        with self._cond:
            sock, seq = self._sock, self.seq
            if sock is None or self.lost is not None:
                raise self.disconnected(what)
        with self._send_lock:
            try:
                sock.sendall(data)
            except OSError:
                raise self.disconnected(what) from None
        return seq

    def disconnected(self, what: str) -> DeviceDisconnected:
        reason = self.lost if self.lost not in (None, "closed") else "the connection is closed"
        return DeviceDisconnected(self.device, f"the INDI server at {self.where} is gone ({reason})", sent=what)

    # ---- state and waits ----------------------------------------------------------------------

    def vector(self, name: str) -> Vector | None:
        with self._cond:
            return self.vectors.get(name)

    def wait(self, done: Callable[[], bool], timeout: float, *, what: str, sent: str | None = None) -> None:
        """Wait until `done()` (called under the lock) is true; DeviceTimeout after `timeout` s (on the clock,
        or in real time, whichever ends first), DeviceDisconnected when the server goes away."""
        deadline = self.clock.now() + timeout
        with self._cond:
            self._cond.wait_for(
                lambda: done() or self.lost is not None or self.clock.now() >= deadline, timeout=max(timeout, 0.0)
            )
            if done():
                return
            if self.lost is not None:
                raise self.disconnected(sent or what)
        raise DeviceTimeout(
            self.device, f"{what}: no answer from the INDI server at {self.where} in {timeout:g} s", sent=sent
        )

    def news(self, seconds: float, name: str) -> None:
        """Wait up to `seconds` (real time) for the next update of vector `name` (or a BLOB of it): a poll of
        something Busy waits here briefly, so the poller sees the device's next step at once instead of
        spinning (and a run on a VirtualClock does not race ahead of the real device)."""
        with self._cond:
            seq = self.seq

            def arrived() -> bool:
                vector, blob = self.vectors.get(name), self.blobs.get(name)
                newer = (vector is not None and vector.updated > seq) or (blob is not None and blob[0] > seq)
                return newer or self.lost is not None

            self._cond.wait_for(arrived, timeout=seconds)

    def news_of_definition(self, seconds: float, last: int) -> None:
        """Wait up to `seconds` (real time) for a property definition newer than `last`."""
        with self._cond:
            self._cond.wait_for(lambda: self.defined != last or self.lost is not None, timeout=seconds)
            if self.lost is not None:
                raise self.disconnected("getProperties")

    def take_blob(self, key: str, after: int) -> Blob | None:
        """The BLOB of vector `key` if one newer than message `after` has come, handed over (not kept here)."""
        with self._cond:
            entry = self.blobs.get(key)
            if entry is None or entry[0] <= after:
                return None
            del self.blobs[key]
            return entry[1]

    def blob_after(self, key: str, after: int) -> bool:
        with self._cond:
            entry = self.blobs.get(key)
            return entry is not None and entry[0] > after

    def message_after(self, seq: int) -> str:
        """The device's last `<message>` newer than `seq` ("" if none)."""
        with self._cond:
            for number, text in reversed(self.messages):
                if number > seq:
                    return text
            return ""

    # ---- the reader thread --------------------------------------------------------------------

    def _want_blob(self, device: str, vector: str, member: str) -> bool:
        return device == self.device and vector in self.wanted_blobs

    def _read(self) -> None:
        stream = ElementStream(self._want_blob)
        sock = self._sock
        reason = "the server closed the connection"
        try:
            while sock is not None:
                data = sock.recv(RECV_BYTES)
                if not data:
                    break
                for received in stream.feed(data):
                    self._handle(received.element, received.blobs)
        except StreamError as exc:
            reason = f"it sent something that is not INDI ({exc})"
        except OSError as exc:
            reason = f"the connection failed ({exc.strerror or exc})"
        except DeviceError as exc:
            reason = exc.message
        with self._cond:
            if self.lost is None:
                self.lost = reason
            self._cond.notify_all()

    def _handle(self, element: ET.Element, blobs: list[Blob]) -> None:
        device = element.attrib.get("device", "")
        with self._cond:
            self.seq += 1
            seq = self.seq
            if device:
                self.devices_seen.add(device)
            if device == self.device:
                self._apply(element, blobs, seq)
            self._cond.notify_all()

    def _apply(self, element: ET.Element, blobs: list[Blob], seq: int) -> None:
        tag = element.tag
        if tag == "message":
            text = element.attrib.get("message", "").strip()
            if text:
                self.messages.append((seq, text))
            return
        if tag == "delProperty":
            name = element.attrib.get("name")
            if name:
                self.vectors.pop(name, None)
            else:
                self.vectors.clear()
            return
        kind = vectors.element_kind(tag)
        if kind is None:
            return
        verb, type_name = kind
        try:
            if verb == "def":
                vector = vectors.define(element, type_name, seq)
                self.vectors[vector.name] = vector
                self.defined = seq
            elif verb == "set" and element.attrib.get("name") in self.vectors:
                vectors.update(self.vectors[element.attrib["name"]], element, seq)
        except ValueError as exc:
            raise DeviceError(self.device, f"sent a malformed {tag} ({exc})") from None
        message = element.attrib.get("message", "").strip()
        if message:
            self.messages.append((seq, message))
        for blob in blobs:  # the newest image of each BLOB vector, until the camera takes it
            self.blobs[element.attrib.get("name", "")] = (seq, blob)
