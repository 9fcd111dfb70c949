"""Alpaca discovery responder (Alpaca API Reference, section 5), loopback only.

Answers `alpacadiscovery1` datagrams on UDP 32227 with {"AlpacaPort": N}. It listens on 127.0.0.1
alone, so a simulator never advertises itself to the observatory's network: clients on this
machine find it by sending to 127.0.0.1 (IPv4 broadcasts do not reach a loopback-bound socket).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading

DISCOVERY_PORT = 32227
DISCOVERY_MESSAGE = b"alpacadiscovery"


class DiscoveryResponder:
    def __init__(self, alpaca_port: int, *, port: int = DISCOVERY_PORT, host: str = "127.0.0.1") -> None:
        self._reply = json.dumps({"AlpacaPort": alpaca_port}).encode()
        self._address = (host, port)
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("discovery responder not started")
        port: int = self._sock.getsockname()[1]
        return port

    def start(self) -> DiscoveryResponder:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(self._address)
        sock.settimeout(0.2)  # lets stop() end the loop promptly
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="alpaca-discovery", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            # bytes 0-14 "alpacadiscovery", byte 15 the version ("1" today; later versions still get an answer)
            if len(data) >= 16 and data.startswith(DISCOVERY_MESSAGE):
                with contextlib.suppress(OSError):
                    self._sock.sendto(self._reply, sender)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._sock is not None:
            self._sock.close()
