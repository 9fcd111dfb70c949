"""The run journal: JSON Lines, one event per line, written the moment it happens.

Where the manifest says what is on disk, the journal says what was done and when, so a failed or
interrupted run can be reconstructed afterwards ("light on at 03:15:02, settled, trial 1 at brightness
128 …"). Each line is one ``write`` on a file opened for appending (so a crash tears at most the last
line), and the file is fsynced at the end of every step and on errors.

Every line has ``seq`` (0, 1, 2 … in this journal), ``t`` (seconds on the run's clock), ``time`` (the
same as ISO-8601 UTC) and ``event``; the rest depends on the event:

- ``step_started`` / ``step_finished``: ``index`` (position in the plan), ``step`` (its kind), extras
- ``step_failed`` and ``error``: also ``error`` (the message) and ``error_type``
- ``device_call``: ``device``, ``call``, optional ``args``, ``result``, ``error``, ``seconds``
- anything else the sequencer logs with `Journal.log`.
"""

from __future__ import annotations

import enum
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from drivers.clock import Clock
from drivers.errors import ConfigError
from sequencer.core.atomicfile import OutputError, describe_os_error
from sequencer.core.timestamps import iso_utc

JOURNAL_NAME = "journal.jsonl"


def _jsonable(value: object) -> object:
    """Paths, enums, dataclasses, numpy scalars and exceptions as JSON values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, BaseException):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        return item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


class Journal:
    """An append-only event log for one run; thread-safe."""

    def __init__(self, path: Path, *, clock: Clock) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot open the journal: {describe_os_error(exc)}") from exc

    def log(self, event: str, *, sync: bool = False, **fields: Any) -> dict[str, Any]:
        """Append one event line now; `sync` also fsyncs. Returns the record written."""
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: the journal is closed")
            now = self._clock.now()
            record: dict[str, Any] = {"seq": self._seq, "t": round(now, 6), "time": iso_utc(now), "event": event}
            record.update(fields)
            line = json.dumps(record, default=_jsonable, ensure_ascii=False) + "\n"
            try:
                os.write(self._fd, line.encode("utf-8"))
                if sync:
                    os.fsync(self._fd)
            except OSError as exc:
                raise OutputError(f"{self.path}: journal write failed: {describe_os_error(exc)}") from exc
            self._seq += 1
            return record

    def step_started(self, index: int, step: str, **fields: Any) -> dict[str, Any]:
        return self.log("step_started", index=index, step=step, **fields)

    def step_finished(self, index: int, step: str, **fields: Any) -> dict[str, Any]:
        return self.log("step_finished", sync=True, index=index, step=step, **fields)

    def step_failed(self, index: int, step: str, error: BaseException | str, **fields: Any) -> dict[str, Any]:
        return self.log("step_failed", sync=True, index=index, step=step, **_error_fields(error), **fields)

    def error(self, error: BaseException | str, **fields: Any) -> dict[str, Any]:
        return self.log("error", sync=True, **_error_fields(error), **fields)

    def device_call(
        self,
        device: str,
        call: str,
        *,
        args: Mapping[str, Any] | None = None,
        result: Any = None,
        error: BaseException | str | None = None,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        """One call to a device, for callers that trace them."""
        fields: dict[str, Any] = {"device": device, "call": call}
        if args:
            fields["args"] = dict(args)
        if result is not None:
            fields["result"] = result
        if error is not None:
            fields.update(_error_fields(error))
        if seconds is not None:
            fields["seconds"] = round(seconds, 6)
        return self.log("device_call", **fields)

    def sync(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    raise OutputError(f"{self.path}: journal sync failed: {describe_os_error(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """Every complete event in a journal; a line torn by a crash at the very end is skipped."""
        events = []
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, start=1):
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except ValueError as exc:
                if number == len(lines):  # no newline after it: the write was cut short
                    break
                raise ConfigError(f"{path}:{number}: not a JSON line: {exc}") from exc
        return events


def _error_fields(error: BaseException | str) -> dict[str, str]:
    if isinstance(error, BaseException):
        return {"error": str(error) or type(error).__name__, "error_type": type(error).__name__}
    return {"error": error}
