"""The Alpaca transport: one device's HTTP calls, each bounded by a timeout, errors as DeviceErrors.

Done with the standard library rather than alpyca because alpyca's defects get in the way here:
one class-wide lock is held across every HTTP round trip of every device (a camera download stalls
the panel), timeouts are fixed at 5 s per call and absent on image downloads, network failures
leak out as `requests` exceptions, and an error inside an ImageBytes response raises AttributeError.
This transport keeps one keep-alive connection and one lock per device, maps every failure to the
`drivers.errors` hierarchy (ASCOM error numbers carried in `code`), and streams images with both a
per-read timeout and an overall download deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlencode

from drivers.alpaca.errors import HttpStatusError, ascom_error
from drivers.alpaca.imagebytes import (
    HEADER_SIZE,
    MIME_TYPE,
    ImageBytesHeader,
    ImageFormatError,
    decode_pixels,
    read_exactly,
)
from drivers.alpaca.jsonimage import decode_json_image
from drivers.base import Frame
from drivers.clock import Clock, SystemClock
from drivers.errors import DeviceDisconnected, DeviceError, DeviceTimeout

USER_AGENT = "flatseq-alpaca/1"
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class AlpacaAddress:
    """Where one ASCOM device lives: host, port, device type (lower case) and device number."""

    host: str
    port: int
    device_type: str
    device_number: int

    def path(self, member: str) -> str:
        return f"/api/v1/{self.device_type}/{self.device_number}/{member}"

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def describe(self) -> str:
        return f"Alpaca {self.device_type} {self.device_number} at {self.netloc}"


@dataclass(frozen=True)
class TransportOptions:
    """Time limits (seconds) and identity of one transport."""

    timeout: float = 5.0
    """Per HTTP call, and per read during an image download."""
    download_timeout: float = 120.0
    """Whole image download."""
    client_id: int | None = None
    """ClientID sent with every call; None: derived from the process id."""
    chunk_bytes: int = 8 * 1024 * 1024


class AlpacaTransport:
    """HTTP calls to one Alpaca device. Thread-safe: calls on one device are serialised, devices are not."""

    def __init__(self, address: AlpacaAddress, options: TransportOptions | None = None, *, clock: Clock | None = None):
        self.address = address
        self.options = options or TransportOptions()
        self.label = address.describe()
        """How errors name the device; the driver adds the device's Name once connected."""
        self._clock = clock or SystemClock()
        cid = self.options.client_id
        if cid is None:
            cid = (os.getpid() & 0xFFFF) or 1
        self._client_id = cid
        self._lock = threading.Lock()
        self._next_transaction = 1
        self._conn: http.client.HTTPConnection | None = None
        self._reused = False

    # ---- public calls -------------------------------------------------------------------------

    def get(self, member: str, **params: object) -> Any:
        """GET a property; returns its Value."""
        return self._call("GET", member, params)

    def put(self, member: str, **params: object) -> Any:
        """PUT a property or call a method; returns its Value (None for most methods)."""
        return self._call("PUT", member, params)

    def management(self, path: str) -> Any:
        """GET /management/{path}, e.g. "apiversions" or "v1/configureddevices"; returns its Value."""
        with self._lock:
            tid = self._transaction()
            query = urlencode({"ClientID": self._client_id, "ClientTransactionID": tid})
            sent = f"GET /management/{path}"
            response = self._request("GET", f"/management/{path}?{query}", None, {"Accept": "application/json"}, sent)
            return self._json_value(response, tid, sent)

    def image(
        self, member: str = "imagearray", *, imagebytes: bool = True, expected: tuple[int, int] | None = None
    ) -> Frame:
        """Download the last image as (rows, cols) uint16, as ImageBytes when the server offers it.

        `expected` is (NumX, NumY) for the JSON fallback, which then fills one preallocated frame.
        """
        with self._lock:
            tid = self._transaction()
            query = urlencode({"ClientID": self._client_id, "ClientTransactionID": tid})
            accept = f"{MIME_TYPE}, application/json;q=0.9" if imagebytes else "application/json"
            sent = f"GET {member}"
            # servers build the whole image before the first byte: wait for it up to the download limit,
            # then every read must come within the normal timeout (a stalled transfer is noticed quickly)
            deadline = self._clock.now() + self.options.download_timeout
            target = f"{self.address.path(member)}?{query}"
            response = self._request("GET", target, None, {"Accept": accept}, sent, wait=self.options.download_timeout)
            try:
                frame = self._read_image(response, tid, sent, expected, deadline)
            except BaseException:
                self._drop_connection()  # a half-read response leaves the connection unusable
                raise
            return frame

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    # ---- internals ----------------------------------------------------------------------------

    def _transaction(self) -> int:
        tid = self._next_transaction
        self._next_transaction = tid + 1 if tid < 0xFFFFFFFF else 1
        return tid

    def _call(self, method: str, member: str, params: Mapping[str, object]) -> Any:
        with self._lock:
            tid = self._transaction()
            fields = {name: _format(value) for name, value in params.items()}
            sent = f"{method} {member}" + ("" if not fields else " " + " ".join(f"{k}={v}" for k, v in fields.items()))
            ids = {"ClientID": str(self._client_id), "ClientTransactionID": str(tid)}
            headers = {"Accept": "application/json"}
            if method == "GET":
                target = f"{self.address.path(member)}?{urlencode({**ids, **fields})}"
                body = None
            else:
                target = self.address.path(member)
                body = urlencode({**fields, **ids}).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = self._request(method, target, body, headers, sent)
            return self._json_value(response, tid, sent)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.address.host, self.address.port, timeout=self.options.timeout)
            self._reused = False
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _request(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        sent: str,
        *,
        wait: float | None = None,
    ) -> http.client.HTTPResponse:
        """Send one request; a keep-alive connection the server already closed is reopened once.

        `wait`: seconds allowed for the response to start, when longer than the per-read timeout.
        """
        headers = {"User-Agent": USER_AGENT, **headers}
        for attempt in (1, 2):
            conn = self._connection()
            stale_possible = self._reused
            try:
                conn.request(method, target, body=body, headers=headers)
                if wait is not None and conn.sock is not None:
                    conn.sock.settimeout(wait)
                response = conn.getresponse()
                if wait is not None and conn.sock is not None:
                    conn.sock.settimeout(self.options.timeout)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop_connection()
                if stale_possible and attempt == 1:
                    continue
                self._fail(exc, sent)
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                self._fail(exc, sent, waited=wait)
            self._reused = True
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, exc: BaseException, sent: str, *, waited: float | None = None) -> NoReturn:
        """Map a network failure to the error a user can act on."""
        where = self.address.netloc
        if isinstance(exc, ConnectionRefusedError):
            raise DeviceDisconnected(
                self.label, f"no Alpaca server answers at {where} (connection refused)", sent=sent
            ) from None
        if isinstance(exc, socket.gaierror):
            raise DeviceDisconnected(
                self.label, f"cannot resolve host {self.address.host!r} ({exc.strerror})", sent=sent
            ) from None
        if isinstance(exc, TimeoutError | socket.timeout):
            raise DeviceTimeout(
                self.label, f"no answer from {where} within {waited or self.options.timeout:g} s", sent=sent
            ) from None
        if isinstance(
            exc, http.client.RemoteDisconnected | ConnectionResetError | BrokenPipeError | http.client.IncompleteRead
        ):
            raise DeviceDisconnected(self.label, f"the server at {where} closed the connection", sent=sent) from None
        if isinstance(exc, http.client.HTTPException):
            raise DeviceError(
                self.label, f"the server at {where} did not answer in HTTP ({exc!r})", sent=sent
            ) from None
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DeviceTimeout(self.label, f"cannot reach {where} ({reason})", sent=sent) from None

    def _read_body(self, response: http.client.HTTPResponse, sent: str, limit: int | None = None) -> bytes:
        try:
            return response.read() if limit is None else response.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            self._fail(exc, sent)

    def _check_status(self, response: http.client.HTTPResponse, sent: str) -> None:
        if response.status == 200:
            return
        text = self._read_body(response, sent, _ERROR_BODY_LIMIT).decode("utf-8", "replace").strip()
        if not response.isclosed():  # more than an error text: this connection is out of step
            self._drop_connection()
        reason = {400: "rejected the request", 404: "has no such path", 500: "failed inside the server"}.get(
            response.status, "answered"
        )
        raise HttpStatusError(
            self.label,
            f"the server {reason} (HTTP {response.status})",
            status=response.status,
            sent=sent,
            answered=text or response.reason,
        )

    def _json_value(self, response: http.client.HTTPResponse, tid: int, sent: str) -> Any:
        self._check_status(response, sent)
        body = self._read_body(response, sent)
        try:
            payload = json.loads(body)
        except ValueError:
            raise DeviceError(
                self.label,
                "answered something that is not JSON",
                sent=sent,
                answered=body[:200].decode("utf-8", "replace"),
            ) from None
        if not isinstance(payload, dict):
            raise DeviceError(
                self.label,
                "answered JSON that is not an Alpaca response object",
                sent=sent,
                answered=body[:200].decode("utf-8", "replace"),
            )
        self._check_envelope(payload, tid, sent)
        return payload.get("Value")

    def _check_envelope(self, payload: Mapping[str, Any], tid: int, sent: str) -> None:
        number = payload.get("ErrorNumber", 0) or 0
        message = payload.get("ErrorMessage", "") or ""
        if not isinstance(number, int):
            raise DeviceError(self.label, "answered a non-numeric ErrorNumber", sent=sent, answered=repr(number))
        if number != 0:
            raise ascom_error(self.label, number, str(message), sent=sent)
        if str(message).strip():  # the Alpaca client rule: a message alone also reports a failure
            raise DeviceError(self.label, "reported an error with ErrorNumber 0", sent=sent, answered=str(message))
        echoed = payload.get("ClientTransactionID", 0)
        if isinstance(echoed, int) and echoed not in (0, tid):
            raise DeviceError(self.label, f"answered transaction {echoed} to request {tid}", sent=sent)

    def _read_image(
        self, response: http.client.HTTPResponse, tid: int, sent: str, expected: tuple[int, int] | None, deadline: float
    ) -> Frame:
        self._check_status(response, sent)

        def on_chunk() -> None:
            if self._clock.now() > deadline:
                raise DeviceTimeout(
                    self.label, f"image download took longer than {self.options.download_timeout:g} s", sent=sent
                )

        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if content_type == MIME_TYPE:
                return self._read_imagebytes(response, tid, sent, on_chunk)
            if content_type in ("application/json", "text/json", ""):
                result = decode_json_image(response.read, expected=expected, on_chunk=on_chunk)
                self._check_envelope(result.envelope, tid, sent)
                if result.frame is None:
                    raise DeviceError(self.label, "answered an ImageArray without an image", sent=sent)
                return result.frame
        except ImageFormatError as exc:
            raise DeviceError(self.label, str(exc), sent=sent) from None
        except (OSError, http.client.HTTPException) as exc:
            self._fail(exc, sent)
        raise DeviceError(self.label, f"answered the image as {content_type!r}, neither ImageBytes nor JSON", sent=sent)

    def _read_imagebytes(
        self, response: http.client.HTTPResponse, tid: int, sent: str, on_chunk: Callable[[], None]
    ) -> Frame:
        raw = bytearray(HEADER_SIZE)
        read_exactly(response.readinto, memoryview(raw), what="ImageBytes header")
        header = ImageBytesHeader.unpack(bytes(raw))
        if header.data_start > HEADER_SIZE:
            skip = bytearray(header.data_start - HEADER_SIZE)
            read_exactly(response.readinto, memoryview(skip), what="ImageBytes header")
        if header.error_number != 0:
            message = response.read(_ERROR_BODY_LIMIT).decode("utf-8", "replace")
            raise ascom_error(self.label, header.error_number, message, sent=sent)
        if header.client_transaction_id not in (0, tid):
            raise DeviceError(
                self.label, f"answered transaction {header.client_transaction_id} to request {tid}", sent=sent
            )
        frame = decode_pixels(response.readinto, header, chunk_bytes=self.options.chunk_bytes, on_chunk=on_chunk)
        if not response.isclosed():  # the end of a chunked body, or bytes past the pixels
            response.read(_ERROR_BODY_LIMIT)
            if not response.isclosed():
                self._drop_connection()
        return frame


def _format(value: object) -> str:
    """Alpaca parameter text: booleans as true/false, numbers with a '.' decimal point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
