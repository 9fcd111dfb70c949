"""ASCOM Alpaca ImageBytes: the binary form of Camera.ImageArray (Alpaca API Reference, section 8).

A 44-byte little-endian metadata header, then either the pixels in the ASCOM [x][y] order (the
height index changes fastest) or, when ErrorNumber is non-zero, a UTF-8 error message. Decoding
streams the pixels into one preallocated (rows, cols) uint16 frame a few megabytes at a time, so a
61 Mpx download never holds more than the frame plus one chunk; encoding yields column blocks the
same way. Both the driver and the simulator's server use this module.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.base import Frame

MIME_TYPE = "application/imagebytes"
METADATA_VERSION = 1
HEADER = struct.Struct("<iiIIiiiiiii")
HEADER_SIZE = HEADER.size  # 44
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024


class ElementType(enum.IntEnum):
    """ImageArrayElementTypes: what the camera holds and what travels on the wire."""

    UNKNOWN = 0
    INT16 = 1
    INT32 = 2
    DOUBLE = 3
    SINGLE = 4
    UINT64 = 5
    BYTE = 6
    INT64 = 7
    UINT16 = 8
    UINT32 = 9


WIRE_DTYPES: dict[ElementType, str] = {
    ElementType.INT16: "<i2",
    ElementType.INT32: "<i4",
    ElementType.DOUBLE: "<f8",
    ElementType.SINGLE: "<f4",
    ElementType.UINT64: "<u8",
    ElementType.BYTE: "u1",
    ElementType.INT64: "<i8",
    ElementType.UINT16: "<u2",
    ElementType.UINT32: "<u4",
}


class ImageFormatError(ValueError):
    """The image data is malformed or cannot be a 16-bit monochrome frame; the driver names the device."""


@dataclass(frozen=True)
class ImageBytesHeader:
    """The metadata structure, version 1, field for field."""

    error_number: int = 0
    client_transaction_id: int = 0
    server_transaction_id: int = 0
    data_start: int = HEADER_SIZE
    image_element_type: int = ElementType.INT32
    transmission_element_type: int = ElementType.UINT16
    rank: int = 2
    dimension1: int = 0
    dimension2: int = 0
    dimension3: int = 0
    metadata_version: int = METADATA_VERSION

    def pack(self) -> bytes:
        return HEADER.pack(
            self.metadata_version,
            self.error_number,
            self.client_transaction_id & 0xFFFFFFFF,
            self.server_transaction_id & 0xFFFFFFFF,
            self.data_start,
            self.image_element_type,
            self.transmission_element_type,
            self.rank,
            self.dimension1,
            self.dimension2,
            self.dimension3,
        )

    @classmethod
    def unpack(cls, data: bytes) -> ImageBytesHeader:
        if len(data) < HEADER_SIZE:
            raise ImageFormatError(f"ImageBytes response is {len(data)} bytes, shorter than its 44-byte header")
        fields = HEADER.unpack(data[:HEADER_SIZE])
        header = cls(
            metadata_version=fields[0],
            error_number=fields[1],
            client_transaction_id=fields[2],
            server_transaction_id=fields[3],
            data_start=fields[4],
            image_element_type=fields[5],
            transmission_element_type=fields[6],
            rank=fields[7],
            dimension1=fields[8],
            dimension2=fields[9],
            dimension3=fields[10],
        )
        if header.metadata_version != METADATA_VERSION:
            raise ImageFormatError(f"ImageBytes metadata version {header.metadata_version} is not supported")
        if header.data_start < HEADER_SIZE:
            raise ImageFormatError(f"ImageBytes DataStart {header.data_start} points inside the header")
        return header

    def wire_dtype(self) -> np.dtype[np.generic]:
        """Dtype of the transmitted elements; ImageFormatError for what a mono frame cannot be."""
        if self.rank != 2:
            raise ImageFormatError(
                f"the camera sent a rank-{self.rank} (colour) image; flatseq takes monochrome frames"
            )
        if self.dimension1 <= 0 or self.dimension2 <= 0:
            raise ImageFormatError(f"the image is {self.dimension1}x{self.dimension2} pixels")
        try:
            code = WIRE_DTYPES[ElementType(self.transmission_element_type)]
        except (KeyError, ValueError):
            raise ImageFormatError(
                f"unknown ImageBytes transmission element type {self.transmission_element_type}"
            ) from None
        return np.dtype(code)

    @property
    def pixel_bytes(self) -> int:
        return self.dimension1 * self.dimension2 * self.wire_dtype().itemsize


def error_payload(error_number: int, message: str, *, client_transaction_id: int, server_transaction_id: int) -> bytes:
    """An ImageBytes error response: the header with ErrorNumber set, then the UTF-8 message."""
    header = ImageBytesHeader(
        error_number=error_number,
        client_transaction_id=client_transaction_id,
        server_transaction_id=server_transaction_id,
        image_element_type=ElementType.UNKNOWN,
        transmission_element_type=ElementType.UNKNOWN,
        rank=0,
    )
    return header.pack() + message.encode("utf-8")


def frame_header(frame: Frame, *, client_transaction_id: int, server_transaction_id: int) -> ImageBytesHeader:
    """Header for a uint16 frame: Int32 image elements (ASCOM's ImageArray type) sent as UInt16."""
    rows, cols = frame.shape
    return ImageBytesHeader(
        client_transaction_id=client_transaction_id,
        server_transaction_id=server_transaction_id,
        image_element_type=ElementType.INT32,
        transmission_element_type=ElementType.UINT16,
        rank=2,
        dimension1=cols,
        dimension2=rows,
    )


def columns_per_chunk(rows: int, itemsize: int, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // max(1, rows * itemsize))


def iter_pixel_chunks(frame: Frame, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[memoryview]:
    """The pixels in [x][y] order, a block of whole columns at a time, as little-endian UInt16."""
    rows, cols = frame.shape
    step = columns_per_chunk(rows, 2, chunk_bytes)
    for x0 in range(0, cols, step):
        block = np.ascontiguousarray(frame[:, x0 : x0 + step].T, dtype="<u2")
        yield block.data.cast("B")


ReadInto = Callable[[memoryview], int]


def read_exactly(read_into: ReadInto, target: memoryview, *, what: str) -> None:
    """Fill `target` completely from a stream, or ImageFormatError if the stream ends first."""
    filled = 0
    total = len(target)
    while filled < total:
        got = read_into(target[filled:])
        if not got:
            raise ImageFormatError(f"the {what} ended after {filled} of {total} bytes")
        filled += got


def decode_pixels(
    read_into: ReadInto,
    header: ImageBytesHeader,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    on_chunk: Callable[[], None] | None = None,
) -> Frame:
    """Stream the pixels after the header into a new (rows, cols) uint16 frame.

    `read_into` must be positioned at DataStart. Wider element types are range-checked per chunk:
    a value outside 0..65535 cannot be a 16-bit frame and is refused rather than wrapped. `on_chunk`
    runs after each chunk (the driver checks its download deadline there).
    """
    dtype = header.wire_dtype()
    cols, rows = header.dimension1, header.dimension2
    frame: Frame = np.empty((rows, cols), dtype=np.uint16)
    step = columns_per_chunk(rows, dtype.itemsize, chunk_bytes)
    buffer: npt.NDArray[np.generic] = np.empty(step * rows, dtype=dtype)
    for x0 in range(0, cols, step):
        n = min(step, cols - x0)
        values = buffer[: n * rows]
        read_exactly(read_into, values.data.cast("B"), what="ImageBytes pixel data")
        block = values.reshape(n, rows)
        if dtype != np.dtype("<u2") and dtype != np.dtype("u1"):
            _check_16bit(block)
        frame[:, x0 : x0 + n] = block.T
        if on_chunk is not None:
            on_chunk()
    return frame


def _check_16bit(block: npt.NDArray[np.generic]) -> None:
    if block.dtype.kind == "f" and not np.isfinite(block).all():
        raise ImageFormatError("pixel values include NaN or infinity")
    low, high = block.min(), block.max()
    if low < 0 or high > 65535:
        raise ImageFormatError(f"pixel values span {low}..{high}, outside the 16-bit range 0..65535")
    if block.dtype.kind == "f" and not np.array_equal(block, np.rint(block)):
        raise ImageFormatError("pixel values are not whole numbers")
