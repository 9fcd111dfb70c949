"""Time, injected: the sequencer, drivers and simulators never call time.sleep/time.time directly.

A dry run on the `VirtualClock` finishes in seconds yet reports the duration the real run would take.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Seconds since the epoch, and a way to let time pass."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time: `sleep` really waits."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Simulated time that advances instantly on `sleep`, so waits cost nothing but are still counted.

    Thread-safe: a FITS writer or a protocol emulator may read `now()` while the sequencer sleeps.
    `slept` is the total time spent in `sleep`, the honest "how long would this have taken" figure.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._start = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        """Same as sleep; reads better in tests that move time forward on purpose."""
        self.sleep(seconds)

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._now - self._start


def wait_until(
    clock: Clock,
    done: Callable[[], bool],
    *,
    timeout: float,
    poll: float = 0.1,
) -> bool:
    """Poll `done` on `clock` until it is true or `timeout` seconds pass; returns whether it came true.

    Long device operations are start + poll, so every wait goes through here and through the clock.
    """
    deadline = clock.now() + timeout
    while True:
        if done():
            return True
        remaining = deadline - clock.now()
        if remaining <= 0:
            return False
        clock.sleep(min(poll, remaining))
