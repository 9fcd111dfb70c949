"""Routing of the simulator's Alpaca server: paths to devices and members, management API, setup page.

Independent of the HTTP plumbing: `AlpacaApp.handle(method, target, headers, body)` returns a
`Response` whose body may be a stream (images). Every invalid URL, method or parameter gets HTTP
400 with a text reason, as the Alpaca API Reference (section 2.5) prescribes; calls on one device
are serialised so the simulated devices never see two requests at once.
"""

from __future__ import annotations

import html
import json
import sys
import threading
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from drivers.alpaca.imagebytes import MIME_TYPE, error_payload, frame_header, iter_pixel_chunks
from drivers.alpaca.jsonimage import encode_json_image
from drivers.base import Frame
from drivers.errors import DeviceError, quoted
from simulators.alpaca.common import DRIVER_VERSION
from simulators.alpaca.protocol import (
    NOT_CONNECTED,
    AlpacaDevice,
    AlpacaError,
    BadRequest,
    ImageValue,
    Members,
    bind,
    client_ids,
    envelope,
    from_device_error,
)

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
_IMAGE_MEMBERS = ("imagearray", "imagearrayvariant")


@dataclass
class Response:
    status: int
    content_type: str
    length: int
    chunks: Iterable[bytes | memoryview]

    @classmethod
    def text(cls, status: int, message: str) -> Response:
        data = message.encode("utf-8")
        return cls(status, TEXT_TYPE, len(data), (data,))

    @classmethod
    def json(cls, body: Any) -> Response:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return cls(200, JSON_TYPE, len(data), (data,))


