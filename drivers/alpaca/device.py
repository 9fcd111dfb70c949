"""What every Alpaca device shares: connecting (Platform 7 Connect/Connecting, or Connected before) and identity.

Composed into the camera, cover-calibrator and filter wheel drivers rather than inherited.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.alpaca.errors import HttpStatusError
from drivers.alpaca.transport import AlpacaTransport
from drivers.clock import Clock, wait_until
from drivers.errors import DeviceDisconnected, DeviceError, DeviceTimeout, NotConnected, NotSupported

PLATFORM7_INTERFACE_VERSION: Mapping[str, int] = {"camera": 4, "covercalibrator": 2, "filterwheel": 3}
"""The first InterfaceVersion of each device type that has Connect()/Disconnect()/Connecting."""


class AlpacaLink:
    """Connection and identity of one Alpaca device, over its transport."""

    def __init__(self, transport: AlpacaTransport, *, clock: Clock, connect_timeout: float = 30.0, poll: float = 0.25):
        self.transport = transport
        self._clock = clock
        self._connect_timeout = connect_timeout
        self._poll = poll
        self._name: str | None = None
        self.interface_version: int | None = None

    @property
    def name(self) -> str:
        """The device's Name once connected, else where it lives."""
        return self._name or self.transport.address.describe()

    @property
    def connected(self) -> bool:
        return self._name is not None

    def require_connected(self) -> None:
        if self._name is None:
            raise NotConnected(self.name, "not connected yet: call connect() first")

    def connect(self) -> None:
        """Connect with the mechanism the device's interface version calls for, then read its Name; a failed
        connect leaves no connection open."""
        try:
            self._connect()
        except BaseException:
            self.transport.close()
            raise

    def _connect(self) -> None:
        version = self._read_interface_version()
        if version >= PLATFORM7_INTERFACE_VERSION.get(self.transport.address.device_type, 99):
            try:
                self.transport.put("connect")
            except HttpStatusError as exc:  # claims Platform 7 but lacks Connect(): connect the old way
                if exc.status != 400:
                    raise
                self.transport.put("connected", Connected=True)
            else:
                self._wait_while_connecting("PUT connect")
        else:
            self.transport.put("connected", Connected=True)
        if not self.transport.get("connected"):
            raise DeviceError(self.name, "still reports Connected false after connecting", sent="GET connected")
        self.interface_version = self._read_interface_version()  # may change once connected
        name = str(self.transport.get("name") or "").strip()
        self._name = name or self.transport.address.describe()
        self.transport.label = f"{self._name} ({self.transport.address.describe()})"

    def disconnect(self) -> None:
        """Disconnect; a server that is already gone counts as disconnected."""
        try:
            version = self.interface_version or self._read_interface_version()
            if version >= PLATFORM7_INTERFACE_VERSION.get(self.transport.address.device_type, 99):
                self.transport.put("disconnect")
                self._wait_while_connecting("PUT disconnect")
            else:
                self.transport.put("connected", Connected=False)
        except DeviceDisconnected:
            pass
        finally:
            self._name = None
            self.transport.close()

    def _read_interface_version(self) -> int:
        """InterfaceVersion; drivers that refuse it before connecting (or lack it) are version 1."""
        try:
            return int(self.transport.get("interfaceversion"))
        except (NotConnected, NotSupported):
            return 1

    def _wait_while_connecting(self, sent: str) -> None:
        """Poll Connecting on the run's clock; the device raises here if connecting failed."""
        if not wait_until(
            self._clock, lambda: not self.transport.get("connecting"), timeout=self._connect_timeout, poll=self._poll
        ):
            raise DeviceTimeout(self.name, f"still Connecting after {self._connect_timeout:g} s", sent=sent)
