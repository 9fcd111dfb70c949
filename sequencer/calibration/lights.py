"""A night's light frames, from their headers alone: what configuration of the camera each was taken in.

The keywords are those the capture programs write (the vocabulary is `sequencer.output.keywords`):

- IMAGETYP: ``LIGHT`` (N.I.N.A., SGP), ``Light Frame`` (Ekos/KStars, APT, MaxIm DL), ``Light`` (ASIAIR), and
  any case; Ekos also writes FRAME. A file of another type (flats, darks) is counted, not planned.
- EXPTIME or EXPOSURE (N.I.N.A. writes both, SGP and ASIAIR one or the other), GAIN, OFFSET,
  XBINNING/YBINNING, READOUTM (N.I.N.A.'s readout mode name), CCD-TEMP, SET-TEMP, INSTRUME, BAYERPAT.
- FILTER: absent means no filter (a colour camera, ASIAIR writes none; DOMAIN.md).
- A region of interest: NAXIS1/NAXIS2 with XORGSUBF/YORGSUBF, its origin in binned pixels (MaxIm DL's FITS
  header definitions, after the SBIG FITS extension; N.I.N.A., SGP and APT write them).
- Rotation: ROTATANG, ROTATOR (N.I.N.A. writes the rotator's angle there, its issue #613), OBJCTROT;
  focus: FOCPOS or FOCUSPOS.

Only the primary header is read (`sequencer.calibration.headercards`), never the pixels. Every file is
untrusted: a value that makes no sense is a `LightError` naming the file and the keyword, and the file is
listed and skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from drivers.bayer import pattern_at_origin
from drivers.errors import ConfigError, quoted
from sequencer.calibration.frames import MAX_AXIS, MAX_BINNING, each_fits_file
from sequencer.calibration.headercards import Cards, HeaderError, read_cards
from sequencer.core.units import ABSOLUTE_ZERO
from sequencer.output import keywords as kw
from sequencer.output.keywords import FrameKind, kind_from_imagetyp

MAX_SETTING = 2**31 - 1


class LightError(ConfigError):
    """A light's header that makes no sense; the message names the file and the keyword."""


@dataclass(frozen=True)
class Region:
    """A region of interest in binned pixels, as the camera reads it out: origin and size."""

    x: int
    y: int
    width: int
    height: int

    def describe(self) -> str:
        return f"{self.width}×{self.height} at ({self.x}, {self.y})"


@dataclass(frozen=True)
class LightFrame:
    """One light's header in the user's terms; None where the header does not say."""

    path: Path
    exposure: float | None
    instrument: str | None
    filter: str | None
    xbinning: int
    ybinning: int
    gain: int | None
    offset: int | None
    readout: str | None
    width: int
    height: int
    origin: tuple[int, int] | None
    """XORGSUBF/YORGSUBF when the header has them."""
    rotation: float | None
    focus: float | None
    ccd_temp: float | None
    set_temp: float | None
    bayer: str | None
    date_obs: str | None


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def _mosaic(cards: Cards, path: Path) -> str | None:
    """BAYERPAT with XBAYROFF/YBAYROFF folded in (as Siril and PixInsight read them); a pattern flatseq does not
    know (CMYG) is kept as written, so it still differs from the flats'."""
    pattern = _text(cards, (kw.BAYERPAT,))
    if pattern is None:
        return None
    x = _number(cards, path, (kw.XBAYROFF,)) or 0
    y = _number(cards, path, (kw.YBAYROFF,)) or 0
    try:
        return pattern_at_origin(pattern, int(x) % 2, int(y) % 2)
    except ValueError:
        return pattern.strip().upper()


def _number(cards: Cards, path: Path, keys: Iterable[str], low: float = -math.inf) -> float | None:
    for key in keys:
        value = cards.value(key)
        if value is None:
            continue
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise LightError(f"{path}: {key} = {quoted(value, 40)} is not a number") from None
        if isinstance(value, bool) or not math.isfinite(value):
            raise LightError(f"{path}: {key} = {value!r} is not a number")
        if value < low:
            raise LightError(f"{path}: {key} = {value:g} is below {low:g}")
        return float(value)
    return None


