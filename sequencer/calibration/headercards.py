"""The primary header of a FITS file, and nothing else: 2880-byte blocks read up to the END card.

`flatseq plan` reads thousands of light frames' headers at the end of a night. astropy's `fits.getheader`
parses every card into objects and seeks past the data; here only the blocks up to END are read (a light of
120 MB costs one or two 2880-byte reads) and a card is parsed only when its value is asked for. The card
grammar is the FITS standard's (4.0, section 4.2): keyword in columns 1-8, the value indicator ``= `` in
columns 9-10, then a fixed- or free-format value: a quoted string (``''`` for a quote), T or F, an integer or
a real (``E`` or ``D`` exponent), followed by an optional ``/`` comment.

Every file is untrusted: a first card that is not SIMPLE = T, a header with no END within `MAX_BLOCKS`
blocks, or a value that is not what its card claims is a `HeaderError` naming the file and the keyword.
"""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path
from typing import BinaryIO

from drivers.errors import ConfigError, quoted

BLOCK = 2880
CARD = 80
MAX_BLOCKS = 100
"""A header of more than 100 blocks (8 000 cards) is not an imaging program's header."""

_INTEGER = re.compile(r"[+-]?\d+")
_REAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?")

CardValue = str | int | float | bool | None


class HeaderError(ConfigError):
    """A file whose primary header cannot be read; the message names the file (and the keyword)."""


class Cards:
    """A primary header's cards by keyword (the first card of a keyword wins), values parsed on demand."""

    def __init__(self, path: Path, raw: dict[str, str]) -> None:
        self.path = path
        self._raw = raw

    def __contains__(self, keyword: str) -> bool:
        return keyword in self._raw

    def keywords(self) -> list[str]:
        return list(self._raw)

    def value(self, keyword: str) -> CardValue:
        """The card's value: str, int, float, bool, or None for a card with no value (``KEY =`` blank)."""
        text = self._raw.get(keyword)
        if text is None:
            return None
        return parse_value(text, self.path, keyword)


def parse_value(text: str, path: Path | str, keyword: str) -> CardValue:
    """One card's value field (columns 11-80), as the FITS standard writes it."""
    field = text.strip()
    if not field or field.startswith("/"):
        return None
    if field.startswith("'"):
        return _string(field, path, keyword)
    token = field.split("/", 1)[0].strip()
    if token in ("T", "F"):
        return token == "T"
    if _INTEGER.fullmatch(token):
        return int(token)
    if _REAL.fullmatch(token):
        number = float(token.replace("D", "E").replace("d", "e"))
        if math.isfinite(number):
            return number
    raise HeaderError(f"{path}: {keyword}: the value {quoted(token, 40)} is not a FITS value")


def _string(field: str, path: Path | str, keyword: str) -> str:
    """A quoted string; ``''`` inside is one quote; trailing spaces are not significant (FITS 4.2.1.1)."""
    out, i = [], 1
    while i < len(field):
        ch = field[i]
        if ch == "'":
            if i + 1 < len(field) and field[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out).rstrip()
        out.append(ch)
        i += 1
    raise HeaderError(f"{path}: {keyword}: a string with no closing quote")


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary file, as open("rb") is
    return path.open("rb")


def read_cards(path: Path) -> Cards:
    """The primary header of `path`: blocks read until the END card, never the data."""
    raw: dict[str, str] = {}
    try:
        with _open(path) as handle:
            for block_no in range(MAX_BLOCKS):
                block = handle.read(BLOCK)
                if len(block) < BLOCK:
                    what = "an empty file" if block_no == 0 and not block else "ends inside its header"
                    raise HeaderError(f"{path}: not a FITS file ({what})")
                if block_no == 0 and not _is_primary(block):
                    raise HeaderError(f"{path}: not a FITS file (it does not start with SIMPLE = T)")
                if _cards_of(block, raw):
                    return Cards(path, raw)
    except FileNotFoundError:
        raise HeaderError(f"{path}: no such file") from None
    except (OSError, EOFError) as exc:  # unreadable, or a damaged gzip stream
        raise HeaderError(f"{path}: cannot be read ({' '.join(str(exc).split())})") from None
    raise HeaderError(f"{path}: no END card in the first {MAX_BLOCKS} header blocks: not a FITS header")


def _is_primary(block: bytes) -> bool:
    first = block[:CARD].decode("ascii", "replace")
    return first[:8] == "SIMPLE  " and first[8:10] == "= " and first[10:].split("/", 1)[0].strip() == "T"


def _cards_of(block: bytes, raw: dict[str, str]) -> bool:
    """Add one block's valued cards to `raw`; True when the block holds the END card."""
    text = block.decode("ascii", "replace")
    for start in range(0, BLOCK, CARD):
        card = text[start : start + CARD]
        keyword = card[:8].rstrip()
        if keyword == "END":
            return True
        if card[8:10] == "= " and keyword not in raw:
            raw[keyword] = card[10:]
    return False
