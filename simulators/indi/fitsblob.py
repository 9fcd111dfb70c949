"""A simulated frame as INDI sends it: one FITS file (uint16 as BITPIX 16 + BZERO 32768, big-endian), base64 in
a `setBLOBVector`, produced a few megabytes at a time while it is sent, so a 122 MB IMX455 frame never exists
as a 160 MB string on the server either."""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import quoteattr

import numpy as np
import pybase64

from drivers.base import Frame
from simulators.indi.properties import timestamp

BLOCK = 2880
CHUNK_BYTES = 3 * 1024 * 1024  # a multiple of 3 and 2: base64 pieces join up, rows split evenly enough

Card = tuple[str, str | float | int | bool, str]


def header_bytes(cards: list[Card]) -> bytes:
    """80-character cards, END, padded with spaces to whole 2880-byte blocks."""
    lines = []
    for key, value, comment in cards:
        if isinstance(value, bool):
            shown = f"{'T' if value else 'F':>20}"
        elif isinstance(value, int):
            shown = f"{value:>20d}"
        elif isinstance(value, float):
            shown = f"{value:>20.10G}"
        else:
            quoted = "'" + value.replace("'", "''").ljust(8) + "'"
            shown = f"{quoted:<20}"
        lines.append(f"{key:<8}= {shown} / {comment}"[:80].ljust(80))
    lines.append("END".ljust(80))
    raw = "".join(lines).encode("ascii")
    return raw + b" " * (-len(raw) % BLOCK)


class FitsBlob:
    """The FITS file of one frame, streamed as the text of a `setBLOBVector` message."""

    def __init__(self, device: str, frame: Frame, cards: list[Card], now: float) -> None:
        rows, cols = frame.shape
        structural: list[Card] = [
            ("SIMPLE", True, "conforms to FITS"),
            ("BITPIX", 16, "16-bit integers"),
            ("NAXIS", 2, "a 2-D image"),
            ("NAXIS1", int(cols), "columns"),
            ("NAXIS2", int(rows), "rows"),
            ("BZERO", 32768, "unsigned 16-bit stored signed"),
            ("BSCALE", 1, "no scaling"),
            ("ROWORDER", "TOP-DOWN", "first row read out first"),
        ]
        self.device = device
        self.frame = frame
        self.header = header_bytes(structural + cards)
        self.padding = -frame.nbytes % BLOCK
        self.length = len(self.header) + frame.nbytes + self.padding
        self.now = now

    def chunks(self) -> Iterator[bytes]:
        """The whole message, piece by piece: opening tags, base64 of header, pixels and padding, closing tags."""
        yield (
            f'<setBLOBVector device={quoteattr(self.device)} name="CCD1" state="Ok" timeout="60" '
            f'timestamp="{timestamp(self.now)}">\n<oneBLOB name="CCD1" size="{self.length}" format=".fits" '
            f'len="{self.length}">\n'
        ).encode()
        yield pybase64.b64encode(self.header)  # 2880 bytes per block: a multiple of 3
        flat = self.frame.reshape(-1)
        step = CHUNK_BYTES // 2
        carry = b""
        for start in range(0, flat.size, step):
            stored = np.bitwise_xor(flat[start : start + step], np.uint16(0x8000)).astype(">u2")
            data = carry + stored.tobytes()
            whole = len(data) - len(data) % 3
            carry = data[whole:]
            yield pybase64.b64encode(memoryview(data)[:whole])
        tail = carry + b"\0" * self.padding  # header + pixels + padding is whole blocks: a multiple of 3
        if tail:
            yield pybase64.b64encode(tail)
        yield b"\n</oneBLOB>\n</setBLOBVector>\n"
