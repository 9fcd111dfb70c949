"""ImageBytes and JSON image codecs: the spec's byte layout and element order, streaming, refusals."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np
import pytest

from drivers.alpaca.imagebytes import (
    HEADER_SIZE,
    ElementType,
    ImageBytesHeader,
    ImageFormatError,
    decode_pixels,
    error_payload,
    frame_header,
    iter_pixel_chunks,
)
from drivers.alpaca.jsonimage import decode_json_image, encode_json_image


def _frame(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 65536, size=(rows, cols), dtype=np.uint16)
    frame.flat[0], frame.flat[-1] = 0, 65535
    return frame


def _imagebytes(frame: np.ndarray, chunk_bytes: int = 1 << 20) -> bytes:
    header = frame_header(frame, client_transaction_id=7, server_transaction_id=9).pack()
    return header + b"".join(bytes(chunk) for chunk in iter_pixel_chunks(frame, chunk_bytes=chunk_bytes))


def _decode(data: bytes, chunk_bytes: int = 1 << 20) -> np.ndarray:
    stream = io.BytesIO(data)
    header = ImageBytesHeader.unpack(stream.read(HEADER_SIZE))
    stream.seek(header.data_start)
    return decode_pixels(stream.readinto, header, chunk_bytes=chunk_bytes)


def test_header_fields_sit_where_the_spec_puts_them() -> None:
    frame = np.zeros((3, 4), dtype=np.uint16)  # 4 wide (NumX), 3 high (NumY)
    data = frame_header(frame, client_transaction_id=12, server_transaction_id=34).pack()
    assert len(data) == 44
    fields = struct.unpack("<iiIIiiiiiii", data)
    assert fields == (1, 0, 12, 34, 44, ElementType.INT32, ElementType.UINT16, 2, 4, 3, 0)


def test_pixels_are_serialised_in_x_major_order_height_fastest() -> None:
    # the spec's 4x3 example: [0,0] [0,1] [0,2] [1,0] ... [3,2]
    x, y = np.meshgrid(np.arange(4), np.arange(3))
    frame = (10 * x + y).astype(np.uint16)
    pixels = np.frombuffer(_imagebytes(frame)[44:], dtype="<u2")
    assert pixels.tolist() == [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32]


@pytest.mark.parametrize("chunk_bytes", [2, 6, 7, 1 << 20])
def test_imagebytes_round_trip_at_any_chunk_size(chunk_bytes: int) -> None:
    frame = _frame(37, 53)
    decoded = _decode(_imagebytes(frame, chunk_bytes), chunk_bytes)
    assert decoded.dtype == np.uint16 and decoded.shape == (37, 53)
    assert np.array_equal(decoded, frame)


@pytest.mark.parametrize(
    ("element", "dtype"),
    [
        (ElementType.INT32, "<i4"),
        (ElementType.INT16, "<i2"),
        (ElementType.BYTE, "u1"),
        (ElementType.UINT32, "<u4"),
        (ElementType.DOUBLE, "<f8"),
    ],
)
def test_other_transmission_types_decode_to_the_same_frame(element: ElementType, dtype: str) -> None:
    frame = _frame(5, 6) // 2 if element is not ElementType.BYTE else _frame(5, 6) // 257
    header = ImageBytesHeader(transmission_element_type=element, dimension1=6, dimension2=5)
    data = header.pack() + np.ascontiguousarray(frame.T).astype(dtype).tobytes()
    assert np.array_equal(_decode(data, chunk_bytes=16), frame)


def test_data_start_past_the_header_is_honoured() -> None:
    frame = _frame(4, 4)
    header = ImageBytesHeader(data_start=52, dimension1=4, dimension2=4)
    data = header.pack() + b"\xff" * 8 + np.ascontiguousarray(frame.T).astype("<u2").tobytes()
    assert np.array_equal(_decode(data), frame)


@pytest.mark.parametrize(
    ("header", "payload", "words"),
    [
        (ImageBytesHeader(transmission_element_type=ElementType.INT32, dimension1=2, dimension2=1), [5, -1], "outside"),
        (
            ImageBytesHeader(transmission_element_type=ElementType.INT32, dimension1=2, dimension2=1),
            [70000, 1],
            "outside",
        ),
        (ImageBytesHeader(rank=3, dimension1=2, dimension2=1, dimension3=3), [1, 2], "colour"),
        (ImageBytesHeader(transmission_element_type=42, dimension1=2, dimension2=1), [1, 2], "element type"),
    ],
)
def test_frames_that_cannot_be_16_bit_mono_are_refused(
    header: ImageBytesHeader, payload: list[int], words: str
) -> None:
    data = header.pack() + np.array(payload, dtype="<i4").tobytes()
    with pytest.raises(ImageFormatError, match=words):
        _decode(data)


def test_a_truncated_stream_is_an_error_not_a_short_frame() -> None:
    data = _imagebytes(_frame(10, 10))[:-7]
    with pytest.raises(ImageFormatError, match="ended after"):
        _decode(data)


def test_error_payload_carries_number_and_utf8_message() -> None:
    data = error_payload(0x40B, "no image — take one first", client_transaction_id=3, server_transaction_id=4)
    header = ImageBytesHeader.unpack(data)
    assert (header.error_number, header.client_transaction_id, header.server_transaction_id) == (0x40B, 3, 4)
    assert data[header.data_start :].decode("utf-8") == "no image — take one first"


# ---- JSON -------------------------------------------------------------------------------------


def _json(frame: np.ndarray) -> bytes:
    length, chunks = encode_json_image(frame, client_transaction_id=5, server_transaction_id=6, chunk_bytes=64)
    data = b"".join(chunks)
    assert len(data) == length  # the Content-Length is exact
    return data


def test_encoded_json_is_the_ascom_nested_array() -> None:
    frame = _frame(7, 9)
    parsed = json.loads(_json(frame))
    assert parsed["Type"] == 2 and parsed["Rank"] == 2
    assert parsed["ClientTransactionID"] == 5 and parsed["ErrorNumber"] == 0
    assert parsed["Value"] == frame.T.tolist()  # [x][y]


@pytest.mark.parametrize("chunk_bytes", [1, 3, 11, 1 << 20])
@pytest.mark.parametrize("known_size", [True, False])
def test_json_round_trip_at_any_chunk_size(chunk_bytes: int, known_size: bool) -> None:
    frame = _frame(23, 17)
    expected = (17, 23) if known_size else None
    image = decode_json_image(io.BytesIO(_json(frame)).read, expected=expected, chunk_bytes=chunk_bytes)
    assert image.frame is not None and np.array_equal(image.frame, frame)
    assert image.envelope == {
        "Type": 2,
        "Rank": 2,
        "ClientTransactionID": 5,
        "ServerTransactionID": 6,
        "ErrorNumber": 0,
        "ErrorMessage": "",
    }


def test_json_from_another_server_value_last_and_pretty_printed() -> None:
    frame = _frame(6, 5)
    body = {
        "ClientTransactionID": 1,
        "ServerTransactionID": 2,
        "ErrorNumber": 0,
        "ErrorMessage": "",
        "Value": frame.T.tolist(),
    }
    text = json.dumps(body, indent=3).encode()
    for chunk_bytes in (2, 5, 1000):
        image = decode_json_image(io.BytesIO(text).read, chunk_bytes=chunk_bytes)
        assert image.frame is not None and np.array_equal(image.frame, frame)


def test_json_error_response_has_no_frame() -> None:
    body = json.dumps(
        {
            "Value": 0,
            "ClientTransactionID": 1,
            "ServerTransactionID": 2,
            "ErrorNumber": 1035,
            "ErrorMessage": "Value not ready",
        }
    )
    image = decode_json_image(io.BytesIO(body.encode()).read)
    assert image.frame is None and image.envelope["ErrorNumber"] == 1035


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([[1, 2], [3]], "different lengths"),
        ([[1, -2], [3, 4]], "not a whole number"),
        ([[1.5, 2], [3, 4]], "not a whole number"),
        ([[1, 2], [3, 65536]], "above 65535"),
        ([[[1, 2, 3]], [[4, 5, 6]]], "two-dimensional"),
        ([1, 2, 3], "two-dimensional"),
    ],
)
def test_json_images_flatseq_cannot_take_are_refused(value: list[Any], words: str) -> None:
    body = json.dumps({"Value": value, "ErrorNumber": 0, "ErrorMessage": ""}).encode()
    with pytest.raises(ImageFormatError, match=words):
        decode_json_image(io.BytesIO(body).read, chunk_bytes=4)


def test_json_image_of_unexpected_size_is_refused() -> None:
    with pytest.raises(ImageFormatError, match="expected"):
        decode_json_image(io.BytesIO(_json(_frame(4, 6))).read, expected=(6, 5))
