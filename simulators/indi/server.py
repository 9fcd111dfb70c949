"""An INDI server for the simulated bench: `flatseq sim indi --port 7624`.

It speaks to clients as `indiserver` does (getProperties, enableBLOB Never/Also/Only per device, newXXXVector in,
def/set/del/message out, broadcast to every client that asked for the device), so KStars/Ekos, indi_getprop
and flatseq's own INDI drivers connect to it directly, and a real `indiserver` can chain it
(`indiserver "@127.0.0.1:7624"`). Each client has a reader and a writer thread (a slow client delays only
itself); a poll thread turns what the bench's devices did into updates every few milliseconds of real time,
so a bench on a VirtualClock moved by its client is followed promptly. Images are encoded while they are sent.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from urllib.parse import quote

from drivers.errors import ConfigError
from simulators.devices.bench import Bench
from simulators.indi import properties as p
from simulators.indi.camera import CCD_INTERFACE, CameraDevice
from simulators.indi.device import DeviceCore, Outgoing, ServedDevice
from simulators.indi.fitsblob import FitsBlob
from simulators.indi.panel import DUSTCAP_INTERFACE, FILTER_INTERFACE, LIGHTBOX_INTERFACE, PanelDevice, WheelDevice

DEFAULT_PORT = 7624
POLL_SECONDS = 0.005
DEVICE_NAMES = {"camera": "flatseq Camera", "panel": "flatseq Panel", "filter_wheel": "flatseq Wheel"}


class _Client:
    """One client connection: what it asked for, and its outgoing queue."""

    def __init__(self, sock: socket.socket, server: IndiServer) -> None:
        self.sock = sock
        self.server = server
        self.devices: set[str] = set()
        self.every_device = False
        self.blob_modes: dict[str | None, str] = {}
        self.outbox: queue.Queue[Outgoing | None] = queue.Queue()
        self.threads = [
            threading.Thread(target=self._read, name="indi-sim reader", daemon=True),
            threading.Thread(target=self._write, name="indi-sim writer", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def offer(self, device: str, message: Outgoing) -> None:
        if not (self.every_device or device in self.devices):
            return
        mode = self.blob_modes.get(device, self.blob_modes.get(None, "Never"))
        is_blob = isinstance(message, FitsBlob)
        if (is_blob and mode == "Never") or (not is_blob and mode == "Only"):
            return
        self.outbox.put(message)

    def close(self) -> None:
        self.outbox.put(None)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _write(self) -> None:
        try:
            while (message := self.outbox.get()) is not None:
                for piece in message.chunks() if isinstance(message, FitsBlob) else (message,):
                    self.sock.sendall(piece)
        except OSError:
            pass
        finally:
            self.server.forget(self)
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()  # the reader's recv ends with it

    def _read(self) -> None:
        parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        parser.feed(b"<indi>")
        depth = 0
        try:
            while data := self.sock.recv(65536):
                parser.feed(data)
                events: list[tuple[str, object]] = list(parser.read_events())  # type: ignore[arg-type]
                for event, element in events:
                    assert isinstance(element, ET.Element)
                    depth += 1 if event == "start" else -1
                    if event == "end" and depth == 1:
                        self.server.handle(self, element)
        except (OSError, ET.ParseError):
            pass
        finally:
            self.close()


class IndiServer:
    """The bench's devices served over INDI on `host:port` (port 0: any free one)."""

    def __init__(self, devices: Iterable[ServedDevice], *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.devices = {device.core.name: device for device in devices}
        self.host = host
        self._lock = threading.RLock()
        self._clients: set[_Client] = set()
        self._stop = threading.Event()
        try:
            self._listener = socket.create_server((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot serve INDI on {host}:{port} ({exc.strerror or exc})") from None
        self.port: int = self._listener.getsockname()[1]
        self._threads = [
            threading.Thread(target=self._accept, name="indi-sim accept", daemon=True),
            threading.Thread(target=self._poll, name="indi-sim poll", daemon=True),
        ]

    @classmethod
    def for_bench(cls, bench: Bench, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> IndiServer:
        clock = bench.clock
        has_cover = bench.panel.has_cover
        panel_interface = LIGHTBOX_INTERFACE | (DUSTCAP_INTERFACE if has_cover else 0)
        camera = CameraDevice(
            bench.camera, DeviceCore(DEVICE_NAMES["camera"], clock, CCD_INTERFACE, "flatseq sim indi")
        )
        panel = PanelDevice(bench.panel, DeviceCore(DEVICE_NAMES["panel"], clock, panel_interface, "flatseq sim indi"))
        wheel = WheelDevice(
            bench.wheel,
            bench.options.filters,
            DeviceCore(DEVICE_NAMES["filter_wheel"], clock, FILTER_INTERFACE, "flatseq sim indi"),
        )
        return cls([camera, panel, wheel], host=host, port=port)

    @property
    def equipment_urls(self) -> dict[str, str]:
        """The flatseq equipment URLs of the served devices, by role."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return {role: f"indi://{host}:{self.port}/{quote(name)}" for role, name in DEVICE_NAMES.items()}

    def start(self) -> IndiServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.close()
        for thread in self._threads:
            thread.join(timeout=5)
        for client in clients:
            for thread in client.threads:
                thread.join(timeout=5)
            client.sock.close()

    def __enter__(self) -> IndiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- clients ------------------------------------------------------------------------------

    def forget(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = _Client(sock, self)
            with self._lock:
                if self._stop.is_set():
                    sock.close()
                    return
                self._clients.add(client)
            client.start()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                for name, device in self.devices.items():
                    self._broadcast(name, device.poll())

    def _broadcast(self, device: str, messages: list[Outgoing]) -> None:
        for message in messages:
            for client in self._clients:
                client.offer(device, message)

    def handle(self, client: _Client, element: ET.Element) -> None:
        """One message from a client, under the server lock (devices change one request at a time)."""
        device = element.attrib.get("device")
        with self._lock:
            if element.tag == "getProperties":
                self._get_properties(client, device, element.attrib.get("name"))
            elif element.tag == "enableBLOB":
                client.blob_modes[None if device in ("", "*") else device] = (element.text or "").strip() or "Never"
            elif element.tag.startswith("new") and element.tag.endswith("Vector") and device in self.devices:
                values = _values(element)
                if values is not None:
                    self._broadcast(device, self.devices[device].new(element.attrib.get("name", ""), values))

    def _get_properties(self, client: _Client, device: str | None, name: str | None) -> None:
        if device in ("", "*"):  # indiserver asks a chained server for device="*": every device
            device = None
        if device is None:
            client.every_device = True
        else:
            client.devices.add(device)
        for served_name, served in self.devices.items():
            if device is not None and served_name != device:
                continue
            for prop in served.core.visible():
                if name is None or prop.name == name:
                    client.outbox.put(prop.define(served.core.now))


def _values(element: ET.Element) -> dict[str, p.Value] | None:
    """A newXXXVector's members by name, typed by kind; None for what cannot be parsed."""
    kind = element.tag[3:-6]
    values: dict[str, p.Value] = {}
    for child in element:
        name, text = child.attrib.get("name", ""), (child.text or "").strip()
        try:
            if kind == "Number":
                values[name] = float(text)
            elif kind == "Switch":
                values[name] = text.lower() == "on"
            elif kind == "Text":
                values[name] = text
            else:
                return None
        except ValueError:
            return None
    return values
