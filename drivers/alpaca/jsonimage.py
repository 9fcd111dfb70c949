"""Camera.ImageArray as JSON, streamed both ways without building Python lists.

JSON is the fallback for servers that do not speak ImageBytes. A 61 Mpx frame is ~370 MB of text;
`json.loads` would turn it into 61 million Python ints (gigabytes). Instead the decoder scans the
`Value` array a few megabytes at a time with numpy (digit runs become numbers, brackets give the
shape) and places values straight into the frame; only the small envelope around `Value` goes
through `json`. The encoder, used by the simulator's server, formats column blocks the same way and
knows the exact Content-Length before it sends a byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.alpaca.imagebytes import ImageFormatError, columns_per_chunk
from drivers.base import Frame

DEFAULT_CHUNK_BYTES = 1024 * 1024
_VALUE_KEY = re.compile(rb'"Value"\s*:\s*')
_HEAD_LIMIT = 1024 * 1024
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[[ord(c) for c in "0123456789,[] \t\r\n"]] = True
_POWERS = 10 ** np.arange(4, -1, -1, dtype=np.int32)  # 10000 .. 1, for formatting

Read = Callable[[int], bytes]


@dataclass
class JsonImage:
    """The response envelope (everything but `Value`) and the frame, None when Value was no array."""

    envelope: dict[str, Any]
    frame: Frame | None


def decode_json_image(
    read: Read,
    *,
    expected: tuple[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    on_chunk: Callable[[], None] | None = None,
) -> JsonImage:
    """Parse an ImageArray JSON response from a stream (`read(n)` returns b"" at the end).

    `expected` is (cols, rows) when the caller knows the subframe: the frame is then allocated once
    and filled in place; otherwise values are kept in chunks and assembled at the end.
    """
    head = bytearray()
    match = None
    while match is None:
        data = read(chunk_bytes)
        if not data:
            return JsonImage(_envelope(bytes(head)), None)
        scan_from = max(0, len(head) - 16)  # the key may straddle two reads
        head += data
        match = _VALUE_KEY.search(head, scan_from)
        if match is None and len(head) > _HEAD_LIMIT:
            raise ImageFormatError("ImageArray response has no Value in its first megabyte")
    rest = bytes(head[match.end() :]).lstrip()
    before = bytes(head[: match.start()])
    while not rest:
        data = read(chunk_bytes)
        if not data:
            raise ImageFormatError("ImageArray response ends right after its Value key")
        rest = data.lstrip()
    if rest[0] != _OPEN:
        whole = before + b'"Value":' + rest + _read_all(read, chunk_bytes)
        envelope = _envelope(whole)
        envelope.pop("Value", None)
        return JsonImage(envelope, None)
    scanner = _ArrayScanner(expected)
    tail = scanner.feed(rest)
    while tail is None:
        data = read(chunk_bytes)
        if not data:
            raise ImageFormatError("ImageArray JSON ends inside the Value array")
        tail = scanner.feed(data)
        if on_chunk is not None:
            on_chunk()
    frame = scanner.finish()
    envelope = _envelope(before + b'"Value":null' + tail + _read_all(read, chunk_bytes))
    envelope.pop("Value", None)
    return JsonImage(envelope, frame)


def _read_all(read: Read, chunk_bytes: int) -> bytes:
    parts = []
    while data := read(chunk_bytes):
        parts.append(data)
    return b"".join(parts)


def _envelope(text: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise ImageFormatError(f"ImageArray response is not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ImageFormatError("ImageArray response is not a JSON object")
    return parsed


class _ArrayScanner:
    """Consumes the text of a [[...],[...]] array chunk by chunk, in the ASCOM [x][y] order."""

    def __init__(self, expected: tuple[int, int] | None) -> None:
        self._depth = 0
        self._carry = b""
        self._seen = 0  # values scanned so far (column checks)
        self._placed = 0  # values written to the frame or kept in _pending
        self._rows: int | None = None
        self._columns = 0
        self._pending: list[npt.NDArray[np.uint16]] = []
        self._expected = expected
        self._frame: Frame | None = None
        if expected is not None:
            self._frame = np.empty((expected[1], expected[0]), dtype=np.uint16)

    def feed(self, data: bytes) -> bytes | None:
        """Scan one chunk; returns what follows the array once it closes, else None."""
        buf = np.frombuffer(self._carry + data, dtype=np.uint8)
        self._carry = b""
        depth = self._depth + np.cumsum((buf == _OPEN).astype(np.int32) - (buf == _CLOSE))
        closed = np.flatnonzero(depth == 0)
        end = int(closed[0]) if closed.size else None
        section = buf if end is None else buf[: end + 1]
        section_depth = depth[: section.size]
        if section_depth.size and (section_depth.max() > 2 or section_depth.min() < 0):
            raise ImageFormatError("ImageArray is not a two-dimensional (monochrome) array")
        if not _ALLOWED[section].all():
            raise ImageFormatError(
                "ImageArray holds a value that is not a whole number in 0..65535 (negative, fractional or text)"
            )
        digit = (section >= 48) & (section <= 57)
        if end is None and digit.size and digit[-1]:
            separators = np.flatnonzero(~digit)
            cut = int(separators[-1]) + 1 if separators.size else 0
            self._carry = section[cut:].tobytes()
            section, digit, section_depth = section[:cut], digit[:cut], section_depth[:cut]
        edges = np.diff(digit.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1)
        stops = np.flatnonzero(edges == -1)
        if starts.size and np.any(section_depth[starts] != 2):
            raise ImageFormatError("ImageArray is not a two-dimensional (monochrome) array")
        self._close_columns(section, section_depth, stops)
        self._seen += starts.size
        self._place(_numbers(section, starts, stops))
        self._depth = int(depth[-1]) if end is None else 0
        return None if end is None else buf[end + 1 :].tobytes()

    def _close_columns(
        self, section: npt.NDArray[np.uint8], depth: npt.NDArray[np.int32], stops: npt.NDArray[np.intp]
    ) -> None:
        closes = np.flatnonzero((section == _CLOSE) & (depth == 1))
        if not closes.size:
            return
        counts = self._seen + np.searchsorted(stops, closes, side="right")
        if self._rows is None:
            self._rows = int(counts[0])
            if self._rows == 0:
                raise ImageFormatError("ImageArray has an empty column")
            if self._expected is not None and self._rows != self._expected[1]:
                raise ImageFormatError(f"the image is {self._rows} rows high, expected {self._expected[1]} (NumY)")
        wanted = self._rows * (self._columns + 1 + np.arange(closes.size))
        if not np.array_equal(counts, wanted):
            raise ImageFormatError("ImageArray columns have different lengths")
        self._columns += closes.size

    def _place(self, values: npt.NDArray[np.uint16]) -> None:
        if self._frame is None or self._rows is None:
            # no frame to fill, or the first column still open (its length unknown): keep for later
            if values.size:
                self._pending.append(values)
            if self._frame is None:
                self._placed += values.size
            return
        if self._pending:
            values = np.concatenate([*self._pending, values])
            self._pending = []
        position = self._placed + np.arange(values.size, dtype=np.int64)
        x, y = np.divmod(position, self._rows)
        if x.size and x[-1] >= self._frame.shape[1]:
            raise ImageFormatError(f"the image is wider than the expected {self._frame.shape[1]} columns (NumX)")
        self._frame[y, x] = values
        self._placed += values.size

    def finish(self) -> Frame:
        if self._rows is None or self._columns == 0:
            raise ImageFormatError("ImageArray is empty")
        if self._pending and self._frame is not None:
            self._place(np.empty(0, dtype=np.uint16))
        cols, rows = self._columns, self._rows
        if self._frame is not None:
            if cols != self._frame.shape[1]:
                raise ImageFormatError(f"the image is {cols} columns wide, expected {self._frame.shape[1]} (NumX)")
            return self._frame
        flat = np.concatenate(self._pending) if self._pending else np.empty(0, dtype=np.uint16)
        self._pending = []
        return np.ascontiguousarray(flat.reshape(cols, rows).T)


def _numbers(
    section: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp], stops: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint16]:
    """The decimal numbers at [start, stop) runs of digits, vectorised; 16-bit range enforced.

    Horner's rule over the last five digits of every run at once: O(runs) memory per step.
    """
    if not starts.size:
        return np.empty(0, dtype=np.uint16)
    if int((stops - starts).max()) > 5:
        raise ImageFormatError("ImageArray holds a value above 65535")
    values = np.zeros(starts.size, dtype=np.int32)
    for back in range(5, 0, -1):  # the digit `back` places before each run's end
        position = stops - back
        present = position >= starts
        digits = section[np.where(present, position, 0)].astype(np.int32) - 48
        values = values * 10 + np.where(present, digits, 0)
    if values.max() > 65535:
        raise ImageFormatError("ImageArray holds a value above 65535")
    return values.astype(np.uint16)


def encode_json_image(
    frame: Frame,
    *,
    client_transaction_id: int,
    server_transaction_id: int,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[int, Iterator[bytes]]:
    """(Content-Length, byte chunks) of an ImageArray JSON response for a uint16 frame."""
    prefix = b'{"Type":2,"Rank":2,"Value":['
    suffix = (
        f'],"ClientTransactionID":{client_transaction_id},"ServerTransactionID":{server_transaction_id},'
        '"ErrorNumber":0,"ErrorMessage":""}'
    ).encode()
    rows, cols = frame.shape
    step = columns_per_chunk(rows, 8, chunk_bytes)
    digits = 0
    for x0 in range(0, cols, step):
        block = frame[:, x0 : x0 + step]
        digits += block.size + sum(int(np.count_nonzero(block >= limit)) for limit in (10, 100, 1000, 10000))
    length = len(prefix) + digits + rows * cols + cols + (cols - 1) + len(suffix)

    def chunks() -> Iterator[bytes]:
        yield prefix
        for x0 in range(0, cols, step):
            yield _format_columns(frame[:, x0 : x0 + step], first=x0 == 0)
        yield suffix

    return length, chunks()


def _format_columns(block: Frame, *, first: bool) -> bytes:
    """Columns as text: `[v,v,...,v]` each, joined by commas, led by a comma unless first."""
    rows = block.shape[0]
    values = block.T.ravel().astype(np.int32)
    n = values.size
    chars = np.empty((n, 8), dtype=np.uint8)  # 2 prefix slots, 5 digits, 1 separator
    keep = np.zeros((n, 8), dtype=bool)
    chars[:, 2:7] = (values[:, None] // _POWERS) % 10 + 48
    ndigits = 1 + (values >= 10) + (values >= 100) + (values >= 1000) + (values >= 10000)
    keep[:, 2:7] = np.arange(5) >= (5 - ndigits)[:, None]
    heads = np.arange(0, n, rows)
    chars[heads, 0], chars[heads, 1] = _COMMA, _OPEN
    keep[heads, 1] = True
    keep[heads, 0] = True
    if first:
        keep[0, 0] = False
    chars[:, 7] = _COMMA
    chars[heads + rows - 1, 7] = _CLOSE
    keep[:, 7] = True
    return chars[keep].tobytes()
