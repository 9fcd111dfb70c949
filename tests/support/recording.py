"""A recording wrapper around real (simulated) devices: logs every call with its run-clock time and
catches two device operations running at once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from drivers.clock import Clock


@dataclass
class Call:
    t: float
    device: str
    method: str
    args: tuple[Any, ...]


@dataclass
class CallLog:
    """Every device call of a run; `limit` stops a runaway run (a bug looping on the virtual clock) quickly."""

    clock: Clock
    limit: int = 5000
    calls: list[Call] = field(default_factory=list)
    active: int = 0
    overlaps: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods]


class Recording:
    """Proxy: attribute reads pass through; method calls are logged and checked for overlap."""

    QUERIES: ClassVar[set[str]] = {
        "image_ready",
        "light_state",
        "cover_state",
        "position",
        "temperature",
        "brightness",
        "names",
    }

    def __init__(self, device: Any, role: str, log: CallLog) -> None:
        object.__setattr__(self, "_device", device)
        object.__setattr__(self, "_role", role)
        object.__setattr__(self, "_log", log)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._device, name)
        if not callable(value) or name.startswith("_"):
            return value
        log: CallLog = self._log

        def call(*args: Any, **kwargs: Any) -> Any:
            with log.lock:
                log.active += 1
                if log.active > 1:
                    log.overlaps.append(f"{self._role}.{name}")
                if name not in self.QUERIES:
                    log.calls.append(Call(log.clock.now(), self._role, name, args))
                if len(log.calls) > log.limit:
                    log.active -= 1
                    raise RuntimeError(f"runaway run: more than {log.limit} device calls")
            try:
                return value(*args, **kwargs)
            finally:
                with log.lock:
                    log.active -= 1

        return call
