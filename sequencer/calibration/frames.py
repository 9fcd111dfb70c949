"""Calibration frames on disk: what each FITS header says, in the user's terms.

Both `flatseq master` and `flatseq audit` start here. Headers follow flatseq's and N.I.N.A.'s conventions
(IMAGETYP FLAT / DARK / BIAS, EXPTIME or EXPOSURE, GAIN, OFFSET, XBINNING/YBINNING, READOUTM, CCD-TEMP,
SET-TEMP, FILTER) plus flatseq's FLATSET (the set id a set's flats and dark-flats share), DARKFLAT and
REJECTED: the vocabulary of `sequencer.output.keywords`, which the writer uses too.
`sequencer.calibration.framesets` groups them into flat sets; `sequencer.calibration.fitspixels` reads their
pixels.

Every file is untrusted: a card astropy cannot parse, a non-finite or negative exposure, a binning of 1e300,
a file shorter than its header says (truncated, or a header alone) is a `FrameError` naming the file and the
keyword, never a crash.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from drivers.bayer import pattern_at_origin
from drivers.errors import ConfigError, quoted
from sequencer.core.units import ABSOLUTE_ZERO
from sequencer.output import keywords as kw
from sequencer.output.keywords import FrameKind, kind_from_imagetyp, master_of

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
EXPOSURE_REL_TOLERANCE = 1e-3
"""Exposures within 0.1 % are the same exposure (cameras report 3.99999 for 4 s)."""
DEFAULT_TEMPERATURE_TOLERANCE = 1.0
"""Dark-flats within ±1 °C of their flats' sensor temperature match (the sequencer's default)."""
MAX_AXIS = 1_000_000
"""The widest image side a frame may claim (an IMX455 is 9576)."""
MAX_BINNING = 64
BITPIX_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
"""How each FITS BITPIX stores a pixel (big-endian, as FITS has it)."""


class FrameError(ConfigError):
    """A frame file that cannot be read or makes no sense; the message names the file (and keyword)."""


@dataclass(frozen=True)
class FrameInfo:
    """One frame's header, in the user's terms. `keywords` maps each field to the keyword it came from,
    so a refusal names the keyword the file really has (EXPOSURE in N.I.N.A.'s files, EXPTIME in others)."""

    path: Path
    kind: FrameKind
    imagetyp: str
    shape: tuple[int, int]
    exposure: float | None = None
    gain: float | None = None
    offset: float | None = None
    xbinning: int | None = None
    ybinning: int | None = None
    readout: str | None = None
    ccd_temp: float | None = None
    set_temp: float | None = None
    filter: str | None = None
    instrument: str | None = None
    flat_set: str | None = None
    run_id: str | None = None
    date_obs: str | None = None
    rejected: bool = False
    reject_reason: str | None = None
    master_of: FrameKind | None = None
    """For a master, the kind of frames it combines (FLAT, DARK_FLAT, BIAS, DARK), when its header says."""
    panel_brightness: int | None = None
    bayer: str | None = None
    """A colour frame's mosaic at its first stored pixel (BAYERPAT shifted by XBAYROFF/YBAYROFF), None for mono."""
    origin: tuple[int, int] | None = None
    """A region of interest's origin (XORGSUBF, YORGSUBF) in binned pixels; None: the header does not say."""
    rotation: float | None = None
    """The rotator's angle: ROTATANG/ROTATOR/OBJCTROT, or on flatseq's planned flats LTROTANG (the lights')."""
    focus: float | None = None
    sun_altitude: float | None = None
    """A sky flat's SUNALT (degrees, mid-exposure): its set is a sky set, its flats on an exposure ladder."""
    exposure_requested: float | None = None
    """EXPREQ, the exposure asked of the camera (EXPTIME is as timed): a sky flat's rung on the ladder."""
    keywords: dict[str, str] = field(default_factory=dict, compare=False)

    def keyword(self, name: str) -> str:
        """The header keyword behind a field ('exposure' → 'EXPOSURE' or 'EXPTIME')."""
        return self.keywords.get(name, _DEFAULT_KEYWORDS.get(name, name.upper()))

    @property
    def binning(self) -> tuple[int | None, int | None]:
        return (self.xbinning, self.ybinning)

    def describe(self) -> str:
        exp = "?" if self.exposure is None else format_seconds(self.exposure)
        return f"{self.kind.label} {self.filter or '-'} {exp}"


_DEFAULT_KEYWORDS = {
    "exposure": kw.EXPTIME,
    "gain": kw.GAIN,
    "offset": kw.OFFSET,
    "xbinning": kw.XBINNING,
    "ybinning": kw.YBINNING,
    "readout": kw.READOUTM,
    "ccd_temp": kw.CCD_TEMP,
    "set_temp": kw.SET_TEMP,
    "filter": kw.FILTER,
    "shape": "NAXIS1/NAXIS2",
    "origin": "XORGSUBF/YORGSUBF",
    "flat_set": kw.FLATSET,
    "bayer": kw.BAYERPAT,
}


MAX_TEMPERATURE_TOLERANCE = 50.0


def check_temperature_tolerance(tolerance: float) -> float:
    """The tolerance a refusal is measured against must be a real number of degrees (NaN would match
    any temperature, a negative one none)."""
    if not 0 <= tolerance <= MAX_TEMPERATURE_TOLERANCE:
        raise ConfigError(
            f"temperature tolerance {tolerance:g} °C: expected a number from 0 to {MAX_TEMPERATURE_TOLERANCE:g}"
        )
    return tolerance


def format_seconds(seconds: float) -> str:
    """4 → '4 s', 0.05 → '0.05 s', 1.5 → '1.5 s'."""
    return f"{seconds:g} s"


def _card(header: fits.Header, path: Path, name: str) -> object:
    """A card's value; a card astropy cannot parse (`EXPTIME = NaN`) is a FrameError naming it."""
    try:
        return header[name]
    except (fits.VerifyError, ValueError, TypeError):
        image = str(header.cards[name].image).strip() if name in header else name
        raise FrameError(f"{path}: {name}: the card {quoted(image, 100)} cannot be read") from None


def _number(
    header: fits.Header, path: Path, *names: str, low: float = -math.inf, what: str = ""
) -> tuple[float | None, str | None]:
    """The first of `names` the header has, as a finite number of at least `low`."""
    for name in names:
        if name in header:
            value = _card(header, path, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(str(value).strip())
                except ValueError:
                    raise FrameError(f"{path}: {name} = {value!r} is not a number") from None
            number = float(value)
            if not math.isfinite(number):
                raise FrameError(f"{path}: {name} = {value!r} is not a number")
            if number < low:
                raise FrameError(f"{path}: {name} = {number:g} {what or f'is below {low:g}'}")
            return number, name
    return None, None


def _whole(header: fits.Header, path: Path, name: str, low: int, high: int) -> int:
    """A required integer card (NAXISn, BITPIX) within [low, high]."""
    if name not in header:
        raise FrameError(f"{path}: missing keyword {name}")
    value = _card(header, path, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FrameError(f"{path}: {name} = {value!r} is not a whole number from {low} to {high}")
    return value


def _binning(header: fits.Header, path: Path, name: str) -> int | None:
    value, _ = _number(header, path, name, low=1, what="is not a binning factor")
    if value is None:
        return None
    if not value.is_integer() or value > MAX_BINNING:
        raise FrameError(f"{path}: {name} = {value:g} is not a binning factor (1 to {MAX_BINNING})")
    return int(value)


def _text(header: fits.Header, path: Path, *names: str) -> tuple[str | None, str | None]:
    for name in names:
        if name in header:
            value = _card(header, path, name)
            if value is None or isinstance(value, fits.card.Undefined):
                continue
            text = str(value).strip()
            if text:
                return text, name
    return None, None


def _flag(header: fits.Header, path: Path, name: str) -> bool:
    value = _card(header, path, name) if name in header else False
    if isinstance(value, str):
        return value.strip().upper() in ("T", "TRUE", "YES", "1")
    return bool(value)


def info_from_header(header: fits.Header, path: Path) -> FrameInfo:
    """Turn a primary header into a `FrameInfo`; raises `FrameError` naming the file and keyword."""
    naxis = _whole(header, path, "NAXIS", 0, 999) if "NAXIS" in header else 0
    if naxis != 2:
        raise FrameError(f"{path}: NAXIS = {naxis}, expected a 2-D image")
    shape = (_whole(header, path, "NAXIS2", 1, MAX_AXIS), _whole(header, path, "NAXIS1", 1, MAX_AXIS))
    keywords: dict[str, str] = {}
    imagetyp, _ = _text(header, path, *kw.IMAGETYP_KEYS)
    kind = kind_from_imagetyp(imagetyp or "")
    dark_flat = _flag(header, path, kw.DARKFLAT)
    if kind is FrameKind.DARK and dark_flat:
        kind = FrameKind.DARK_FLAT
    combined = kind is FrameKind.MASTER
    if _flag(header, path, kw.MASTER) or _flag(header, path, kw.COMBINED):  # old masters, and ccdproc's
        combined, kind = True, FrameKind.MASTER
    brightness, _ = _number(header, path, kw.PANELBRT, low=0)
    xorg, _ = _number(header, path, kw.XORGSUBF, low=0)
    yorg, _ = _number(header, path, kw.YORGSUBF, low=0)
    rotation, _ = _number(header, path, *kw.ROTATION_KEYS, kw.LTROTANG)
    focus, _ = _number(header, path, *kw.FOCUS_KEYS, kw.LTFOCPOS)

    def num(name: str, *keys: str, low: float = -math.inf, what: str = "") -> float | None:
        value, key = _number(header, path, *keys, low=low, what=what)
        if key:
            keywords[name] = key
        return value

    def txt(name: str, *keys: str) -> str | None:
        value, key = _text(header, path, *keys)
        if key:
            keywords[name] = key
        return value

    for name in (kw.XBINNING, kw.YBINNING):
        if name in header:
            keywords["xbinning" if name == kw.XBINNING else "ybinning"] = name
    xbin, ybin = _binning(header, path, kw.XBINNING), _binning(header, path, kw.YBINNING)
    cold = "is below absolute zero"
    return FrameInfo(
        path=path,
        kind=kind,
        imagetyp=imagetyp or "",
        shape=shape,
        exposure=num("exposure", *kw.EXPOSURE_KEYS, low=0.0, what="is negative: not an exposure"),
        gain=num("gain", kw.GAIN),
        offset=num("offset", kw.OFFSET),
        xbinning=xbin,
        ybinning=ybin,
        readout=txt("readout", kw.READOUTM),
        ccd_temp=num("ccd_temp", *kw.CCD_TEMP_KEYS, low=ABSOLUTE_ZERO, what=cold),
        set_temp=num("set_temp", *kw.SET_TEMP_KEYS, low=ABSOLUTE_ZERO, what=cold),
        filter=txt("filter", kw.FILTER),
        instrument=txt("instrument", kw.INSTRUME),
        flat_set=txt("flat_set", kw.FLATSET),
        run_id=txt("run_id", kw.RUNID),
        date_obs=txt("date_obs", kw.DATE_OBS),
        rejected=_flag(header, path, kw.REJECTED),
        reject_reason=txt("reject_reason", kw.REJREASN),
        master_of=master_of(imagetyp or "", dark_flat=dark_flat) if combined else None,
        panel_brightness=int(brightness) if brightness is not None and brightness.is_integer() else None,
        bayer=_bayer(header, path),
        origin=None if xorg is None and yorg is None else (int(xorg or 0), int(yorg or 0)),
        rotation=None if rotation is None else rotation % 360.0,
        focus=focus,
        sun_altitude=num("sun_altitude", kw.SUNALT, low=-90.0, what="is below -90: not an altitude"),
        exposure_requested=num("exposure_requested", kw.EXPREQ, low=0.0, what="is negative: not an exposure"),
        keywords=keywords,
    )


def _bayer(header: fits.Header, path: Path) -> str | None:
    """BAYERPAT with XBAYROFF/YBAYROFF folded in (as Siril and PixInsight apply them), checked."""
    pattern, _ = _text(header, path, kw.BAYERPAT)
    if pattern is None:
        return None
    x, _ = _number(header, path, kw.XBAYROFF)
    y, _ = _number(header, path, kw.YBAYROFF)
    try:
        return pattern_at_origin(pattern, int(x or 0) % 2, int(y or 0) % 2)
    except ValueError as exc:
        raise FrameError(f"{path}: {kw.BAYERPAT} = {pattern!r}: {exc}") from None


def read_info(path: Path) -> FrameInfo:
    """Read one file's primary header (pixels untouched) and check that the file holds the whole image its
    header describes: a truncated or header-only file is not a frame. Anything wrong is a `FrameError`."""
    try:
        with warnings.catch_warnings():  # astropy's notes on a damaged header: the FrameError says it in one line
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                header = hdul[0].header
                data_start = int(hdul.fileinfo(0)["datLoc"])
                info = info_from_header(header, path)
                if not path.name.lower().endswith(".gz"):  # compressed: checked when the pixels are read
                    bitpix = _whole(header, path, "BITPIX", -64, 64)
                    check_data_length(path, data_start, bitpix, info.shape)
    except FileNotFoundError:
        raise FrameError(f"{path}: no such file") from None
    except FrameError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, fits.VerifyError) as exc:
        raise FrameError(f"{path}: not a readable FITS file ({' '.join(str(exc).split())})") from None
    return info


def check_data_length(path: Path, data_start: int, bitpix: int, shape: tuple[int, int]) -> None:
    """The file must hold BITPIX × NAXIS1 × NAXIS2 bytes of image after its header (which ends at
    `data_start`): a truncated or header-only file is not a frame."""
    if bitpix not in BITPIX_DTYPES:
        raise FrameError(f"{path}: BITPIX = {bitpix} is not a FITS image type")
    rows, cols = shape
    if not (1 <= rows <= MAX_AXIS and 1 <= cols <= MAX_AXIS):
        raise FrameError(f"{path}: an image of {cols}×{rows} pixels is not a frame")
    needed = data_start + rows * cols * np.dtype(BITPIX_DTYPES[bitpix]).itemsize
    size = os.path.getsize(path)
    if size <= data_start:
        raise FrameError(f"{path}: a header with no image data ({cols}×{rows} expected)")
    if size < needed:
        raise FrameError(f"{path}: truncated ({size} bytes, the {cols}×{rows} image needs {needed})")


def is_fits_name(path: Path) -> bool:
    return path.name.lower().endswith(FITS_SUFFIXES)


def fits_files(root: Path) -> list[Path]:
    """Every FITS file under a directory (recursively), in a stable order; a file is itself."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FrameError(f"{root}: no such file or directory")
    return sorted(p for p in root.rglob("*") if p.is_file() and is_fits_name(p))


def each_fits_file(paths: Iterable[Path]) -> Iterator[Path]:
    """Every FITS file under the given files and folders, each once however often it is reached."""
    seen: set[Path] = set()
    for root in paths:
        for path in fits_files(Path(root)):
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                yield path


@dataclass(frozen=True)
class Unreadable:
    path: Path
    reason: str


def scan(paths: Iterable[Path]) -> tuple[list[FrameInfo], list[Unreadable]]:
    """Headers of every FITS file under the given files/directories; unreadable files are listed, not fatal."""
    infos: list[FrameInfo] = []
    bad: list[Unreadable] = []
    for path in each_fits_file(paths):
        try:
            infos.append(read_info(path))
        except FrameError as exc:
            bad.append(Unreadable(path, str(exc)))
    return infos, bad
