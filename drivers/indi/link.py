"""What every INDI device shares: connecting it (CONNECTION), its properties, and setting them the INDI way.

A set is a `newXXXVector` and a wait for the device's answer: Ok (done), Busy (under way: accepted where the
caller only starts something), Alert (refused: the call fails with the device's own words, the vector's
`message` or the last `<message>` it sent since, naming the device and the property). Composed into the
camera, panel and wheel rather than inherited.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.errors import DeviceError, InvalidValue, NotConnected, NotSupported
from drivers.indi import vectors
from drivers.indi.client import IndiClient
from drivers.indi.vectors import PropertyState, Value, Vector

NEWS_WAIT = 0.05
"""Seconds a poll of a Busy property waits for the device's next update before answering."""
DEFINITIONS_QUIET = 0.3
"""Seconds without a new property definition after which a device's definitions are taken as complete."""
MAX_SETTLE_ROUNDS = 200
"""A device still defining properties after this many bursts is taken as it is."""


class IndiLink:
    """One INDI device: its client, whether it is connected, and property access."""

    def __init__(self, client: IndiClient, *, connect_timeout: float) -> None:
        self.client = client
        self.connect_timeout = connect_timeout
        self.connected = False
        self.since = 0
        """Message number at which the connection was made: an Alert older than that is not ours to report."""

    @property
    def name(self) -> str:
        return self.client.device

    def connect(self) -> None:
        """Open the connection, wait for the device, switch CONNECTION on if it is off, and wait until its
        definitions settle; a failed connect leaves no connection open."""
        if self.connected:
            return
        try:
            self._connect()
        except BaseException:
            self.client.close()
            raise
        self.since = self.client.seq
        self.connected = True

    def disconnect(self) -> None:
        """Close our connection; the device stays connected to its server (other clients may be using it)."""
        self.connected = False
        self.client.close()

    def require_connected(self) -> None:
        if not self.connected:
            raise NotConnected(self.name, "not connected yet: call connect() first")

    def _connect(self) -> None:
        client = self.client
        client.open()
        try:
            client.wait(lambda: "CONNECTION" in client.vectors, self.connect_timeout, what="waiting for the device")
        except DeviceError:
            if client.lost is not None:
                raise
            others = client.list_devices(DEFINITIONS_QUIET)
            listed = f" (it has: {', '.join(others)})" if others else ""
            raise DeviceError(
                self.name, f"the INDI server at {client.where} has no device {self.name!r}{listed}"
            ) from None
        connection = self.vector("CONNECTION")
        if connection.value("CONNECT") is not True or connection.state is not PropertyState.OK:
            self.set("CONNECTION", {"CONNECT": True, "DISCONNECT": False}, timeout=self.connect_timeout)
        self._settle()

    def _settle(self) -> None:
        """Wait until no property has been defined for DEFINITIONS_QUIET s: a device defines its working
        properties in a burst after connecting, and INDI marks no end to it."""
        client = self.client
        deadline = client.clock.now() + self.connect_timeout
        for _ in range(MAX_SETTLE_ROUNDS):
            last = client.defined
            client.news_of_definition(DEFINITIONS_QUIET, last)
            if client.defined == last or client.clock.now() > deadline:
                return

    # ---- properties ---------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return self.client.vector(name) is not None

    def find(self, name: str) -> Vector | None:
        return self.client.vector(name)

    def vector(self, name: str) -> Vector:
        found = self.client.vector(name)
        if found is None:
            raise NotSupported(self.name, f"has no {name} property")
        return found

    def number(self, name: str, member: str) -> float:
        value = self.vector(name).number(member)
        if value is None:
            raise NotSupported(self.name, f"has no {name}.{member} number")
        return value

    def set(
        self,
        name: str,
        values: Mapping[str, Value],
        *,
        accept_busy: bool = False,
        timeout: float | None = None,
    ) -> int:
        """Send new values and wait for the device's answer: Ok, or Busy when `accept_busy` (started). Returns
        the message number the answer is newer than (later updates of the same property are newer still).

        InvalidValue for an Alert that names a range, DeviceError for any other Alert, DeviceTimeout for
        silence, DeviceDisconnected if the server goes away.
        """
        vector = self.vector(name)
        if not vector.writable:
            raise NotSupported(self.name, f"{name} is read-only (perm {vector.perm})")
        sent = describe_values(name, values)
        # A one-of-many switch (light on/off, frame type, connection) answers with the choice it made; buttons
        # (abort) spring back, and numbers are rounded or count down: those are judged by the state alone.
        selects = vector.kind == "Switch" and vector.rule == "OneOfMany"
        seq = self.client.send(vectors.new_vector(vector.kind, self.name, name, values), what=sent)

        def answered() -> bool:
            current = self.client.vectors.get(name)
            if current is None or current.updated <= seq:
                return False
            if current.alert is not None and current.alert[0] > seq:
                return True
            if selects and any(current.value(m) != v for m, v in values.items()):
                return False  # a late answer to an earlier request, not yet this one's (a choice is exact)
            return accept_busy or current.state is not PropertyState.BUSY

        self.client.wait(answered, timeout or self.client.timeout, what=f"setting {name}", sent=sent)
        self.check_alert(name, seq, sent=sent)
        return seq

    def check_alert(self, name: str, seq: int, *, sent: str | None = None) -> None:
        """Raise the device's own error if `name` went into Alert after message number `seq`."""
        vector = self.client.vector(name)
        seq = max(seq, self.since)
        if vector is None or vector.alert is None or vector.alert[0] <= seq:
            return
        why = vector.alert[1] or self.client.message_after(seq) or "no reason given"
        error = InvalidValue if "range" in why.lower() or "bounds" in why.lower() else DeviceError
        raise error(self.name, f"{name} Alert: {why}", sent=sent, answered=vector.describe())

    def news(self, name: str) -> None:
        """Let property `name`'s next update come in (at most NEWS_WAIT s) before answering a poll of it."""
        self.client.news(NEWS_WAIT, name)

    def switch_values(self, name: str, on: str) -> dict[str, Value]:
        """All members of a Switch vector, `on` On and the others Off (what a OneOfMany change sends)."""
        vector = self.vector(name)
        if on not in vector.members:
            raise NotSupported(self.name, f"{name} has no {on} switch (it has: {', '.join(vector.members)})")
        return {member: member == on for member in vector.members}


def describe_values(name: str, values: Mapping[str, Value]) -> str:
    """`CCD_GAIN.GAIN=100`: what was sent, for error messages."""
    shown = []
    for member, value in values.items():
        if isinstance(value, bool):
            if value:
                shown.append(f"{name}.{member}=On")
        elif isinstance(value, float):
            shown.append(f"{name}.{member}={value:g}")
        else:
            shown.append(f"{name}.{member}={value}")
    return ", ".join(shown) or name
