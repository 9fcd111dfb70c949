"""A float master as a monolithic XISF 1.0 file, PixInsight's own format (WBPP takes masters only in XISF).

Written to the public XISF 1.0 specification (pixinsight.com/xisf), the few parts a master needs:

- the file (9.2): the signature ``XISF0100``, the XML header's length as a little-endian uint32, four zero bytes,
  the header, zero bytes up to the data, then the one attached data block;
- the header (9.5): ``<?xml ...?>``, an initial comment naming the creator, the ``xisf`` root element with the
  namespace and schema attributes, one ``Image`` and the mandatory ``Metadata`` (XISF:CreationTime,
  XISF:CreatorApplication);
- the ``Image`` (11.5): ``geometry="width:height:1"``, ``sampleFormat="Float32"``, ``bounds`` (required for
  floating point images), ``colorSpace="Gray"``, ``imageType`` (``MasterDark`` / ``MasterFlat`` / ``MasterBias``:
  WBPP reads it before IMAGETYP) and ``location="attachment:position:size"`` (10.3); pixels little-endian
  (10.4), rows in order from the top (the pixel coordinate order of 8.5, as the FITS masters store them with
  ROWORDER = 'TOP-DOWN'), uncompressed;
- every FITS card of the master as a ``FITSKeyword`` (11.6; HISTORY with an empty value), and the
  astronomical properties WBPP reads (Instrument:ExposureTime, Instrument:Filter:Name,
  Instrument:Camera:XBinning, ...).

The pixels are the FITS master's float32 values, unchanged: a decoder reads back the same numbers to the
bit. The data block starts on a 4096-byte boundary, as PixInsight aligns its own.

The PyPI package ``xisf`` is GPL-3: flatseq (MIT) never imports it; the tests use it to read these files back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from sequencer.core.atomicfile import Chunk, OutputError, write_new_file
from sequencer.core.timestamps import iso_utc
from sequencer.output import keywords as kw
from sequencer.output.header import software_version

SIGNATURE = b"XISF0100"
ALIGNMENT = 4096
"""Where the data block may start: a multiple of this (PixInsight's default block alignment)."""
NAMESPACE = "http://www.pixinsight.com/xisf"
SCHEMA = "http://www.pixinsight.com/xisf http://pixinsight.com/xisf/xisf-1.0.xsd"
STRUCTURAL = frozenset({"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BZERO", "BSCALE", "END", ""})
CHUNK_ROWS_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Property:
    """An XISF Property (11.1) with a scalar or string value."""

    id: str
    type: str  # "Float32", "Int32", "String", "TimePoint"
    value: str

    def xml(self) -> str:
        if self.type == "String":
            return f'<Property id={quoteattr(self.id)} type="String">{escape(self.value)}</Property>'
        return f"<Property id={quoteattr(self.id)} type={quoteattr(self.type)} value={quoteattr(self.value)}/>"


def fits_value(value: object) -> str:
    """A card's value as FITS writes it (the FITSKeyword ``value`` attribute): 'text' quoted, T/F, numbers."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            raise OutputError(f"a FITS value must be finite, got {number}")
        text = repr(number).upper()
        return text if any(c in text for c in ".E") else text + ".0"
    return "'" + str(value).replace("'", "''") + "'"


def fits_keywords(header: fits.Header) -> list[str]:
    """Every card of `header` after the structural ones, as ``FITSKeyword`` elements (HISTORY/COMMENT with an
    empty value and their text as the comment)."""
    out = []
    for card in header.cards:
        name = card.keyword
        if name.upper() in STRUCTURAL:
            continue
        if name in ("HISTORY", "COMMENT"):
            value, comment = "", str(card.value)
        else:
            value, comment = fits_value(card.value), card.comment
        out.append(f"<FITSKeyword name={quoteattr(name)} value={quoteattr(value)} comment={quoteattr(comment)}/>")
    return out


_PROPERTIES = (
    (kw.EXPTIME, "Instrument:ExposureTime", "Float32"),
    (kw.FILTER, "Instrument:Filter:Name", "String"),
    (kw.XBINNING, "Instrument:Camera:XBinning", "Int32"),
    (kw.YBINNING, "Instrument:Camera:YBinning", "Int32"),
    (kw.INSTRUME, "Instrument:Camera:Name", "String"),
    (kw.CCD_TEMP, "Instrument:Sensor:Temperature", "Float32"),
    (kw.SET_TEMP, "Instrument:Sensor:TargetTemperature", "Float32"),
    (kw.XPIXSZ, "Instrument:Sensor:XPixelSize", "Float32"),
    (kw.YPIXSZ, "Instrument:Sensor:YPixelSize", "Float32"),
    (kw.DATE_OBS, "Observation:Time:Start", "TimePoint"),
    (kw.DATE_END, "Observation:Time:End", "TimePoint"),
)


def image_properties(header: fits.Header) -> list[Property]:
    """The astronomical image properties (11.5) the header's cards stand for."""
    props = []
    for key, prop, kind in _PROPERTIES:
        if key not in header or isinstance(header[key], bool):
            continue
        value = header[key]
        if kind == "TimePoint":
            text = str(value) if str(value).endswith("Z") else f"{value}Z"
        elif kind == "Int32":
            text = str(int(value))
        elif kind == "Float32":
            text = repr(float(value))
        else:
            text = str(value)
        props.append(Property(prop, kind, text))
    return props


def _bounds(image: npt.NDArray[np.floating], upper: float | None) -> tuple[float, float]:
    """The representable range (11.5 ``bounds``): [0, upper] for an image in ADU, else one holding every value."""
    if upper is not None:
        return 0.0, float(upper)
    finite = image[np.isfinite(image)]
    low = min(0.0, float(finite.min())) if finite.size else 0.0
    high = max(1.0, float(finite.max())) if finite.size else 1.0
    return math.floor(low * 1000) / 1000, math.ceil(high * 1000) / 1000


def header_xml(
    image: npt.NDArray[np.floating],
    header: fits.Header,
    *,
    image_type: str | None,
    created_at: float,
    position: int,
    upper_bound: float | None = None,
) -> bytes:
    """The XISF header (UTF-8 XML) for a float32 image whose data block starts at byte `position`."""
    rows, cols = image.shape
    low, high = _bounds(image, upper_bound)
    size = rows * cols * 4
    attributes = [
        f'geometry="{cols}:{rows}:1"',
        'sampleFormat="Float32"',
        f'bounds="{low:g}:{high:g}"',
        'colorSpace="Gray"',
    ]
    if image_type is not None:
        attributes.append(f"imageType={quoteattr(image_type)}")
    attributes.append(f'location="attachment:{position}:{size}"')
    creator = software_version()
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!--",
        "Extensible Image Serialization Format - XISF version 1.0",
        f"Created with {escape(creator).replace('--', '- -')}",
        "-->",
        f'<xisf version="1.0" xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{SCHEMA}">',
        "<Image " + " ".join(attributes) + ">",
        *(p.xml() for p in image_properties(header)),
        *fits_keywords(header),
        "</Image>",
        "<Metadata>",
        Property("XISF:CreationTime", "TimePoint", iso_utc(created_at)).xml(),
        Property("XISF:CreatorApplication", "String", creator).xml(),
        "</Metadata>",
        "</xisf>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def xisf_chunks(
    image: npt.NDArray[np.floating],
    header: fits.Header,
    *,
    image_type: str | None,
    created_at: float,
    upper_bound: float | None = None,
) -> Iterator[Chunk]:
    """The monolithic XISF file, piece by piece: preamble, header, zero padding, the pixels as float32 rows."""
    if image.ndim != 2 or image.size == 0:
        raise OutputError(f"an XISF master must be a 2-D image, got shape {image.shape}")
    position = 0
    while True:  # the header holds the data's position, whose digits change the header's length
        xml = header_xml(
            image, header, image_type=image_type, created_at=created_at, position=position, upper_bound=upper_bound
        )
        start = -(-(16 + len(xml)) // ALIGNMENT) * ALIGNMENT
        if start == position:
            break
        position = start
    yield SIGNATURE + len(xml).to_bytes(4, "little") + bytes(4)
    yield xml
    yield bytes(position - 16 - len(xml))
    rows, cols = image.shape
    step = max(1, CHUNK_ROWS_BYTES // (cols * 4))
    for start in range(0, rows, step):
        yield np.ascontiguousarray(image[start : start + step], dtype="<f4").tobytes()


def write_float_xisf(
    path: Path,
    image: npt.NDArray[np.floating],
    header: fits.Header,
    *,
    image_type: str | None,
    created_at: float,
    upper_bound: float | None = None,
) -> Path:
    """Write a float master as XISF, atomically and never over an existing file; returns the path written.
    `upper_bound`: the top of the image's range (65535 for a master in ADU); None: one holding every value."""
    return write_new_file(
        path,
        xisf_chunks(image, header, image_type=image_type, created_at=created_at, upper_bound=upper_bound),
    )
