"""Stopping safely: Ctrl-C and SIGTERM set a flag that every wait checks, instead of raising mid-protocol.

A KeyboardInterrupt thrown into the middle of a serial exchange could leave half a command on the wire; a
flag checked between device calls lets the current call finish, then unwinds to the cleanup that switches
the light off, aborts the exposure and flushes the files.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from drivers.clock import Clock
from drivers.errors import FlatseqError
from sequencer.core.exits import ExitStatus

SIGNAL_EXIT_CODES = {signal.SIGINT: ExitStatus.SIGINT, signal.SIGTERM: ExitStatus.SIGTERM}


class Interrupted(FlatseqError):
    """The user (or the system) asked the run to stop."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = SIGNAL_EXIT_CODES.get(signal.Signals(signum), ExitStatus.SIGINT)
        super().__init__(f"interrupted by {signal.Signals(signum).name}: stopping safely")


class StopToken:
    """Set by a signal handler (or a test); checked by every wait of the run."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    def request(self, signum: int = signal.SIGINT) -> None:
        self.signum = signum
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Interrupted(self.signum or signal.SIGINT)

    def sleep(self, clock: Clock, seconds: float, chunk: float = 0.1) -> None:
        """Sleep on `clock` in small chunks, raising Interrupted as soon as a stop is requested."""
        end = clock.now() + seconds
        while True:
            self.check()
            remaining = end - clock.now()
            if remaining <= 0:
                return
            clock.sleep(min(chunk, remaining))


@contextmanager
def stop_on_signals(token: StopToken) -> Iterator[StopToken]:
    """Route SIGINT and SIGTERM to `token` while the run lasts (main thread only), then restore."""
    if threading.current_thread() is not threading.main_thread():
        yield token
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if token.requested:  # a second Ctrl-C: the user really means it
            raise KeyboardInterrupt
        token.request(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield token
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
