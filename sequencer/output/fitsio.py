"""Encoding a uint16 frame as a FITS file, fast enough to hide behind the next exposure.

The bytes are exactly what astropy writes for a uint16 array (BITPIX 16, BZERO 32768, BSCALE 1, data
stored big-endian as value − 32768), but produced in a few megabytes at a time straight into the file:
no full-size converted copy of a 122 MB IMX455 frame, and the header block comes from astropy's own
`Header`. Subtracting 32768 from a uint16 is flipping its top bit, so the conversion is one XOR per pixel
into a big-endian buffer.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from drivers.base import Frame
from sequencer.core.atomicfile import Chunk, OutputError, write_new_file
from sequencer.output.header import FrameHeader, build_header

BLOCK = 2880
"""FITS files are made of 2880-byte blocks; header and data are each padded to a whole block."""

CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes converted and written at a time: small enough to stay in cache, large enough for few syscalls."""


def padded(nbytes: int) -> int:
    """`nbytes` rounded up to whole FITS blocks."""
    return -(-nbytes // BLOCK) * BLOCK


def check_frame(frame: Frame) -> None:
    """Refuse what would not round-trip as a uint16 image."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint16 or frame.ndim != 2:
        kind = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise OutputError(f"a frame must be a 2-D uint16 array, got a {kind}")
    if frame.size == 0:
        raise OutputError(f"a frame must have pixels, got shape {frame.shape}")


def _row_blocks(rows: int, cols: int, itemsize: int) -> Iterator[slice]:
    """Slices of whole rows, about `CHUNK_BYTES` each."""
    step = max(1, CHUNK_BYTES // (cols * itemsize))
    for start in range(0, rows, step):
        yield slice(start, min(start + step, rows))


def _padding(nbytes: int) -> bytes:
    return bytes(padded(nbytes) - nbytes)


def fits_chunks(frame: Frame, header: FrameHeader | fits.Header | Mapping[str, object]) -> Iterator[Chunk]:
    """The FITS file for `frame`, piece by piece: header block, converted rows, padding."""
    check_frame(frame)
    rows, cols = frame.shape
    yield build_header(rows, cols, header).tostring(endcard=True, padding=True).encode("ascii")
    buffer = np.empty((min(max(1, CHUNK_BYTES // (cols * 2)), rows), cols), dtype=">u2")
    for block in _row_blocks(rows, cols, 2):
        part = frame[block]
        out = buffer[: part.shape[0]]
        np.bitwise_xor(part, np.uint16(0x8000), out=out)
        yield out.view(np.uint8).reshape(-1).data  # valid until the next chunk is asked for
    if tail := _padding(rows * cols * 2):
        yield tail


def fit_comments(header: fits.Header) -> None:
    """Shorten each comment that would not fit its 80-character card (a long set id in CALFILE), where astropy
    would cut it with a warning on every write; long string values (CONTINUE cards) are left as they are."""
    for index, card in enumerate(header.cards):
        if card.keyword in ("COMMENT", "HISTORY", "") or not card.comment:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            image = fits.Card(card.keyword, card.value).image
        if len(image) > 80:  # a long string: astropy continues it over CONTINUE cards
            continue
        room = 80 - len(image.rstrip()) - 3
        if len(card.comment) > room:
            header.comments[index] = card.comment[: max(room, 0)].rstrip()


def float_chunks(image: npt.NDArray[np.floating], header: fits.Header) -> Iterator[Chunk]:
    """A float32 FITS file (BITPIX -32) for `image` with `header`'s cards after the structural ones; a
    float64 image is rounded a chunk at a time, with no frame-sized copy."""
    rows, cols = image.shape
    full = fits.Header()
    full["SIMPLE"] = (True, "conforms to FITS standard")
    full["BITPIX"] = (-32, "32-bit IEEE floating point")
    full["NAXIS"] = 2
    full["NAXIS1"] = cols
    full["NAXIS2"] = rows
    full.extend(header, unique=False)
    fit_comments(full)
    yield full.tostring(endcard=True, padding=True).encode("ascii")
    for block in _row_blocks(rows, cols, 4):
        yield image[block].astype(">f4").tobytes()
    if tail := _padding(rows * cols * 4):
        yield tail


def write_fits(path: Path, frame: Frame, header: FrameHeader | fits.Header | Mapping[str, object]) -> Path:
    """Write `frame` durably and atomically as `path` (or the next free ``_N`` name); return the name used.

    Never overwrites; raises `OutputError` naming the file, leaving no temporary file, on failure.
    """
    check_frame(frame)
    return write_new_file(path, fits_chunks(frame, header))


def write_float_fits(path: Path, image: npt.NDArray[np.floating], header: fits.Header) -> Path:
    """`write_fits` for a float image (a master): float32, atomic, never over an existing file."""
    return write_new_file(path, float_chunks(image, header))
