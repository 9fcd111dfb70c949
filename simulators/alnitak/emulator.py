"""An Alnitak panel you can plug into anything: the protocol on a pseudo-terminal and on 127.0.0.1 TCP.

The emulator owns the master side of a pty (raw mode); clients open the slave path (`/dev/pts/N`)
exactly as they would a USB serial adapter, so flatseq's driver, INDI's `indi_flipflat` or N.I.N.A. talk
to it unchanged. Commands may end CR, LF, CR LF or nothing at all (they are fixed-length); replies end
with the configured terminator (LF by default, as the real firmware sends). Behind it sits a simulated
panel - the bench's - so switching the light through the serial line lights the simulated camera.

Faults reproduce what a bad cable or firmware does, on purpose: `silent` (commands are swallowed),
`garbage` (the command is obeyed but the reply is noise or the wrong reply), `slow` (obeyed, answered
after `delay` seconds of wall time), `disconnect` (the port vanishes, as when the USB cable is pulled).
One background thread serves everything; `start()`/`stop()` or use it as a context manager.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import random
import selectors
import signal
import socket
import threading
import tty
from types import TracebackType
from typing import Any

from drivers.base import FlatPanel
from drivers.clock import Clock, SystemClock
from drivers.errors import ConfigError
from simulators.alnitak.firmware import (
    AlnitakFirmware,
    FirmwareConfig,
    PanelSnapshot,
)
from simulators.alnitak.wire import REPLY_ENDINGS, Channel, Fault, FaultPlan, garbage, take_commands

__all__ = ["AlnitakEmulator", "Fault", "FaultPlan", "PanelSnapshot"]


class AlnitakEmulator:
    """The protocol server. `path`/`url` name the pty; `tcp_url` the socket, if `tcp_port` was given."""

    def __init__(
        self,
        panel: FlatPanel,
        clock: Clock,
        *,
        product: int = 99,
        firmware: int = 123,
        eol: str = "lf",
        filler: str = "auto",
        motor_time: float = 5.0,
        cover_jam: bool = False,
        fault: FaultPlan | None = None,
        pty: bool = True,
        tcp_port: int | None = None,
        seed: int = 0,
        wire_clock: Clock | None = None,
    ) -> None:
        if eol not in REPLY_ENDINGS:
            raise ValueError(f"eol must be one of {', '.join(REPLY_ENDINGS)}, not {eol!r}")
        if not pty and tcp_port is None:
            raise ValueError("nothing to serve on: enable the pty or give a tcp_port")
        self.firmware = AlnitakFirmware(
            panel,
            clock,
            FirmwareConfig(
                product=product, firmware=firmware, filler=filler, motor_time=motor_time, cover_jam=cover_jam
            ),
        )
        self.eol = eol
        self._want_pty = pty
        self._want_tcp = tcp_port
        self._rng = random.Random(seed)
        self._wire: Clock = wire_clock or SystemClock()
        self._lock = threading.Lock()
        self._fault = fault or FaultPlan()
        self._fault_base = 0
        self._count = 0
        self._received: list[str] = []
        self._errors: list[str] = []
        self._pending: list[tuple[float, int, Channel, bytes]] = []
        self._seq = 0
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._unplug = threading.Event()
        self._unplugged = threading.Event()
        self._wake_r = self._wake_w = -1
        self._master = self._slave = -1
        self._pty_channel: Channel | None = None
        self._listener: socket.socket | None = None
        self._clients: list[Channel] = []
        self.path: str | None = None
        self.tcp_address: tuple[str, int] | None = None

    @classmethod
    def on_bench(cls, bench: Any, **options: Any) -> AlnitakEmulator:
        """An emulator driving `bench.panel` on `bench.clock` (so its light reaches `bench.camera`)."""
        return cls(bench.panel, bench.clock, **options)

    # -- what tests and users see ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The equipment URL for the pty, e.g. `alnitak:///dev/pts/7`."""
        if self.path is None:
            raise RuntimeError("the emulator serves no pty (not started, or started with pty=False)")
        return f"alnitak://{self.path}"

    @property
    def tcp_url(self) -> str:
        if self.tcp_address is None:
            raise RuntimeError("the emulator serves no TCP socket")
        host, port = self.tcp_address
        return f"alnitak+socket://{host}:{port}"

    def state(self) -> PanelSnapshot:
        """Light, brightness and cover as the emulated device has them now."""
        return self.firmware.snapshot()

    @property
    def received(self) -> list[str]:
        """Every well-formed command received so far, in order (`>B128`, …)."""
        with self._lock:
            return list(self._received)

    @property
    def errors(self) -> list[str]:
        """Commands the simulated panel behind the emulator failed on (they got no reply)."""
        with self._lock:
            return list(self._errors)

    @property
    def alive(self) -> bool:
        """Whether the pty still exists (False after a disconnect fault or `unplug()`)."""
        return self._master >= 0

    def set_fault(self, plan: FaultPlan) -> None:
        """Change the fault plan; its `after` counts from the next command."""
        with self._lock:
            self._fault = plan
            self._fault_base = self._count

    def unplug(self) -> None:
        """Close the emulator's end now, as if the USB cable were pulled; returns once it is closed."""
        if self._thread is None:
            self._disconnect_all()
            return
        self._unplugged.clear()
        self._unplug.set()
        self._wake()
        self._unplugged.wait(timeout=5)

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> AlnitakEmulator:
        if self._thread is not None:
            return self
        listener = self._listen() if self._want_tcp is not None else None  # first: nothing to undo if refused
        self.firmware.power_on()
        self._stop.clear()
        self._unplug.clear()
        self._pending.clear()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        if self._want_pty:
            self._open_pty()
        if listener is not None:
            listener.setblocking(False)
            self._listener = listener
            self.tcp_address = ("127.0.0.1", listener.getsockname()[1])
            self._selector.register(listener, selectors.EVENT_READ, "listener")
        self._thread = threading.Thread(target=self._serve, name="alnitak-emulator", daemon=True)
        self._thread.start()
        return self

    def _listen(self) -> socket.socket:
        """The TCP listener on 127.0.0.1; a port that cannot be had (taken, out of range) is a ConfigError."""
        port = self._want_tcp or 0
        where = f"cannot serve Alnitak on 127.0.0.1:{port}"
        if not 0 <= port <= 65535:  # checked here: socket.create_server would leak its socket on OverflowError
            raise ConfigError(f"{where}: bind(): port must be 0-65535.")
        try:
            return socket.create_server(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError(f"{where}: {exc.strerror or exc}") from None

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake()
        thread.join(timeout=5)
        self._close_pty()
        for client in list(self._clients):
            self._drop_client(client)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._selector is not None:
            self._selector.close()

    def __enter__(self) -> AlnitakEmulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- the serving thread ------------------------------------------------------------------------

    def _open_pty(self) -> None:
        assert self._selector is not None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes pass as a UART passes them
        # Keeping our own slave descriptor open means the master never reads EIO between clients.
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._pty_channel = Channel("pty", self._master)
        self._selector.register(self._master, selectors.EVENT_READ, self._pty_channel)

    def _close_pty(self) -> None:
        if self._master < 0:
            return
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._master)
        if self._pty_channel is not None:
            self._pty_channel.closed = True
        fds = (self._master, self._slave)
        self._master = self._slave = -1  # not alive from before the client can see the hang-up
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def _serve(self) -> None:
        # Ctrl-C and SIGTERM belong to the main thread (the CLI's handler); never let them land here.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        selector = self._selector
        assert selector is not None
        while not self._stop.is_set():
            timeout = None
            if self._pending:
                timeout = max(0.0, self._pending[0][0] - self._wire.now())
            events = selector.select(timeout)
            if self._unplug.is_set():  # before serving what arrived: the cable is already out
                self._unplug.clear()
                self._disconnect_all()
                self._unplugged.set()
                continue
            for key, _ in events:
                if key.data is None:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 512)
                elif key.data == "listener":
                    self._accept()
                else:
                    self._receive(key.data)
            self._flush_due()

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        with contextlib.suppress(BlockingIOError):
            sock, _ = self._listener.accept()
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = Channel("tcp", sock.fileno(), sock)
            self._clients.append(client)
            self._selector.register(sock, selectors.EVENT_READ, client)

    def _drop_client(self, client: Channel) -> None:
        client.closed = True
        if client.sock is not None:
            if self._selector is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(client.sock)
            client.sock.close()
        with contextlib.suppress(ValueError):
            self._clients.remove(client)

    def _disconnect_all(self) -> None:
        self._close_pty()
        for client in list(self._clients):
            self._drop_client(client)

    def _receive(self, channel: Channel) -> None:
        data = channel.read()
        if data is None:
            return
        if not data:
            if channel.kind == "tcp":
                self._drop_client(channel)
            return
        channel.buffer += data
        for command in take_commands(channel.buffer):
            if channel.closed:
                return
            try:
                self._serve_command(channel, command)
            except Exception as exc:  # the simulated panel refused: like firmware, answer nothing, go on
                with self._lock:
                    self._errors.append(f"{command}: {exc}")

    def _serve_command(self, channel: Channel, command: str) -> None:
        with self._lock:
            self._count += 1
            self._received.append(command)
            plan = self._fault
            faulted = plan.applies(self._count - self._fault_base)
        mode = plan.mode if faulted else Fault.NONE
        if mode is Fault.DISCONNECT:
            if channel.kind == "pty":
                self._close_pty()
            else:
                self._drop_client(channel)
            return
        if mode is Fault.SILENT:
            return
        reply = self.firmware.handle(command)
        if reply is None:
            return
        wire = reply.encode("ascii") + REPLY_ENDINGS[self.eol]
        if mode is Fault.GARBAGE:
            wire = garbage(self._rng, command, self.firmware.config.product, self.eol)
        if mode is Fault.SLOW:
            self._seq += 1
            heapq.heappush(self._pending, (self._wire.now() + plan.delay, self._seq, channel, wire))
            return
        channel.write(wire)

    def _flush_due(self) -> None:
        now = self._wire.now()
        while self._pending and self._pending[0][0] <= now:
            _, _, channel, wire = heapq.heappop(self._pending)
            channel.write(wire)
