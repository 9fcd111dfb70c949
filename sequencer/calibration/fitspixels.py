"""Rows of a FITS image read straight from the file (a combine over 30 full frames holds a strip of each),
or the whole image read once into an array the caller holds (`flatstack`: the flats held in memory).

`os.preadv` into a buffer (no memory map, so the process's memory is only what it allocates), values
exact: BITPIX 16 with BZERO 32768 (flatseq's and N.I.N.A.'s uint16) comes back as uint16.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from sequencer.calibration.frames import BITPIX_DTYPES, FrameError, FrameInfo, check_data_length

FITS_BLOCK = 2880


class FitsPixels:
    """Rows of a primary-HDU FITS image, read with `os.pread` (no memory map, so memory use is ours only).

    Values are exact: BITPIX 16 with BZERO 32768 (flatseq's and N.I.N.A.'s uint16) comes back as uint16.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            with open(self.path, "rb") as handle:
                cards, data_offset = _read_header_cards(handle, self.path)
        except OSError as exc:
            raise FrameError(f"{path}: cannot read ({exc.strerror or exc})") from None
        try:
            bitpix = int(cards["BITPIX"])
            if int(cards["NAXIS"]) != 2:
                raise FrameError(f"{path}: NAXIS = {cards['NAXIS']}, expected a 2-D image")
            cols, rows = int(cards["NAXIS1"]), int(cards["NAXIS2"])
            bzero = float(cards.get("BZERO", 0.0))
            bscale = float(cards.get("BSCALE", 1.0))
        except KeyError as exc:
            raise FrameError(f"{path}: missing keyword {exc.args[0]}") from None
        except ValueError as exc:
            raise FrameError(f"{path}: bad image keyword ({exc})") from None
        check_data_length(self.path, data_offset, bitpix, (rows, cols))
        self._stored = np.dtype(BITPIX_DTYPES[bitpix])
        self._offset = data_offset
        self.shape = (rows, cols)
        self._bzero, self._bscale = bzero, bscale
        self._unsigned16 = bitpix == 16 and bzero == 32768.0 and bscale == 1.0
        if self._unsigned16:
            self.dtype: np.dtype[np.generic] = np.dtype(np.uint16)
        elif bscale == 1.0 and bzero == 0.0:
            self.dtype = self._stored.newbyteorder("=")
        else:
            self.dtype = np.dtype(np.float64)
        self._fd: int | None = None

    def open(self) -> FitsPixels:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FitsPixels:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_rows(self, start: int, stop: int) -> npt.NDArray[np.generic]:
        """Rows [start, stop) as exact values in `self.dtype` (uint16 for flatseq/N.I.N.A. frames)."""
        rows, cols = self.shape
        start, stop = max(0, start), min(rows, stop)
        buf = bytearray((stop - start) * cols * self._stored.itemsize)
        self._pread(memoryview(buf), start, stop)
        if self._unsigned16:
            raw16 = np.frombuffer(buf, dtype=">u2").reshape(stop - start, cols)
            values: npt.NDArray[np.uint16] = np.bitwise_xor(raw16, np.uint16(0x8000), dtype=np.uint16)
            return values  # native byte order; flipping the top bit is adding BZERO 32768
        raw = np.frombuffer(buf, dtype=self._stored).reshape(stop - start, cols)
        if self.dtype == np.float64 and (self._bscale != 1.0 or self._bzero != 0.0):
            return raw.astype(np.float64) * self._bscale + self._bzero
        return raw.astype(self.dtype)

    def read_into(self, out: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """The whole image into `out` (C-contiguous, `self.shape`, `self.dtype`), the file read once.

        uint16 frames are read straight into `out` and converted there (no second frame-sized buffer);
        other types go through `read_rows`.
        """
        if out.shape != self.shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError(f"{self.path}: read_into needs a C-contiguous {self.dtype} array of {self.shape}")
        if not self._unsigned16:
            out[...] = self.read_rows(0, self.shape[0])
            return out
        self._pread(out.data.cast("B"), 0, self.shape[0])
        if sys.byteorder == "little":
            out.byteswap(inplace=True)  # the file is big-endian
        np.bitwise_xor(out, np.uint16(0x8000), out=out)  # adding BZERO 32768
        return out

    def _pread(self, view: memoryview, start: int, stop: int) -> None:
        """Fill `view` with the stored bytes of rows [start, stop)."""
        nbytes = len(view)
        offset = self._offset + start * self.shape[1] * self._stored.itemsize
        fd = self._fd if self._fd is not None else os.open(self.path, os.O_RDONLY)
        try:
            got = 0
            while got < nbytes:
                n = os.preadv(fd, [view[got:]], offset + got)
                if n <= 0:
                    raise FrameError(f"{self.path}: truncated while reading rows {start}-{stop}")
                got += n
        finally:
            if self._fd is None:
                os.close(fd)

    def read(self) -> npt.NDArray[np.generic]:
        return self.read_rows(0, self.shape[0])


def _read_header_cards(handle: BinaryIO, path: Path) -> tuple[dict[str, str], int]:
    """The primary header's value cards and the byte offset where its data starts."""
    cards: dict[str, str] = {}
    offset = 0
    while True:
        block = handle.read(FITS_BLOCK)
        if len(block) < FITS_BLOCK:
            raise FrameError(f"{path}: not a FITS file (no END card)")
        offset += FITS_BLOCK
        text = block.decode("ascii", errors="replace")
        if offset == FITS_BLOCK and not text.startswith("SIMPLE  ="):
            raise FrameError(f"{path}: not a FITS file (no SIMPLE card)")
        for i in range(0, FITS_BLOCK, 80):
            card = text[i : i + 80]
            key = card[:8].strip()
            if key == "END":
                return cards, offset
            if card[8:10] == "= " and key not in cards:
                value = card[10:].split("/", 1)[0].strip()
                cards[key] = value


@contextlib.contextmanager
def opened(frames: Sequence[FrameInfo]) -> Iterator[list[FitsPixels]]:
    """The frames' pixels as sources to combine, every file closed when the block ends."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(FitsPixels(f.path)) for f in frames]
