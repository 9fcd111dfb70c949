"""The members every simulated Alpaca device answers: connection, identity, actions, DeviceState.

Connect()/Disconnect() finish before they return (the simulated devices connect instantly), so
Connecting is always false; Connected=true/false does the same for pre-Platform-7 clients. The
identity members answer without a connection, everything else needs one. A `legacy` device answers
as a Platform 6 one would: the Platform 7 members are unknown to it (HTTP 400).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drivers.clock import Clock
from simulators.alpaca.protocol import NOT_IMPLEMENTED, AlpacaError, Bool, Member, Members, Str

DRIVER_VERSION = "0.1"


@dataclass(frozen=True)
class Identity:
    name: str
    description: str
    interface_version: int
    driver_info: str = "flatseq simulated bench, served over ASCOM Alpaca by flatseq sim alpaca"
    driver_version: str = DRIVER_VERSION


def timestamp(clock: Clock) -> str:
    """ISO 8601 UTC with milliseconds, as DeviceState's TimeStamp wants it."""
    moment = datetime.fromtimestamp(clock.now(), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class CommonMembers:
    """Connected flag and common members of one device; the device supplies connect/disconnect/state."""

    def __init__(
        self,
        identity: Identity,
        *,
        clock: Clock,
        on_connect: Callable[[], None],
        on_disconnect: Callable[[], None],
        state: Callable[[], list[tuple[str, Any]]],
        legacy: bool = False,
    ) -> None:
        self.identity = identity
        self.legacy = legacy
        """Answer as a Platform 6 device: Connected only, no Connect/Disconnect/Connecting/DeviceState."""
        self._clock = clock
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._state = state
        self._connected = False
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected

    def connect(self) -> None:
        with self._lock:
            if not self._connected:
                self._on_connect()
                self._connected = True

    def disconnect(self) -> None:
        with self._lock:
            if self._connected:
                self._connected = False
                self._on_disconnect()

    def set_connected(self, Connected: bool) -> None:  # noqa: N803 - Alpaca parameter name
        if Connected:
            self.connect()
        else:
            self.disconnect()

    def device_state(self) -> list[dict[str, Any]]:
        items = [{"Name": name, "Value": value} for name, value in self._state()]
        if items:
            items.append({"Name": "TimeStamp", "Value": timestamp(self._clock)})
        return items

    def members(self) -> Members:
        ident = self.identity

        def refuse(**_: Any) -> None:
            raise AlpacaError(NOT_IMPLEMENTED, "this device supports no custom actions or commands")

        command = (Str("Command"), Bool("Raw"))
        table: Members = {
            ("GET", "connected"): Member(lambda: self.connected, needs_connection=False),
            ("PUT", "connected"): Member(self.set_connected, (Bool("Connected"),), needs_connection=False),
            ("PUT", "connect"): Member(self.connect, needs_connection=False),
            ("PUT", "disconnect"): Member(self.disconnect, needs_connection=False),
            ("GET", "connecting"): Member(lambda: False, needs_connection=False),
            ("GET", "description"): Member(lambda: ident.description, needs_connection=False),
            ("GET", "driverinfo"): Member(lambda: ident.driver_info, needs_connection=False),
            ("GET", "driverversion"): Member(lambda: ident.driver_version, needs_connection=False),
            ("GET", "interfaceversion"): Member(lambda: ident.interface_version, needs_connection=False),
            ("GET", "name"): Member(lambda: ident.name, needs_connection=False),
            ("GET", "supportedactions"): Member(lambda: [], needs_connection=False),
            ("GET", "devicestate"): Member(self.device_state),
            ("PUT", "action"): Member(refuse, (Str("Action"), Str("Parameters"))),
            ("PUT", "commandblind"): Member(refuse, command),
            ("PUT", "commandbool"): Member(refuse, command),
            ("PUT", "commandstring"): Member(refuse, command),
        }
        if self.legacy:
            for platform7 in ("connect", "disconnect", "connecting", "devicestate"):
                table.pop(("PUT", platform7), None)
                table.pop(("GET", platform7), None)
        return table
