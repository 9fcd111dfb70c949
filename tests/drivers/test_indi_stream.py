"""The INDI byte stream and its FITS images, in pieces of any size: elements come out whole, a BLOB decodes to
the same bytes whether its base64 is one line or wrapped, the frame matches astropy's reading of the same
file, and what is not INDI is a StreamError (never a hang or a protocol exception)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from astropy.io import fits

from drivers.errors import ConfigError
from drivers.indi.fitsimage import FitsError, decode_fits
from drivers.indi.stream import ElementStream, Received, StreamError
from drivers.indi.url import parse_indi_url
from simulators.indi.fitsblob import FitsBlob


def _fits_message(frame: np.ndarray) -> bytes:
    blob = FitsBlob("Cam", frame, [("EXPTIME", 1.25, "s"), ("DATE-OBS", "2026-01-01T00:00:01.500", "start")], 0.0)
    return b"".join(blob.chunks())


def _feed(data: bytes, size: int) -> list[Received]:
    stream = ElementStream(lambda device, vector, member: True)
    out: list[Received] = []
    for i in range(0, len(data), size):
        out += stream.feed(data[i : i + size])
    return out


@pytest.mark.parametrize("size", [1, 3, 7, 64, 4096, 1 << 20])
def test_a_blob_decodes_the_same_in_pieces_of_any_size(size: int) -> None:
    frame = np.random.default_rng(1).integers(0, 65536, size=(37, 53), dtype=np.uint16)
    data = b'<message device="Cam" message="hi"/>' + _fits_message(frame) + b'<delProperty device="Cam"/>'
    received = _feed(data, size)
    assert [r.element.tag for r in received] == ["message", "setBLOBVector", "delProperty"]
    (blob,) = received[1].blobs
    image = decode_fits(blob.data, blob.size)
    np.testing.assert_array_equal(image.frame, frame)
    assert image.exposure().duration == 1.25 and image.exposure().start == pytest.approx(1767225601.5)


def test_wrapped_base64_and_astropy_agree() -> None:
    frame = np.arange(0, 65535, 9, dtype=np.uint16)[: 60 * 100].reshape(60, 100)
    hdu = fits.PrimaryHDU(frame)
    raw = io.BytesIO()
    hdu.writeto(raw)
    text = base64.encodebytes(raw.getvalue())  # 76-character lines, as other servers send it
    message = (
        (
            f'<setBLOBVector device="Cam" name="CCD1"><oneBLOB name="CCD1" format=".fits" size="{len(raw.getvalue())}">'
        ).encode()
        + text
        + b"</oneBLOB></setBLOBVector>"
    )
    (received,) = _feed(message, 1000)
    image = decode_fits(received.blobs[0].data, received.blobs[0].size)
    np.testing.assert_array_equal(image.frame, fits.getdata(io.BytesIO(raw.getvalue())))


def test_blobs_nobody_wants_are_skipped_unstored() -> None:
    stream = ElementStream(lambda device, vector, member: False)
    (received,) = stream.feed(_fits_message(np.zeros((4, 4), np.uint16)))
    assert received.blobs == []


@pytest.mark.parametrize(
    "data",
    [
        b"<defNumberVector device='x'><oops></defNumberVector>",
        b'<setBLOBVector device="C" name="CCD1"><oneBLOB name="CCD1" len="10">QUJD</oneBLOB></setBLOBVector>',
        b'<setBLOBVector device="C" name="CCD1"><oneBLOB name="CCD1" len="3">!!!!QUJDRA==</oneBLOB></setBLOBVector>',
    ],
)
def test_what_is_not_indi_is_a_stream_error(data: bytes) -> None:
    with pytest.raises(StreamError):
        _feed(data, 5)


def test_images_flatseq_cannot_take_are_refused_in_words() -> None:
    raw = io.BytesIO()
    fits.PrimaryHDU(np.zeros((3, 4, 5), np.float32)).writeto(raw)
    data = np.frombuffer(bytearray(raw.getvalue()), np.uint8)
    with pytest.raises(FitsError, match="NAXIS = 3"):
        decode_fits(data, data.size)
    with pytest.raises(FitsError, match="not FITS"):
        decode_fits(np.zeros(2880, np.uint8), 2880)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("indi://host:7624/", "names no device"),
        ("indi:///CCD", "names no host"),
        ("indi://host:x/CCD", "invalid port"),
        ("indi://host/CCD?speed=3", "unknown option speed"),
        ("indi://host/CCD?timeout=-1", "timeout must be a positive number"),
    ],
)
def test_urls_are_refused_in_one_line(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        parse_indi_url(url)


def test_url_defaults_and_encoded_names() -> None:
    address = parse_indi_url("indi://observatory.local/CCD%20Simulator?download_timeout=90")
    assert (address.host, address.port, address.device, address.download_timeout) == (
        "observatory.local",
        7624,
        "CCD Simulator",
        90.0,
    )
