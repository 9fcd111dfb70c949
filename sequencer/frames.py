"""Calibration frames on disk: what each FITS header says, grouped into flat sets, and their pixels by rows.

Both `flatseq master` and `flatseq audit` start here. Headers follow flatseq's and N.I.N.A.'s conventions
(IMAGETYP FLAT / DARK / BIAS, EXPTIME or EXPOSURE, GAIN, OFFSET, XBINNING/YBINNING, READOUTM, CCD-TEMP,
SET-TEMP, FILTER) plus flatseq's FLATSET (the set id a set's flats and dark-flats share), DARKFLAT and
REJECTED. Pixels are read a few rows at a time with `os.pread` (`FitsPixels`), so a combine over 30
full-frame files never holds more than a strip of each in memory.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from drivers.errors import ConfigError

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
FITS_BLOCK = 2880
EXPOSURE_REL_TOLERANCE = 1e-3
"""Exposures within 0.1 % are the same exposure (cameras report 3.99999 for 4 s)."""
DEFAULT_TEMPERATURE_TOLERANCE = 1.0
"""Dark-flats within ±1 °C of their flats' sensor temperature match (the sequencer's default)."""


class FrameError(ConfigError):
    """A frame file that cannot be read or makes no sense; the message names the file (and keyword)."""


class FrameKind(enum.Enum):
    """What a frame is for. DARK_FLAT is a dark marked as a dark-flat (DARKFLAT = T or IMAGETYP DARKFLAT);
    a plain DARK becomes a set's dark-flat when its exposure and settings match the flats'."""

    FLAT = "flat"
    DARK_FLAT = "dark-flat"
    DARK = "dark"
    BIAS = "bias"
    LIGHT = "light"
    MASTER = "master"
    OTHER = "other"

    @property
    def is_dark(self) -> bool:
        return self in (FrameKind.DARK, FrameKind.DARK_FLAT)


_IMAGETYP_KINDS: dict[str, FrameKind] = {
    "FLAT": FrameKind.FLAT,
    "FLATFIELD": FrameKind.FLAT,
    "SKYFLAT": FrameKind.FLAT,
    "DOMEFLAT": FrameKind.FLAT,
    "DARKFLAT": FrameKind.DARK_FLAT,
    "FLATDARK": FrameKind.DARK_FLAT,
    "DARK": FrameKind.DARK,
    "BIAS": FrameKind.BIAS,
    "OFFSET": FrameKind.BIAS,
    "ZERO": FrameKind.BIAS,
    "LIGHT": FrameKind.LIGHT,
    "OBJECT": FrameKind.LIGHT,
    "SCIENCE": FrameKind.LIGHT,
}


def kind_from_imagetyp(imagetyp: str) -> FrameKind:
    """'Flat Frame', 'FLAT', 'Dark Flat', 'DARKFLAT', 'Bias Frame' … → the kind (case, spaces, 'frame' ignored)."""
    token = imagetyp.upper().replace("_", "").replace("-", "").replace(" ", "")
    if token.startswith("MASTER"):
        return FrameKind.MASTER
    if token.endswith("FRAME"):
        token = token[: -len("FRAME")]
    return _IMAGETYP_KINDS.get(token, FrameKind.OTHER)


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
        return f"{self.kind.value} {self.filter or '-'} {exp}"


_DEFAULT_KEYWORDS = {
    "exposure": "EXPTIME",
    "gain": "GAIN",
    "offset": "OFFSET",
    "xbinning": "XBINNING",
    "ybinning": "YBINNING",
    "readout": "READOUTM",
    "ccd_temp": "CCD-TEMP",
    "set_temp": "SET-TEMP",
    "filter": "FILTER",
    "shape": "NAXIS1/NAXIS2",
    "flat_set": "FLATSET",
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
    imagetyp, _ = _text(header, "IMAGETYP", "FRAME", "FRAMETYP")
    kind = kind_from_imagetyp(imagetyp or "")
    if kind is FrameKind.DARK and _flag(header, "DARKFLAT"):
        kind = FrameKind.DARK_FLAT
    if _flag(header, "MASTER"):
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

    exposure = num("exposure", "EXPTIME", "EXPOSURE")
    gain = num("gain", "GAIN")
    offset = num("offset", "OFFSET")
    xbin = num("xbinning", "XBINNING")
    ybin = num("ybinning", "YBINNING")
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
        readout=txt("readout", "READOUTM"),
        ccd_temp=num("ccd_temp", "CCD-TEMP", "CCD_TEMP"),
        set_temp=num("set_temp", "SET-TEMP", "SET_TEMP"),
        filter=txt("filter", "FILTER"),
        instrument=txt("instrument", "INSTRUME"),
        flat_set=txt("flat_set", "FLATSET"),
        run_id=txt("run_id", "RUNID"),
        date_obs=txt("date_obs", "DATE-OBS"),
        rejected=_flag(header, "REJECTED"),
        reject_reason=txt("reject_reason", "REJREASN"),
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


# --- matching -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One way a calibration frame differs from its flats, naming the file and the keyword."""

    path: Path
    field: str
    keyword: str
    found: object
    expected: object

    @property
    def category(self) -> str:
        return _CATEGORIES[self.field]

    def message(self) -> str:
        return (
            f"{self.path}: {self.keyword} = {show_value(self.found)} where the flats have {show_value(self.expected)}"
        )


