"""The Alnitak (Flip-Flat / Flat-Man) serial frame codec: commands out, replies in, nothing else.

A command is `>` + letter + 3 characters (a value such as `128`, or a filler) + a terminator; a reply is
`*` + letter + 2-digit product id + 3 characters + a terminator. The published spec fills unused places
with the letter `O`, INDI's driver (proven on genuine Flip-Flats for years) with the digit `0`, and the
clones copy one or the other, so replies are accepted with either. Kept free of I/O so the driver and
its tests share one definition of a well-formed reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRODUCTS: dict[int, str] = {
    10: "Flat-Man XL",
    15: "Flat-Man L",
    19: "Flat-Man",
    98: "Flip-Mask",
    99: "Flip-Flat",
}
"""Product ids the Alnitak firmware reports in every reply, and the product's name."""

COVER_PRODUCTS = frozenset({98, 99})
"""Products with a motorised cover (the Flip-Mask is a cover without a light)."""

LIGHTLESS_PRODUCTS = frozenset({98})
"""Products that have no light at all."""

FILLERS = ("000", "OOO")
"""Both filler spellings seen in the wild: INDI's digits and the published spec's letters."""

TERMINATORS: dict[str, bytes] = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}

BRIGHTNESS_MIN = 0
BRIGHTNESS_MAX = 255

COMMAND_LETTERS = frozenset("POCLDBJSV")
"""Ping, Open, Close, Light on, Dark (light off), Brightness set, Just-read brightness, Status, Version."""

_REPLY = re.compile(rb"\*([A-Z])(\d\d)(.{3})\Z", re.DOTALL)


class MalformedReply(ValueError):
    """A line that is not a well-formed reply to the command just sent (garbage, or stale)."""


def product_name(product_id: int) -> str:
    """The product's name; unknown ids are treated as Alnitak-compatible light panels (as INDI does)."""
    return PRODUCTS.get(product_id, f"Alnitak-compatible panel (id {product_id:02d})")


def encode_command(letter: str, value: int | None = None, *, filler: str = "000", eol: str = "lf") -> bytes:
    """One command frame, e.g. `encode_command("B", 128)` → b">B128\\n"."""
    if letter not in COMMAND_LETTERS:
        raise ValueError(f"unknown Alnitak command letter {letter!r}")
    if value is None:
        body = filler
    else:
        if not BRIGHTNESS_MIN <= value <= BRIGHTNESS_MAX:
            raise ValueError(f"Alnitak command value {value} outside 0-255")
        body = f"{value:03d}"
    return b">" + letter.encode("ascii") + body.encode("ascii") + TERMINATORS[eol]


@dataclass(frozen=True)
class Reply:
    """A decoded reply: its letter, the product id and the 3 data characters."""

    letter: str
    product_id: int
    data: str
    raw: bytes

    def number(self) -> int:
        """The 3 data characters as a number (brightness, firmware version)."""
        if not self.data.isdigit():
            raise MalformedReply(f"expected 3 digits in {self.text!r}")
        return int(self.data)

    @property
    def text(self) -> str:
        return self.raw.decode("latin-1")


@dataclass(frozen=True)
class Status:
    """`*Siiqrs`: q motor running, r light on, s cover (0 neither, 1 closed, 2 open, 3 timed out)."""

    motor_running: bool
    light_on: bool
    cover: int

    COVER_NEITHER = 0
    COVER_CLOSED = 1
    COVER_OPEN = 2
    COVER_TIMED_OUT = 3


def decode_reply(line: bytes, expected_letter: str) -> Reply:
    """Decode one reply line (terminator already removed) that must answer `expected_letter`.

    Leading noise before the last `*` (a power-on glitch, a half-flushed byte) is tolerated; anything
    else that is not exactly `*` + the expected letter + 2 digits + 3 valid data characters raises
    `MalformedReply`, so the caller flushes and resynchronises instead of trusting it.
    """
    star = line.rfind(b"*")
    candidate = line[star:] if star >= 0 else line
    match = _REPLY.match(candidate)
    if match is None:
        raise MalformedReply(f"not an Alnitak reply: {line!r}")
    letter = match.group(1).decode("ascii")
    if letter != expected_letter:
        raise MalformedReply(f"reply {candidate!r} answers >{letter}, not >{expected_letter}")
    data = match.group(3).decode("latin-1")
    reply = Reply(letter=letter, product_id=int(match.group(2)), data=data, raw=bytes(candidate))
    _check_data(reply)
    return reply


def _check_data(reply: Reply) -> None:
    if reply.letter in "POCLD":
        if reply.data not in FILLERS:
            raise MalformedReply(f"expected filler 000 or OOO in {reply.text!r}")
    elif reply.letter in "BJV":
        value = reply.number()
        if reply.letter != "V" and value > BRIGHTNESS_MAX:
            raise MalformedReply(f"brightness {value} outside 0-255 in {reply.text!r}")
    elif reply.letter == "S":
        decode_status(reply)


def decode_status(reply: Reply) -> Status:
    """The motor, light and cover fields of a status reply."""
    q, r, s = reply.data[0], reply.data[1], reply.data[2]
    if q not in "01" or r not in "01" or s not in "0123":
        raise MalformedReply(f"status fields must be q 0/1, r 0/1, s 0-3 in {reply.text!r}")
    return Status(motor_running=q == "1", light_on=r == "1", cover=int(s))


def split_line(buffer: bytes) -> tuple[bytes, bytes] | None:
    """(line, rest) at the first CR or LF after some content, or None if no line is complete yet.

    Terminators before any content (the LF of a CR LF pair, blank lines) are skipped, so replies ending
    LF, CR LF or CR all frame the same way.
    """
    start = 0
    while start < len(buffer) and buffer[start] in b"\r\n\x00":
        start += 1
    for index in range(start, len(buffer)):
        if buffer[index] in b"\r\n":
            return buffer[start:index], buffer[index + 1 :]
    return None
