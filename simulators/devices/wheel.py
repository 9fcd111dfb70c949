"""The simulated filter wheel: named slots (0-based), `move_time` seconds per slot, no light while turning.

Fault `fault=stuck`: the wheel never arrives; `position()` stays None, and polled `stuck_timeout` seconds
past its due arrival the wheel raises DeviceTimeout itself ("stuck moving to slot 4 (Ha)").
"""

from __future__ import annotations

import math
import threading

from drivers.errors import DeviceDisconnected, DeviceTimeout, InvalidValue, NotConnected
from simulators.devices.faults import Moment
from simulators.devices.views import WheelView


class SimFilterWheel:
    """A `drivers.base.FilterWheel` on a bench (it sees only a `WheelView`)."""

    def __init__(self, bench: WheelView) -> None:
        self._bench = bench
        self._names = list(bench.options.filters)
        self._name = "sim filter wheel"
        self._connected = False
        self._lock = threading.Lock()
        self._due = bench.clock.now()
        self._target = 0

    @property
    def name(self) -> str:
        return self._name

    def connect(self) -> None:
        self._bench.faults.observe(Moment.CONNECT)
        self._check_present()
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def _check_present(self) -> None:
        if self._bench.faults.has("wheel", "unplugged"):
            raise DeviceDisconnected(self._name, "the filter wheel is gone from the bus (unplugged)")

    def _check(self) -> None:
        self._check_present()
        if not self._connected:
            raise NotConnected(self._name, "not connected")

    def names(self) -> list[str]:
        self._check()
        return list(self._names)

    def transmission(self, index: int) -> float:
        """Relative transmission of the filter in a slot (L = 1.0)."""
        return self._bench.options.transmission(self._names[index])

    def position(self) -> int | None:
        self._check()
        now = self._bench.clock.now()
        with self._lock:
            move = self._bench.filter_path.last_move()
            if now >= move.arrive:
                return move.slot
            if math.isinf(move.arrive) and now - self._due > self._bench.options.stuck_timeout:
                raise DeviceTimeout(
                    self._name,
                    f"filter wheel stuck moving to slot {move.slot} ({self._names[move.slot]}) "
                    f"for {now - move.start:.0f} s",
                )
            return None

    def move_to(self, index: int) -> None:
        self._check()
        self._bench.faults.observe(Moment.FILTER_MOVE)
        self._check()
        count = len(self._names)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise InvalidValue(self._name, f"slot {index!r} out of range 0-{count - 1}")
        now = self._bench.clock.now()
        with self._lock:
            last = self._bench.filter_path.last_move()
            begin = max(now, last.arrive) if not math.isinf(last.arrive) else now
            distance = abs(index - last.slot)
            distance = min(distance, count - distance)
            due = begin + distance * self._bench.options.move_time
            self._due = due
            stuck = self._bench.faults.has("wheel", "stuck") and distance > 0
            self._bench.filter_path.move(now, index, math.inf if stuck else due)