class AlpacaApp:
    """Alpaca device and management API over a set of simulated devices."""

    def __init__(
        self,
        devices: Sequence[AlpacaDevice],
        *,
        server_name: str = "flatseq simulated bench",
        location: str = "simulated",
        unique_seed: str = "flatseq",
    ) -> None:
        self._devices = {(d.device_type, d.device_number): d for d in devices}
        self._members: dict[tuple[str, int], Members] = {key: d.members() for key, d in self._devices.items()}
        self._locks = {key: threading.Lock() for key in self._devices}
        self._server_name = server_name
        self._location = location
        self.unique_seed = unique_seed
        self._transaction = 0
        self._transaction_lock = threading.Lock()

    def _next_transaction(self) -> int:
        with self._transaction_lock:
            self._transaction = self._transaction + 1 if self._transaction < 0xFFFFFFFF else 1
            return self._transaction

    def configured_devices(self) -> list[dict[str, Any]]:
        return [
            {
                "DeviceName": device.name,
                "DeviceType": device.display_type,
                "DeviceNumber": device.device_number,
                "UniqueID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"flatseq-sim/{self.unique_seed}/{key[0]}/{key[1]}")),
            }
            for key, device in sorted(self._devices.items())
        ]

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        try:
            parts = urlsplit(target)
        except ValueError:  # e.g. an unclosed '[' in what would be a host
            return Response.text(400, f"{quoted(target)} is not a request path")
        path = parts.path
        if path.startswith("/api/"):
            return self._device_call(method, path, parts.query, headers, body)
        if path.startswith("/management/"):
            return self._management(method, path, parts.query)
        if method == "GET" and (path in ("/", "/setup") or path.startswith("/setup/")):
            return self._setup_page()
        return Response.text(400, f"{method} {path} is not an Alpaca request (paths start /api/v1/ or /management/)")

    # ---- device API ---------------------------------------------------------------------------

    def _device_call(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Response:
        segments = path.split("/")
        if len(segments) != 6:
            return Response.text(
                400, f"{path}: Alpaca device paths are /api/v1/{{device_type}}/{{device_number}}/{{member}}"
            )
        version, device_type, number, member = segments[2:]
        if version != "v1":
            return Response.text(400, f"{path}: API version {version!r} is not supported (this server speaks v1)")
        if not (number.isascii() and number.isdigit() and len(number) <= 9):
            return Response.text(400, f"{path}: device number {quoted(number)} is not a non-negative integer")
        key = (device_type, int(number))
        device = self._devices.get(key)
        if device is None:
            return Response.text(
                400, f"{path}: there is no {device_type} {number} here (see /management/v1/configureddevices)"
            )
        if method not in ("GET", "PUT"):
            return Response.text(400, f"{path}: HTTP {method} is not an Alpaca verb (GET or PUT)")
        members = self._members[key]
        spec = members.get((method, member))
        if spec is None:
            other = "PUT" if method == "GET" else "GET"
            if (other, member) in members:
                return Response.text(400, f"{path}: {member} is called with {other}, not {method}")
            return Response.text(400, f"{path}: {member!r} is not a {device.display_type} member")
        exact = method == "PUT"
        raw = dict(parse_qsl(query if method == "GET" else body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            _, client_transaction = client_ids(raw, exact_case=exact)
            values = bind(spec, raw, exact_case=exact)
        except BadRequest as exc:
            return Response.text(400, f"{path}: {exc}")
        server_transaction = self._next_transaction()
        image_bytes = MIME_TYPE in headers.get("accept", "").lower()
        error: AlpacaError | None = None
        value: Any = None
        with self._locks[key]:
            try:
                if spec.needs_connection and not device.is_connected():
                    raise AlpacaError(NOT_CONNECTED, f"{device.name} is not connected")
                value = spec.handler(**values)
            except AlpacaError as exc:
                error = exc
            except DeviceError as exc:
                error = from_device_error(exc)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                return Response.text(500, f"{path}: the simulator failed: {exc!r}")
        ids = {"client_transaction_id": client_transaction, "server_transaction_id": server_transaction}
        if error is not None:
            if member in _IMAGE_MEMBERS and image_bytes:
                data = error_payload(error.number, error.message, **ids)
                return Response(200, MIME_TYPE, len(data), (data,))
            return Response.json(
                envelope(
                    None,
                    error=error,
                    client_transaction_id=client_transaction,
                    server_transaction_id=server_transaction,
                )
            )
        if isinstance(value, ImageValue):
            return self._image(value, image_bytes, **ids)
        return Response.json(
            envelope(value, client_transaction_id=client_transaction, server_transaction_id=server_transaction)
        )

    @staticmethod
    def _image(
        value: ImageValue, image_bytes: bool, *, client_transaction_id: int, server_transaction_id: int
    ) -> Response:
        frame = value.frame
        if image_bytes:
            header = frame_header(
                frame, client_transaction_id=client_transaction_id, server_transaction_id=server_transaction_id
            ).pack()
            return Response(200, MIME_TYPE, len(header) + frame.size * 2, _lazy(header, frame))
        length, text = encode_json_image(
            frame, client_transaction_id=client_transaction_id, server_transaction_id=server_transaction_id
        )
        return Response(200, JSON_TYPE, length, text)

    # ---- management API -----------------------------------------------------------------------

    def _management(self, method: str, path: str, query: str) -> Response:
        if method != "GET":
            return Response.text(400, f"{path}: the management API is GET only")
        try:
            _, client_transaction = client_ids(dict(parse_qsl(query, keep_blank_values=True)), exact_case=False)
        except BadRequest as exc:
            return Response.text(400, f"{path}: {exc}")
        value: Any
        if path == "/management/apiversions":
            value = [1]
        elif path == "/management/v1/description":
            value = {
                "ServerName": self._server_name,
                "Manufacturer": "flatseq",
                "ManufacturerVersion": DRIVER_VERSION,
                "Location": self._location,
            }
        elif path == "/management/v1/configureddevices":
            value = self.configured_devices()
        else:
            return Response.text(400, f"{path} is not a management API path")
        return Response.json(
            envelope(value, client_transaction_id=client_transaction, server_transaction_id=self._next_transaction())
        )

    def _setup_page(self) -> Response:
        rows = "".join(
            f"<li>{html.escape(d['DeviceType'])} {d['DeviceNumber']}: {html.escape(d['DeviceName'])}</li>"
            for d in self.configured_devices()
        )
        page = (
            f"<!DOCTYPE html><html><head><title>{html.escape(self._server_name)}</title></head><body>"
            f"<h1>{html.escape(self._server_name)}</h1><p>flatseq {DRIVER_VERSION}: simulated flat-field bench "
            f"served over ASCOM Alpaca. Nothing to configure.</p><ul>{rows}</ul></body></html>"
        ).encode()
        return Response(200, "text/html; charset=utf-8", len(page), (page,))


def _lazy(header: bytes, frame: Frame) -> Iterator[bytes | memoryview]:
    """Header, then column blocks produced only as the socket takes them."""
    yield header
    yield from iter_pixel_chunks(frame)
