"""The FITS header of a flat or dark-flat, built from typed inputs (keywords from `sequencer.output.keywords`).

The header is what ties a dark-flat to its flats once the files leave flatseq: the same FLATSET id,
the same EXPTIME, GAIN, OFFSET, XBINNING/YBINNING and READOUTM, and CCD-TEMP close to the flats'.
The panel brightness goes on flats (users asked N.I.N.A. for it), and the frame statistics go on every
frame so a rejected flat on disk explains itself.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from astropy.io import fits

from drivers.base import CameraSettings
from drivers.bayer import BAYER_PATTERNS
from sequencer.core.timestamps import fits_date, mjd
from sequencer.output import keywords as kw
from sequencer.output.keywords import WRITTEN_KINDS, FrameKind

TIMED_COMMENT = "[s] exposure time, as the camera timed it"
"""EXPTIME's comment when the value is the camera's own figure (the request otherwise, and the comment says so)."""

MAX_TEXT = 200
"""Longest string value kept in a header (over 68 characters astropy continues it on CONTINUE cards, the
FITS long-string convention); the manifest keeps the full text."""


@functools.cache
def software_version() -> str:
    """``flatseq 0.1.0``, for SWCREATE and the manifest. Cached: the installed version cannot change while the
    process runs, and reading it parses the package metadata (~260 kB, the README included) every time."""
    try:
        return f"flatseq {version('flatseq')}"
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "flatseq"


class FrameStatsLike(Protocol):
    """What the header needs from `sequencer.core.stats.FrameStats`."""

    @property
    def mean(self) -> float: ...

    @property
    def median(self) -> float: ...

    @property
    def std(self) -> float: ...

    @property
    def min(self) -> float: ...

    @property
    def max(self) -> float: ...

    @property
    def saturated_fraction(self) -> float: ...


@dataclass(frozen=True)
class StatValues:
    """Frame statistics in ADU, as stored in headers and the manifest."""

    mean: float
    median: float
    std: float
    min: int
    max: int
    saturated_fraction: float

    @classmethod
    def of(cls, stats: FrameStatsLike | Mapping[str, float] | StatValues) -> StatValues:
        """From a `FrameStats`, a `StatValues`, or a mapping with the same names (``sat`` also accepted)."""
        if isinstance(stats, StatValues):
            return stats
        if isinstance(stats, Mapping):
            sat = stats["saturated_fraction"] if "saturated_fraction" in stats else stats["sat"]
            return cls(
                mean=float(stats["mean"]),
                median=float(stats["median"]),
                std=float(stats["std"]),
                min=round(stats["min"]),
                max=round(stats["max"]),
                saturated_fraction=float(sat),
            )
        return cls(
            mean=float(stats.mean),
            median=float(stats.median),
            std=float(stats.std),
            min=round(stats.min),
            max=round(stats.max),
            saturated_fraction=float(stats.saturated_fraction),
        )

    def to_json(self) -> dict[str, float]:
        return {
            "mean": self.mean,
            "median": self.median,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "sat": self.saturated_fraction,
        }


StatsInput = FrameStatsLike | Mapping[str, float] | StatValues


@dataclass(frozen=True)
class FrameHeader:
    """Everything known about one frame when it is read out; `cards()` turns it into FITS cards.

    What the camera did, not what was asked: `exposure` is the time the camera reports it exposed
    (`exposure_reported`; otherwise the request, and the header says so), `exposure_requested` the request;
    `date_obs` and `date_end` are exposure start and end, seconds since the epoch. `settings` are the camera
    settings as read back from the camera (its `temperature` is the cooler set-point); `unreported` names the
    settings the camera cannot read back, which the header marks. `ccd_temp` is the sensor temperature
    measured for this frame. `panel_brightness` and `panel_max` belong to flats.
    """

    kind: FrameKind
    flat_set: str
    run_id: str
    frame_no: int
    exposure: float
    settings: CameraSettings
    readout_mode_name: str
    camera: str
    date_obs: float
    ccd_temp: float | None = None
    filter: str | None = None
    panel_brightness: int | None = None
    panel_max: int | None = None
    stats: StatsInput | None = None
    rejected: bool = False
    reject_reason: str | None = None
    date_end: float | None = None
    pixel_size_um: float | None = None
    telescope: str | None = None
    origin: str | None = None
    exposure_requested: float | None = None
    exposure_reported: bool = False
    unreported: tuple[str, ...] = ()
    bayer: str | None = None
    """A colour frame's mosaic at its first stored pixel ("RGGB"...), as BAYERPAT: None for mono."""
    lights_rotation: float | None = None
    """The rotator angle of the lights the set was planned for (`flatseq plan`); flatseq reads no rotator."""
    lights_focus: float | None = None
    sun_altitude: float | None = None
    """A sky flat's Sun altitude at mid-exposure (degrees), as SUNALT."""
    site: tuple[float, float, float] | None = None
    """A sky flat's site: latitude, longitude (degrees, east positive), elevation (m)."""

    def __post_init__(self) -> None:
        if self.kind not in WRITTEN_KINDS:
            raise ValueError(f"flatseq does not take {self.kind.label} frames")
        if self.frame_no < 1:
            raise ValueError(f"frame numbers start at 1, got {self.frame_no}")
        if not math.isfinite(self.exposure) or self.exposure < 0:
            raise ValueError(f"exposure must be a non-negative number of seconds, got {self.exposure}")
        if self.kind is not FrameKind.FLAT and (self.panel_brightness is not None or self.panel_max is not None):
            raise ValueError(f"a {self.kind.value} frame is taken with the panel off: no panel brightness")
        if self.bayer is not None and self.bayer not in BAYER_PATTERNS:
            raise ValueError(f"BAYERPAT must be one of {', '.join(BAYER_PATTERNS)}, not {self.bayer!r}")
        if self.reject_reason is not None and not self.rejected:
            raise ValueError("a reject reason was given for a frame that is not rejected")

    def _read_back(self, name: str, comment: str) -> str:
        """A setting's comment, or, when the camera cannot read that setting back, that the value is as set."""
        return "as set: the camera cannot read it back" if name in self.unreported else comment

    @property
    def stat_values(self) -> StatValues | None:
        return None if self.stats is None else StatValues.of(self.stats)

    def cards(self) -> list[tuple[str, str | int | float | bool, str]]:
        """(keyword, value, comment) for every card after the structural ones, in header order."""
        s = self.settings
        cards: list[tuple[str, str | int | float | bool, str]] = [
            (kw.IMAGETYP, self.kind.imagetyp, "type of image"),
            (kw.DARKFLAT, self.kind is FrameKind.DARK_FLAT, "T: dark-flat for the flats of FLATSET"),
            (kw.FLATSET, _text(self.flat_set), "flat set id, shared by its flats and dark-flats"),
            (kw.RUNID, _text(self.run_id), "flatseq run id"),
            (kw.FRAMENO, self.frame_no, "frame number within its kind in the flat set"),
            (kw.DATE_OBS, fits_date(self.date_obs), "[UTC] exposure start"),
            (kw.MJD_OBS, mjd(self.date_obs), "[d] exposure start, Modified Julian Date (UTC)"),
        ]
        if self.date_end is not None:
            cards.append((kw.DATE_END, fits_date(self.date_end), "[UTC] exposure end"))
            cards.append((kw.MJD_END, mjd(self.date_end), "[d] exposure end, Modified Julian Date (UTC)"))
        exposure_comment = TIMED_COMMENT if self.exposure_reported else "[s] as asked: the camera does not report it"
        cards += [
            (kw.EXPTIME, float(self.exposure), exposure_comment),
            (kw.EXPOSURE, float(self.exposure), exposure_comment),
        ]
        if self.exposure_requested is not None:
            cards.append((kw.EXPREQ, float(self.exposure_requested), "[s] exposure time asked of the camera"))
        read = self._read_back
        cards += [
            (kw.GAIN, int(s.gain), read("gain", "camera gain setting")),
            (kw.OFFSET, int(s.offset), read("offset", "camera offset setting (pedestal)")),
            (kw.XBINNING, int(s.binning), read("binning", "binning factor along X")),
            (kw.YBINNING, int(s.binning), read("binning", "binning factor along Y")),
            (
                kw.READOUTM,
                _text(self.readout_mode_name),
                read("readout_mode", f"readout mode (index {s.readout_mode})"),
            ),
        ]
        if s.roi is not None:
            cards += [
                (kw.XORGSUBF, int(s.roi[0]), read("roi", "[px] region of interest origin X, binned")),
                (kw.YORGSUBF, int(s.roi[1]), read("roi", "[px] region of interest origin Y, binned")),
            ]
        if self.ccd_temp is not None:
            cards.append((kw.CCD_TEMP, float(self.ccd_temp), "[C] measured sensor temperature"))
        if s.temperature is not None:
            cards.append((kw.SET_TEMP, float(s.temperature), read("temperature", "[C] cooler set-point")))
        if self.pixel_size_um is not None:
            binned = float(self.pixel_size_um) * s.binning
            cards += [
                (kw.XPIXSZ, binned, "[um] pixel size along X, binned"),
                (kw.YPIXSZ, binned, "[um] pixel size along Y, binned"),
            ]
        if self.filter is not None:
            cards.append((kw.FILTER, _text(self.filter), "filter in the light path"))
        cards.append((kw.INSTRUME, _text(self.camera), "camera"))
        cards.append((kw.ROWORDER, kw.TOP_DOWN, "first row stored is the top of the image"))
        if self.bayer is not None:
            cards += [
                (kw.BAYERPAT, _text(self.bayer), "Bayer mosaic from the first stored pixel"),
                (kw.XBAYROFF, 0, "Bayer offset in X: folded into BAYERPAT"),
                (kw.YBAYROFF, 0, "Bayer offset in Y: folded into BAYERPAT"),
            ]
        if self.telescope is not None:
            cards.append((kw.TELESCOP, _text(self.telescope), "telescope"))
        if self.origin is not None:
            cards.append((kw.ORIGIN, _text(self.origin), "who made this file"))
        if self.lights_rotation is not None:
            cards.append((kw.LTROTANG, float(self.lights_rotation), "[deg] rotator angle of the lights planned for"))
        if self.lights_focus is not None:
            cards.append((kw.LTFOCPOS, float(self.lights_focus), "focuser position of the lights planned for"))
        if self.sun_altitude is not None:
            cards.append((kw.SUNALT, round(float(self.sun_altitude), 4), "[deg] Sun altitude at mid-exposure"))
        if self.site is not None:
            cards += [
                (kw.SITELAT, round(float(self.site[0]), 6), "[deg] site latitude"),
                (kw.SITELONG, round(float(self.site[1]), 6), "[deg] site longitude, east positive"),
                (kw.SITEELEV, round(float(self.site[2]), 1), "[m] site elevation"),
            ]
        if self.panel_brightness is not None:
            cards.append((kw.PANELBRT, int(self.panel_brightness), "flat panel brightness setting"))
        if self.panel_max is not None:
            cards.append((kw.PANELMAX, int(self.panel_max), "flat panel maximum brightness"))
        stats = self.stat_values
        if stats is not None:
            cards += [
                (kw.STATMEAN, round(stats.mean, 3), "[adu] mean of the raw frame"),
                (kw.STATMED, round(stats.median, 3), "[adu] median of the raw frame"),
                (kw.STATSTD, round(stats.std, 3), "[adu] standard deviation of the raw frame"),
                (kw.STATMIN, stats.min, "[adu] minimum of the raw frame"),
                (kw.STATMAX, stats.max, "[adu] maximum of the raw frame"),
                (kw.STATSAT, round(stats.saturated_fraction, 8), "fraction of saturated pixels"),
            ]
        cards.append((kw.REJECTED, bool(self.rejected), "T: not counted in its flat set"))
        if self.reject_reason is not None:
            cards.append((kw.REJREASN, _text(self.reject_reason), "why the frame was rejected"))
        cards.append((kw.SWCREATE, software_version(), "software that created this file"))
        return cards


