"""An ASCOM Alpaca server for the simulated bench: `flatseq sim alpaca --port 11111`.

Serves the bench's camera (camera/0), flat panel (covercalibrator/0) and filter wheel
(filterwheel/0) on 127.0.0.1 by default, so flatseq's own Alpaca drivers are tested end to end and
any Alpaca client (N.I.N.A., ConformU, alpyca) can drive flatseq's physically modelled devices.
HTTP/1.1 with keep-alive; `stop()` also closes idle client connections, so a stopped server is
really gone. Routing and protocol rules live in `alpaca_routes` / `alpaca_protocol`.

Every request is untrusted. A body is taken only whole: one shorter than its Content-Length (a client that
died mid-request) is refused with 400 and never executed — a half-sent `CalibratorOn` must not switch the
panel on — and so is a chunked body (Alpaca clients send Content-Length) or conflicting Content-Lengths; the
connection is then closed, since the stream's framing can no longer be trusted. The listen backlog is sized
for many clients at once (N.I.N.A., PHD2 and a script polling the same server).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drivers.base import Camera, FilterWheel, FlatPanel
from drivers.clock import Clock, SystemClock
from drivers.errors import ConfigError
from simulators.alpaca.camera import CameraDevice
from simulators.alpaca.discovery import DISCOVERY_PORT, DiscoveryResponder
from simulators.alpaca.panel import CoverCalibratorDevice, FilterWheelDevice
from simulators.alpaca.protocol import AlpacaDevice
from simulators.alpaca.routes import JSON_TYPE, AlpacaApp, Response

_MAX_BODY = 1024 * 1024
GARBAGE = b'\x00\x17{"Value": tru\xff\xfe'
"""What a garbled server answers to everything (see `AlpacaServer.answer_garbage`)."""
LISTEN_BACKLOG = 128
"""Connections the kernel holds while the server is busy accepting (socketserver's default is 5)."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], app: AlpacaApp, *, quiet: bool) -> None:
        self.app = app
        self.quiet = quiet
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.garbage = False
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that went away mid-response is not the server's problem
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "flatseq-alpaca-sim/0.1"
    timeout = 60  # an idle keep-alive connection is dropped after a minute
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, Nagle's algorithm meets the
        # client's delayed ACK and every small response waits ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        body = self._body()
        if body is None:
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        self._send(self.server.app.handle(method, self.path, headers, body), head_only=method == "HEAD")

    def _body(self) -> bytes | None:
        """The request's whole body, or None after answering 400 (and closing) when it cannot be had whole."""
        refusal = None
        lengths = set(self.headers.get_all("Content-Length") or ())
        if self.headers.get("Transfer-Encoding"):
            refusal = "chunked (Transfer-Encoding) bodies are not accepted; send a Content-Length"
        elif len(lengths) > 1:
            refusal = "conflicting Content-Length headers"
        else:
            text = next(iter(lengths), "0").strip()
            length = int(text) if text.isascii() and text.isdigit() and len(text) <= 8 else -1
            if not 0 <= length <= _MAX_BODY:
                refusal = "bad or oversized Content-Length"
            else:
                body = self.rfile.read(length) if length else b""
                if len(body) == length:
                    return body
                refusal = f"the body ended after {len(body)} of its {length} bytes; nothing was done"
        self.close_connection = True
        self._send(Response.text(400, refusal))
        return None

    def _send(self, response: Response, *, head_only: bool = False) -> None:
        if self.server.garbage:  # a fault: a proxy or firmware gone wrong answers 200 with nonsense
            response = Response(200, JSON_TYPE, len(GARBAGE), (GARBAGE,))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(response.length))
        self.end_headers()
        if not head_only:
            for chunk in response.chunks:
                self.wfile.write(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


class AlpacaServer:
    """The Alpaca server around a set of flatseq devices; start() binds, stop() really stops."""

    def __init__(
        self,
        *,
        camera: Camera | None = None,
        panel: FlatPanel | None = None,
        wheel: FilterWheel | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        discovery: bool = False,
        discovery_port: int = DISCOVERY_PORT,
        quiet: bool = True,
        server_name: str = "flatseq simulated bench",
        legacy: bool = False,
    ) -> None:
        """`legacy`: the devices answer as Platform 6 ones (older InterfaceVersions, Connected only)."""
        clock = clock or SystemClock()
        devices: list[AlpacaDevice] = []
        if camera is not None:
            devices.append(CameraDevice(camera, clock=clock, legacy=legacy))
        if panel is not None:
            devices.append(CoverCalibratorDevice(panel, clock=clock, legacy=legacy))
        if wheel is not None:
            devices.append(FilterWheelDevice(wheel, clock=clock, legacy=legacy))
        self.app = AlpacaApp(devices, server_name=server_name, location=f"{host} (simulated)")
        self._host = host
        self._port = port
        self._discovery = discovery
        self._discovery_port = discovery_port
        self._quiet = quiet
        self._http: _HttpServer | None = None
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None
        self.discovery: DiscoveryResponder | None = None

    @classmethod
    def for_bench(cls, bench: Any, **options: Any) -> AlpacaServer:
        """Serve a `simulators.Bench`: its camera, panel and wheel, on its clock."""
        return cls(camera=bench.camera, panel=bench.panel, wheel=bench.wheel, clock=bench.clock, **options)

    def start(self) -> AlpacaServer:
        try:
            self._http = _HttpServer((self._host, self._port), self.app, quiet=self._quiet)
        except (OSError, OverflowError) as exc:  # a port taken, or one that is not a port (99999)
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"cannot serve Alpaca on {self._host}:{self._port}: {why}") from None
        self._bound_port = int(self._http.server_address[1])
        self.app.unique_seed = f"{self._host}:{self.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        if self._discovery:
            try:
                self.discovery = DiscoveryResponder(self.port, port=self._discovery_port).start()
            except OSError as exc:
                self.stop()
                raise ConfigError(
                    f"cannot answer Alpaca discovery on UDP {self._discovery_port}: {exc.strerror}"
                ) from None
        return self

    def answer_garbage(self) -> None:
        """From now on answer every request with 200 and a body that is not JSON (a fault for tests)."""
        if self._http is not None:
            self._http.garbage = True

    def stop(self) -> None:
        if self.discovery is not None:
            self.discovery.stop()
            self.discovery = None
        if self._http is not None:
            self._http.shutdown()
            self._http.close_connections()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> AlpacaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port bound (still known after stop(), for "server gone" checks)."""
        if self._bound_port is None:
            raise RuntimeError("Alpaca server not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def url(self, device_type: str, number: int = 0) -> str:
        return f"alpaca://{self._host}:{self.port}/{device_type}/{number}"

    @property
    def equipment_urls(self) -> dict[str, str]:
        """The URLs a sequence's `equipment:` section uses for the devices served."""
        roles = {"camera": "camera", "covercalibrator": "panel", "filterwheel": "filter_wheel"}
        return {
            roles[d["DeviceType"].lower()]: self.url(d["DeviceType"].lower(), d["DeviceNumber"])
            for d in self.app.configured_devices()
        }
