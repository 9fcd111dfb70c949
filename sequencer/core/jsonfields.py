"""Reading JSON that flatseq wrote but anyone may have edited (the manifest, the trained table).

`json.loads` accepts whatever is valid JSON, and Python's own parser more (NaN, Infinity); a hand-edited or
damaged file then fails deep inside the code that uses it, as a KeyError or a TypeError. `Fields` reads one
JSON object key by key instead, checking each value's type and range where it is read, so every refusal is
a `FieldError` naming the key path (``sets[2].flats[0].stats.mean``) and what was wrong with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["FieldError", "Fields", "load_json"]


class FieldError(ValueError):
    """A JSON value that is missing or of the wrong kind; the message starts with its key path."""


def load_json(path: Path, max_bytes: int) -> Any:
    """The JSON document in `path`, read whole only if it is at most `max_bytes` long.

    OSError propagates; a file that is too large, not UTF-8, not JSON or nested too deeply for the parser
    is a `FieldError` saying so.
    """
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FieldError(f"larger than {max_bytes} bytes")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise FieldError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise FieldError(f"not valid JSON (line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise FieldError("not valid JSON (nested too deeply)") from None


def describe(value: object) -> str:
    """A JSON value as a message quotes it: its type for containers, its text (cut short) otherwise."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


class Fields:
    """One JSON object, read key by key; `where` is its key path, for messages."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise FieldError(f"{where or 'the file'}: expected an object, got {describe(data)}")
        self.data: dict[str, Any] = data
        self.where = where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        """Whether `key` is there with a value other than null."""
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise FieldError(f"{self.path(key)}: missing")
        return self.data[key]

    def _wrong(self, key: str, expected: str) -> FieldError:
        return FieldError(f"{self.path(key)}: expected {expected}, got {describe(self.data.get(key))}")

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def maybe_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def number(self, key: str, low: float = -math.inf, high: float = math.inf) -> float:
        """A finite number from `low` to `high` (JSON's NaN and Infinity, which Python reads, are refused)."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self._wrong(key, "a finite number")
        if not low <= value <= high:
            raise self._wrong(key, f"a number from {low:g} to {high:g}")
        return float(value)

    def maybe_number(self, key: str, low: float = -math.inf, high: float = math.inf) -> float | None:
        return self.number(key, low, high) if self.has(key) else None

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "a whole number")
        if not low <= value <= high:
            raise self._wrong(key, f"a whole number from {low} to {high}")
        return value

    def maybe_integer(self, key: str, low: int, high: int) -> int | None:
        return self.integer(key, low, high) if self.has(key) else None

    def object(self, key: str) -> Fields:
        return Fields(self.raw(key), self.path(key))

    def maybe_object(self, key: str) -> Fields | None:
        return self.object(key) if self.has(key) else None

    def objects(self, key: str) -> Iterator[Fields]:
        """The objects in the list at `key` (an absent or null list is empty)."""
        items = self.data.get(key)
        if items is None:
            return
        if not isinstance(items, list):
            raise self._wrong(key, "a list")
        for i, item in enumerate(items):
            yield Fields(item, f"{self.path(key)}[{i}]")
