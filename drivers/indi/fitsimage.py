"""A camera's FITS BLOB → the frame and what the camera says it did, without a file and without a copy.

INDI cameras send each image as one FITS file: 2880-byte header blocks of 80-character cards, then the
pixels, big-endian. A 16-bit camera writes BITPIX 16 with BZERO 32768 (unsigned values stored signed). The
pixels are turned into native uint16 in place, in the buffer the BLOB was decoded into: flipping the sign bit
of each stored value adds the 32768 back, and a byte swap makes them native. The frame is a view of that
buffer. EXPTIME and DATE-OBS come from the same header: the camera's own account of the exposure.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from drivers.base import ExposureReport, Frame

BLOCK = 2880
CARD = 80


class FitsError(ValueError):
    """The BLOB is not a FITS image flatseq can take (the message says what is wrong)."""


@dataclass(frozen=True)
class FitsImage:
    frame: Frame
    header: dict[str, str | float | int | bool]

    def exposure(self) -> ExposureReport:
        """EXPTIME and DATE-OBS (exposure start, UTC) as the camera wrote them; None where absent."""
        duration = self.header.get("EXPTIME")
        start = self.header.get("DATE-OBS")
        return ExposureReport(
            duration=float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
            start=fits_time(start) if isinstance(start, str) else None,
        )


def fits_time(text: str) -> float | None:
    """Seconds since the epoch from a FITS date (`2026-12-02T03:12:22.188`, UTC when no zone); None if not one."""
    try:
        moment = datetime.fromisoformat(text.strip().removesuffix("Z"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_header(data: npt.NDArray[np.uint8], size: int) -> tuple[dict[str, str | float | int | bool], int]:
    """The primary header's keywords and where the data start (a multiple of 2880)."""
    header: dict[str, str | float | int | bool] = {}
    offset = 0
    while offset + BLOCK <= size:
        block = bytes(data[offset : offset + BLOCK])
        offset += BLOCK
        for i in range(0, BLOCK, CARD):
            card = block[i : i + CARD].decode("ascii", "replace")
            keyword = card[:8].strip()
            if keyword == "END":
                return header, offset
            if card[8:10] == "= " and keyword:
                header[keyword] = _value(card[10:])
        if offset == BLOCK and not header.get("SIMPLE"):
            raise FitsError("the image is not FITS (no SIMPLE = T card)")
    raise FitsError("the FITS header has no END card")


def decode_fits(data: npt.NDArray[np.uint8], size: int) -> FitsImage:
    """The image in `data[:size]` as a (rows, cols) uint16 frame; the buffer is converted in place."""
    header, start = parse_header(data, size)
    bitpix, naxis = header.get("BITPIX"), header.get("NAXIS")
    if naxis != 2:
        raise FitsError(f"the image has NAXIS = {naxis!r}; flatseq takes monochrome 2-D frames (NAXIS = 2)")
    cols, rows = header.get("NAXIS1"), header.get("NAXIS2")
    if not isinstance(cols, int) or not isinstance(rows, int) or cols < 1 or rows < 1:
        raise FitsError(f"the image has no valid size (NAXIS1 = {cols!r}, NAXIS2 = {rows!r})")
    bzero, bscale = header.get("BZERO", 0), header.get("BSCALE", 1)
    if bscale not in (1, 1.0):
        raise FitsError(f"the image is scaled (BSCALE = {bscale!r}); flatseq takes raw ADU")
    count = rows * cols
    if bitpix == 16:
        if start + 2 * count > size:
            raise FitsError(f"the image holds {size - start} bytes of pixels, {rows}x{cols} need {2 * count}")
        if bzero not in (0, 0.0, 32768, 32768.0):
            raise FitsError(f"16-bit image with BZERO = {bzero!r}; expected 32768 (unsigned) or 0")
        pixels = np.frombuffer(data, dtype=np.uint16, count=count, offset=start)
        if sys.byteorder == "little":
            pixels.byteswap(inplace=True)  # FITS is big-endian; native order first, so the XOR runs natively
        if bzero in (32768, 32768.0):
            np.bitwise_xor(pixels, np.uint16(0x8000), out=pixels)  # stored signed: the sign bit is the 32768
        elif _any_negative(pixels):
            raise FitsError("16-bit image with negative pixel values (signed data, BZERO 0)")
        frame: Frame = pixels.reshape(rows, cols)
    elif bitpix == 8:
        if start + count > size:
            raise FitsError(f"the image holds {size - start} bytes of pixels, {rows}x{cols} need {count}")
        frame = data[start : start + count].astype(np.uint16).reshape(rows, cols)
    else:
        raise FitsError(f"the image has BITPIX = {bitpix!r}; flatseq takes 8- or 16-bit integer frames")
    return FitsImage(frame, header)


def _any_negative(pixels: npt.NDArray[np.uint16]) -> bool:
    return bool(np.any(pixels.view(np.int16) < 0))


def _value(text: str) -> str | float | int | bool:
    """A card's value: a quoted string, T/F, an integer or a float (the comment after '/' dropped)."""
    stripped = text.strip()
    if stripped.startswith("'"):
        out, i = [], 1
        while i < len(stripped):
            if stripped[i] == "'":
                if stripped[i + 1 : i + 2] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(stripped[i])
            i += 1
        return "".join(out).rstrip()
    token = stripped.split("/", 1)[0].strip()
    if token == "T":
        return True
    if token == "F":
        return False
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token.replace("D", "E"))
    except ValueError:
        return token
