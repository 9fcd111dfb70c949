"""Shared helpers for the Alpaca tests: a served simulated bench, raw HTTP requests, a silent server."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlencode

from drivers.clock import VirtualClock
from simulators.alpaca.server import AlpacaServer
from simulators.devices.bench import Bench


@contextmanager
def served_bench(seed: int = 0, *, legacy: bool = False, **bench_options: Any) -> Iterator[tuple[AlpacaServer, Bench]]:
    """A small simulated bench on a VirtualClock, served over Alpaca on 127.0.0.1 (ephemeral port)."""
    bench = Bench(sensor="small", seed=seed, clock=VirtualClock(), **bench_options)
    server = AlpacaServer.for_bench(bench, legacy=legacy).start()
    try:
        yield server, bench
    finally:
        server.stop()


class Reply:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(
    server: AlpacaServer,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One raw HTTP request: GET parameters in the query, PUT (and others) in a form body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        encoded = urlencode(params or {})
        if method == "GET":
            target, body = (f"{path}?{encoded}" if encoded else path), None
            extra = {}
        else:
            target, body = path, encoded.encode()
            extra = {"Content-Type": "application/x-www-form-urlencoded"}
        conn.request(method, target, body=body, headers={**extra, **(headers or {})})
        response = conn.getresponse()
        body = response.read() if method != "HEAD" else b"(no body for HEAD)"
        return Reply(response.status, response.getheader("Content-Type") or "", body)
    finally:
        conn.close()


def connect_all(server: AlpacaServer) -> None:
    for device in server.app.configured_devices():
        reply = call(server, "PUT", f"/api/v1/{device['DeviceType'].lower()}/{device['DeviceNumber']}/connect")
        assert reply.json()["ErrorNumber"] == 0


@contextmanager
def scripted_server(script: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that runs `script` on the first connection; yields its port.

    For what no honest Alpaca server does: never answering, stalling mid-image.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        held.append(conn)
        with suppress(OSError):
            script(conn)
        done.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        listener.close()
        for conn in held:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a script blocked in recv
            conn.close()
        thread.join(timeout=5)


def read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request head from a raw connection."""
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def finishes_within(seconds: float, action: Callable[[], Any]) -> BaseException | None:
    """Run `action` in a thread; the exception it raised, after asserting it did not hang.

    A guard against hangs, generous on purpose: not a timing measurement.
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            action()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s: the call hangs"
    return outcome[0]


def answer_each(conn: socket.socket, answers: dict[str, tuple[int, str, bytes]]) -> None:
    """Serve keep-alive requests on one connection from canned answers keyed by "METHOD member".

    For servers that behave unlike flatseq's (odd interface versions, slow starts); unknown requests get 400.
    """
    buffer = b""
    conn.settimeout(10)
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        while len(buffer) < length:
            buffer += conn.recv(65536)
        buffer = buffer[length:]
        member = target.split("?")[0].rsplit("/", 1)[-1]
        status, content_type, body = answers.get(f"{method} {member}", (400, "text/plain", b"unknown request"))
        reason = "OK" if status == 200 else "Bad Request"
        head_out = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head_out.encode() + body)


def alpaca_json(value: Any = None) -> tuple[int, str, bytes]:
    body: dict[str, Any] = {"ClientTransactionID": 0, "ServerTransactionID": 1, "ErrorNumber": 0, "ErrorMessage": ""}
    if value is not None:
        body["Value"] = value
    return 200, "application/json", json.dumps(body).encode()


@contextmanager
def sim_alpaca(*arguments: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`flatseq sim alpaca --port 0 ARGUMENTS...` in its own process, real time, with a panel that settles and a
    wheel that turns quickly (the waits are not what is tested): its base URL (alpaca://127.0.0.1:PORT) and the
    process. Thawed (a frozen one) and stopped afterwards."""
    command = [sys.executable, "-m", "sequencer", "sim", "alpaca", "--port", "0", *arguments]
    command += ["--option", "warmup=0.05", "--option", "move_time=0.2"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert process.stdout is not None
    camera = ""
    for line in process.stdout:
        if line.strip().startswith("camera:"):
            camera = line.split()[-1]
        if "stops it" in line:
            break
    try:
        assert camera, "the Alpaca simulator did not start"
        yield camera.removesuffix("/camera/0"), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