def _whole(cards: Cards, path: Path, key: str, low: int, high: int) -> int | None:
    value = _number(cards, path, (key,))
    if value is None:
        return None
    if not value.is_integer() or not low <= value <= high:
        raise LightError(f"{path}: {key} = {value:g} is not a whole number from {low} to {high}")
    return int(value)


def _text(cards: Cards, keys: Iterable[str]) -> str | None:
    for key in keys:
        value = cards.value(key)
        if value is None:
            continue
        text = ("T" if value else "F") if isinstance(value, bool) else str(value).strip()
        if text:
            return text
    return None


def frame_kind(cards: Cards) -> FrameKind:
    """The frame's type from IMAGETYP (or FRAME, FRAMETYP); OTHER when none says."""
    return kind_from_imagetyp(_text(cards, kw.IMAGETYP_KEYS) or "")


def light_from_cards(cards: Cards) -> LightFrame:
    """A light's configuration from its header; `LightError` for a value that makes no sense."""
    path = cards.path
    naxis = _whole(cards, path, "NAXIS", 0, 999)
    if naxis not in (2, 3):  # 3: a debayered colour frame (MaxIm DL writes NAXIS3 = 3)
        raise LightError(f"{path}: NAXIS = {naxis}, expected an image")
    width = _whole(cards, path, "NAXIS1", 1, MAX_AXIS)
    height = _whole(cards, path, "NAXIS2", 1, MAX_AXIS)
    assert width is not None and height is not None  # NAXISn of an image (checked above) are required
    xbin = _whole(cards, path, kw.XBINNING, 1, MAX_BINNING) or 1
    ybin = _whole(cards, path, kw.YBINNING, 1, MAX_BINNING) or xbin
    xorg = _whole(cards, path, kw.XORGSUBF, 0, MAX_AXIS)
    yorg = _whole(cards, path, kw.YORGSUBF, 0, MAX_AXIS)
    gain = _number(cards, path, (kw.GAIN,), low=0)
    offset = _number(cards, path, (kw.OFFSET,), low=0)
    for key, value in ((kw.GAIN, gain), (kw.OFFSET, offset)):
        if value is not None and (not value.is_integer() or value > MAX_SETTING):
            raise LightError(f"{path}: {key} = {value:g} is not a camera setting (a whole number)")
    rotation = _number(cards, path, kw.ROTATION_KEYS)
    return LightFrame(
        path=path,
        exposure=_number(cards, path, kw.EXPOSURE_KEYS, low=0.0),
        instrument=_text(cards, (kw.INSTRUME,)),
        filter=_text(cards, (kw.FILTER,)),
        xbinning=xbin,
        ybinning=ybin,
        gain=None if gain is None else int(gain),
        offset=None if offset is None else int(offset),
        readout=_text(cards, (kw.READOUTM,)),
        width=width,
        height=height,
        origin=None if xorg is None and yorg is None else (xorg or 0, yorg or 0),
        rotation=None if rotation is None else rotation % 360.0,
        focus=_number(cards, path, kw.FOCUS_KEYS),
        ccd_temp=_number(cards, path, kw.CCD_TEMP_KEYS, low=ABSOLUTE_ZERO),
        set_temp=_number(cards, path, kw.SET_TEMP_KEYS, low=ABSOLUTE_ZERO),
        bayer=_mosaic(cards, path),
        date_obs=_text(cards, (kw.DATE_OBS,)),
    )


@dataclass
class LightScan:
    """What the headers under some folders held: the lights, the files skipped and why, other frames."""

    lights: list[LightFrame]
    skipped: list[Skipped]
    others: dict[str, int]


def scan_lights(paths: Iterable[Path]) -> LightScan:
    """Every light frame's header under the given files or folders (recursively); a file that is not a
    readable FITS light is listed with its reason, never fatal."""
    out = LightScan([], [], {})
    for path in each_fits_file(paths):
        try:
            cards = read_cards(path)
            kind = frame_kind(cards)
            if kind is FrameKind.LIGHT:
                out.lights.append(light_from_cards(cards))
            elif kind is FrameKind.OTHER and not (set(kw.IMAGETYP_KEYS) & set(cards.keywords())):
                out.skipped.append(Skipped(path, f"{path}: no IMAGETYP: not known to be a light"))
            else:
                out.others[kind.label] = out.others.get(kind.label, 0) + 1
        except (HeaderError, LightError) as exc:
            out.skipped.append(Skipped(path, str(exc)))
    return out
