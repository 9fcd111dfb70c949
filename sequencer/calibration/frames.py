"""Calibration frames on disk: what each FITS header says, in the user's terms.

Both `flatseq master` and `flatseq audit` start here. Headers follow flatseq's and N.I.N.A.'s conventions
(IMAGETYP FLAT / DARK / BIAS, EXPTIME or EXPOSURE, GAIN, OFFSET, XBINNING/YBINNING, READOUTM, CCD-TEMP,
SET-TEMP, FILTER) plus flatseq's FLATSET (the set id a set's flats and dark-flats share), DARKFLAT and
REJECTED: the vocabulary of `sequencer.output.keywords`, which the writer uses too.
`sequencer.calibration.framesets` groups them into flat sets; `sequencer.calibration.fitspixels` reads their
pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits

from drivers.errors import ConfigError
from sequencer.output import keywords as kw
from sequencer.output.keywords import FrameKind, kind_from_imagetyp

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
EXPOSURE_REL_TOLERANCE = 1e-3
"""Exposures within 0.1 % are the same exposure (cameras report 3.99999 for 4 s)."""
DEFAULT_TEMPERATURE_TOLERANCE = 1.0
"""Dark-flats within ±1 °C of their flats' sensor temperature match (the sequencer's default)."""


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
    "flat_set": kw.FLATSET,
}


def format_seconds(seconds: float) -> str:
    """4 → '4 s', 0.05 → '0.05 s', 1.5 → '1.5 s'."""
    return f"{seconds:g} s"


def _number(header: fits.Header, path: Path, *names: str) -> tuple[float | None, str | None]:
    for name in names:
        if name in header:
            value = header[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(str(value).strip())
                except ValueError:
                    raise FrameError(f"{path}: {name} = {value!r} is not a number") from None
            number = float(value)
            if not math.isfinite(number):
                raise FrameError(f"{path}: {name} = {value!r} is not a number")
            return number, name
    return None, None


def _text(header: fits.Header, *names: str) -> tuple[str | None, str | None]:
    for name in names:
        if name in header:
            value = header[name]
            if value is None or isinstance(value, fits.card.Undefined):
                continue
            text = str(value).strip()
            if text:
                return text, name
    return None, None


def _flag(header: fits.Header, name: str) -> bool:
    value = header.get(name, False)
    if isinstance(value, str):
        return value.strip().upper() in ("T", "TRUE", "YES", "1")
    return bool(value)


def info_from_header(header: fits.Header, path: Path) -> FrameInfo:
    """Turn a primary header into a `FrameInfo`; raises `FrameError` naming the file and keyword."""
    naxis = int(header.get("NAXIS", 0))
    if naxis != 2:
        raise FrameError(f"{path}: NAXIS = {naxis}, expected a 2-D image")
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    keywords: dict[str, str] = {}
    imagetyp, _ = _text(header, *kw.IMAGETYP_KEYS)
    kind = kind_from_imagetyp(imagetyp or "")
    if kind is FrameKind.DARK and _flag(header, kw.DARKFLAT):
        kind = FrameKind.DARK_FLAT
    if _flag(header, kw.MASTER):
        kind = FrameKind.MASTER

    def num(name: str, *keys: str) -> float | None:
        value, key = _number(header, path, *keys)
        if key:
            keywords[name] = key
        return value

    def txt(name: str, *keys: str) -> str | None:
        value, key = _text(header, *keys)
        if key:
            keywords[name] = key
        return value

    exposure = num("exposure", *kw.EXPOSURE_KEYS)
    gain = num("gain", kw.GAIN)
    offset = num("offset", kw.OFFSET)
    xbin = num("xbinning", kw.XBINNING)
    ybin = num("ybinning", kw.YBINNING)
    return FrameInfo(
        path=path,
        kind=kind,
        imagetyp=imagetyp or "",
        shape=shape,
        exposure=exposure,
        gain=gain,
        offset=offset,
        xbinning=None if xbin is None else int(xbin),
        ybinning=None if ybin is None else int(ybin),
        readout=txt("readout", kw.READOUTM),
        ccd_temp=num("ccd_temp", *kw.CCD_TEMP_KEYS),
        set_temp=num("set_temp", *kw.SET_TEMP_KEYS),
        filter=txt("filter", kw.FILTER),
        instrument=txt("instrument", kw.INSTRUME),
        flat_set=txt("flat_set", kw.FLATSET),
        run_id=txt("run_id", kw.RUNID),
        date_obs=txt("date_obs", kw.DATE_OBS),
        rejected=_flag(header, kw.REJECTED),
        reject_reason=txt("reject_reason", kw.REJREASN),
        keywords=keywords,
    )


def read_info(path: Path) -> FrameInfo:
    """Read one file's primary header (pixels untouched)."""
    try:
        header = fits.getheader(path, 0)
    except FileNotFoundError:
        raise FrameError(f"{path}: no such file") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise FrameError(f"{path}: not a readable FITS file ({exc})") from None
    try:
        return info_from_header(header, path)
    except KeyError as exc:
        raise FrameError(f"{path}: missing keyword {exc.args[0]}") from None


def is_fits_name(path: Path) -> bool:
    return path.name.lower().endswith(FITS_SUFFIXES)


def fits_files(root: Path) -> list[Path]:
    """Every FITS file under a directory (recursively), in a stable order; a file is itself."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FrameError(f"{root}: no such file or directory")
    return sorted(p for p in root.rglob("*") if p.is_file() and is_fits_name(p))


@dataclass(frozen=True)
class Unreadable:
    path: Path
    reason: str


def scan(paths: Iterable[Path]) -> tuple[list[FrameInfo], list[Unreadable]]:
    """Headers of every FITS file under the given files/directories; unreadable files are listed, not fatal."""
    infos: list[FrameInfo] = []
    bad: list[Unreadable] = []
    seen: set[Path] = set()
    for root in paths:
        for path in fits_files(Path(root)):
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            try:
                infos.append(read_info(path))
            except FrameError as exc:
                bad.append(Unreadable(path, str(exc)))
    return infos, bad