_ASCII = {"±": "+/-", "°": "deg", "µ": "u", "×": "x", "–": "-", "—": "-", "’": "'", "…": "..."}


def _text(value: str) -> str:
    """FITS strings are printable ASCII, and a header should stay a block or two."""
    spelled = "".join(_ASCII.get(ch, ch) for ch in value)
    decomposed = unicodedata.normalize("NFKD", spelled)  # é -> e + combining accent, dropped below
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in decomposed if not unicodedata.combining(ch))
    return clean[:MAX_TEXT]


def _fit_comment(value: object, comment: str) -> str:
    """The comment cut to what fits beside a short string value on one card (astropy would cut it too,
    with a warning); values too long for one card carry the comment on their last CONTINUE card."""
    if not isinstance(value, str) or len(value) > 68:
        return comment
    field = max(20, len(value.replace("'", "''").ljust(8)) + 2)
    return comment[: max(0, 80 - 10 - field - 3)]


def structural_header(rows: int, cols: int) -> fits.Header:
    """The cards that describe the data: uint16 stored as int16 with BZERO 32768, as astropy writes it."""
    header = fits.Header()
    header.append(("SIMPLE", True, "conforms to FITS standard"))
    header.append(("BITPIX", 16, "array data type"))
    header.append(("NAXIS", 2, "number of array dimensions"))
    header.append(("NAXIS1", cols, "columns"))
    header.append(("NAXIS2", rows, "rows"))
    header.append(("EXTEND", True, "extensions may follow"))
    header.append(("BZERO", 32768, "offset data range to that of unsigned short"))
    header.append(("BSCALE", 1, "default scaling factor"))
    return header


STRUCTURAL = frozenset({"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BZERO", "BSCALE", "END"})


def build_header(rows: int, cols: int, frame: FrameHeader | fits.Header | Mapping[str, object]) -> fits.Header:
    """The complete primary header for a uint16 frame of `rows` × `cols`.

    `frame` is normally a `FrameHeader`; an astropy Header or a mapping of keyword → value (or
    (value, comment)) is accepted for other uses. Structural keywords in it are ignored: the data
    decides them.
    """
    header = structural_header(rows, cols)
    if isinstance(frame, FrameHeader):
        for keyword, value, comment in frame.cards():
            header.append((keyword, value, _fit_comment(value, comment)))
        return header
    items = frame.cards if isinstance(frame, fits.Header) else frame.items()
    for item in items:
        if isinstance(item, fits.Card):
            keyword, value, comment = item.keyword, item.value, item.comment
        else:
            keyword, raw = item
            value, comment = raw if isinstance(raw, tuple) else (raw, "")
        if keyword.upper() in STRUCTURAL:
            continue
        header.append((keyword, value, _fit_comment(value, comment)))
    return header