_CATEGORIES = {
    "exposure": "different-duration",
    "gain": "changed-gain-offset",
    "offset": "changed-gain-offset",
    "xbinning": "different-binning",
    "ybinning": "different-binning",
    "shape": "different-binning",
    "readout": "different-readout-mode",
    "ccd_temp": "different-temperature",
    "set_temp": "different-temperature",
}


def show_value(value: object) -> str:
    """A header value as a message shows it: 4 → '4', 'High Gain' → "'High Gain'", shape → '800×600'."""
    if value is None:
        return "(missing)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in reversed(value))
    return repr(value) if isinstance(value, str) else str(value)


def same_exposure(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= max(1e-6, EXPOSURE_REL_TOLERANCE * max(abs(a), abs(b)))


@dataclass(frozen=True)
class FlatSettings:
    """What a flat set's calibration frames must share with it (the field notes' list)."""

    exposure: float | None
    gain: float | None
    offset: float | None
    xbinning: int | None
    ybinning: int | None
    readout: str | None
    ccd_temp: float | None
    set_temp: float | None
    shape: tuple[int, int]

    @classmethod
    def of(cls, flats: Sequence[FrameInfo]) -> FlatSettings:
        """The flats' common settings (the first flat's, with the mean sensor temperature)."""
        first = flats[0]
        temps = [f.ccd_temp for f in flats if f.ccd_temp is not None]
        return cls(
            exposure=first.exposure,
            gain=first.gain,
            offset=first.offset,
            xbinning=first.xbinning,
            ybinning=first.ybinning,
            readout=first.readout,
            ccd_temp=sum(temps) / len(temps) if temps else None,
            set_temp=first.set_temp,
            shape=first.shape,
        )

    def mismatches(
        self,
        frame: FrameInfo,
        *,
        temperature_tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE,
        check_exposure: bool = True,
        check_temperature: bool = True,
    ) -> list[Mismatch]:
        """Every setting in which `frame` differs from these flats. Missing keywords on either side are not
        differences (an uncooled camera writes no CCD-TEMP), except the image size."""
        out: list[Mismatch] = []

        def add(name: str, found: object, expected: object) -> None:
            out.append(Mismatch(frame.path, name, frame.keyword(name), found, expected))

        if frame.shape != self.shape:
            add("shape", frame.shape, self.shape)
        if (
            check_exposure
            and frame.exposure is not None
            and self.exposure is not None
            and not same_exposure(frame.exposure, self.exposure)
        ):
            add("exposure", frame.exposure, self.exposure)
        for name in ("gain", "offset", "xbinning", "ybinning"):
            mine, theirs = getattr(frame, name), getattr(self, name)
            if mine is not None and theirs is not None and mine != theirs:
                add(name, mine, theirs)
        if frame.readout is not None and self.readout is not None and frame.readout != self.readout:
            add("readout", frame.readout, self.readout)
        if check_temperature:
            if (
                frame.set_temp is not None
                and self.set_temp is not None
                and abs(frame.set_temp - self.set_temp) > 0.05
            ):
                add("set_temp", frame.set_temp, self.set_temp)
            elif (
                frame.ccd_temp is not None
                and self.ccd_temp is not None
                and abs(frame.ccd_temp - self.ccd_temp) > temperature_tolerance
            ):
                add("ccd_temp", frame.ccd_temp, round(self.ccd_temp, 2))
        return out


# --- grouping -----------------------------------------------------------------------------------------


@dataclass
class FlatGroup:
    """The flats of one flat set: by FLATSET when the files carry it, otherwise by equal settings."""

    key: str
    flats: list[FrameInfo]
    rejected: list[FrameInfo] = field(default_factory=list)

    @property
    def first(self) -> FrameInfo:
        return (self.flats or self.rejected)[0]

    @property
    def settings(self) -> FlatSettings:
        return FlatSettings.of(self.flats or self.rejected)

    @property
    def filter(self) -> str | None:
        return self.first.filter

    @property
    def exposure(self) -> float | None:
        return self.first.exposure

    @property
    def flat_set(self) -> str | None:
        return self.first.flat_set

    def links(self, frame: FrameInfo) -> bool:
        """Whether `frame` carries this set's id (FLATSET, and RUNID when both have one: two runs may both
        have an 'Ha_4s')."""
        first = self.first
        if not first.flat_set or frame.flat_set != first.flat_set:
            return False
        return first.run_id is None or frame.run_id is None or frame.run_id == first.run_id

    def label(self) -> str:
        exp = "?" if self.exposure is None else format_seconds(self.exposure)
        return f"{self.key} ({self.filter or 'no filter'}, {exp})"


def _settings_key(info: FrameInfo) -> tuple[object, ...]:
    exposure = None if info.exposure is None else round(info.exposure, 4)
    return (
        info.instrument,
        info.filter,
        exposure,
        info.gain,
        info.offset,
        info.xbinning,
        info.ybinning,
        info.readout,
        info.set_temp,
        info.shape,
    )


def _temperature_clusters(
    frames: list[FrameInfo], tolerance: float
) -> Iterator[list[FrameInfo]]:
    """Split frames whose sensor temperatures spread more than `tolerance` (no SET-TEMP to group by)."""
    with_temp = sorted((f for f in frames if f.ccd_temp is not None), key=lambda f: f.ccd_temp or 0.0)
    without = [f for f in frames if f.ccd_temp is None]
    cluster: list[FrameInfo] = []
    for frame in with_temp:
        assert frame.ccd_temp is not None
        if cluster and frame.ccd_temp - (cluster[0].ccd_temp or 0.0) > tolerance:
            yield cluster
            cluster = []
        cluster.append(frame)
    if cluster or without:
        yield cluster + without


def group_flats(
    infos: Iterable[FrameInfo], *, temperature_tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE
) -> list[FlatGroup]:
    """Flats grouped into flat sets, in file order. REJECTED flats are kept aside in their set."""
    flats = [f for f in infos if f.kind is FrameKind.FLAT]
    by_set: dict[tuple[str | None, str], list[FrameInfo]] = {}
    loose: dict[tuple[object, ...], list[FrameInfo]] = {}
    for flat in flats:
        if flat.flat_set:
            by_set.setdefault((flat.run_id, flat.flat_set), []).append(flat)
        else:
            loose.setdefault(_settings_key(flat), []).append(flat)
    runs_per_set: dict[str, int] = {}
    for _run, set_id in by_set:
        runs_per_set[set_id] = runs_per_set.get(set_id, 0) + 1
    groups = [
        FlatGroup(
            set_id if runs_per_set[set_id] == 1 or not run else f"{run}/{set_id}",
            [f for f in members if not f.rejected],
            [f for f in members if f.rejected],
        )
        for (run, set_id), members in by_set.items()
    ]
    for members in loose.values():
        for cluster in _temperature_clusters(members, temperature_tolerance):
            first = cluster[0]
            exp = "?" if first.exposure is None else f"{first.exposure:g}s"
            key = f"{first.filter or 'nofilter'}-{exp}"
            if first.gain is not None:
                key += f"-g{first.gain:g}"
            if first.ccd_temp is not None and first.set_temp is None:
                key += f"-{first.ccd_temp:+.0f}C"
            groups.append(
                FlatGroup(key, [f for f in cluster if not f.rejected], [f for f in cluster if f.rejected])
            )
    _disambiguate(groups)
    return groups


def _disambiguate(groups: list[FlatGroup]) -> None:
    counts: dict[str, int] = {}
    for group in groups:
        counts[group.key] = counts.get(group.key, 0) + 1
    seen: dict[str, int] = {}
    for group in groups:
        if counts[group.key] > 1:
            seen[group.key] = seen.get(group.key, 0) + 1
            group.key = f"{group.key}#{seen[group.key]}"


# --- pixels -------------------------------------------------------------------------------------------


_BITPIX_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


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
        if bitpix not in _BITPIX_DTYPES:
            raise FrameError(f"{path}: BITPIX = {bitpix} is not a FITS image type")
        self._stored = np.dtype(_BITPIX_DTYPES[bitpix])
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
        size = os.path.getsize(self.path)
        needed = data_offset + rows * cols * self._stored.itemsize
        if size < needed:
            raise FrameError(f"{path}: truncated ({size} bytes, the image needs {needed})")
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
        item = self._stored.itemsize
        nbytes = (stop - start) * cols * item
        offset = self._offset + start * cols * item
        fd = self._fd if self._fd is not None else os.open(self.path, os.O_RDONLY)
        try:
            buf = bytearray(nbytes)
            view = memoryview(buf)
            got = 0
            while got < nbytes:
                n = os.preadv(fd, [view[got:]], offset + got)
                if n <= 0:
                    raise FrameError(f"{self.path}: truncated while reading rows {start}-{stop}")
                got += n
        finally:
            if self._fd is None:
                os.close(fd)
        if self._unsigned16:
            raw16 = np.frombuffer(buf, dtype=">u2").reshape(stop - start, cols)
            values: npt.NDArray[np.uint16] = np.bitwise_xor(raw16, np.uint16(0x8000), dtype=np.uint16)
            return values  # native byte order; flipping the top bit is adding BZERO 32768
        raw = np.frombuffer(buf, dtype=self._stored).reshape(stop - start, cols)
        if self.dtype == np.float64 and (self._bscale != 1.0 or self._bzero != 0.0):
            return raw.astype(np.float64) * self._bscale + self._bzero
        return raw.astype(self.dtype)

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
