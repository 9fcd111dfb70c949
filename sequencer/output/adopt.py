"""Frames on disk that the manifest does not list yet: a run killed between a frame landing (whole: written,
fsynced, linked) and the manifest being rewritten leaves one. Read back from the frame's own header, in the
vocabulary the writer used, so `flatseq recover` can put it back in the manifest."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

from astropy.io import fits

from sequencer.output import keywords as kw
from sequencer.output.header import TIMED_COMMENT, StatValues
from sequencer.output.keywords import FrameKind
from sequencer.output.records import FrameRecord

FITS_NAMES = ("*.fits", "*.fit", "*.fts")


def frames_on_disk(run_dir: Path) -> Iterator[Path]:
    """Every finished frame under a run directory (temporary `.part` files and masters left out)."""
    for pattern in FITS_NAMES:
        for path in sorted(run_dir.rglob(pattern)):
            if not path.name.startswith(".") and "masters" not in path.relative_to(run_dir).parts:
                yield path


def temporary_files(run_dir: Path) -> list[Path]:
    """The hidden `.NAME.XXXXXXXX.part` files a write cut short leaves (frames, manifest)."""
    return sorted(p for p in run_dir.rglob(".*.part") if p.is_file())


def adopt(path: Path, run_dir: Path) -> tuple[str, FrameRecord] | None:
    """(flat-set id, record) of a flatseq frame from its header; None if it is not one (or unreadable)."""
    try:
        header = fits.getheader(path, 0)
    except (OSError, ValueError):
        return None
    set_id, number, imagetyp = header.get(kw.FLATSET), header.get(kw.FRAMENO), header.get(kw.IMAGETYP)
    if not isinstance(set_id, str) or not isinstance(number, int) or imagetyp not in ("FLAT", "DARK", "BIAS"):
        return None
    kind = FrameKind.DARK_FLAT if header.get(kw.DARKFLAT) is True else kw.kind_from_imagetyp(str(imagetyp))
    stats = None
    with contextlib.suppress(KeyError, TypeError, ValueError):  # a frame without statistics is still a frame
        stats = StatValues.of({k: float(header[c]) for k, c in _STAT_CARDS.items()})
    return set_id, FrameRecord(
        file=path.relative_to(run_dir).as_posix(),
        frame_no=number,
        kind=kind,
        rejected=header.get(kw.REJECTED) is True,
        reason=_text(header.get(kw.REJREASN)),
        stats=stats,
        date_obs=_date(header.get(kw.DATE_OBS)),
        ccd_temp=_number(header.get(kw.CCD_TEMP)),
        brightness=header.get(kw.PANELBRT) if isinstance(header.get(kw.PANELBRT), int) else None,
        exposure=_number(header.get(kw.EXPTIME)),
        exposure_requested=_number(header.get(kw.EXPREQ)),
        exposure_reported=kw.EXPTIME in header and header.comments[kw.EXPTIME] == TIMED_COMMENT,
    )


_STAT_CARDS = {
    "mean": kw.STATMEAN,
    "median": kw.STATMED,
    "std": kw.STATSTD,
    "min": kw.STATMIN,
    "max": kw.STATMAX,
    "sat": kw.STATSAT,
}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _date(value: object) -> str | None:
    """DATE-OBS as the manifest writes it (ISO UTC with a Z)."""
    if not isinstance(value, str):
        return None
    return value if value.endswith("Z") else value + "Z"
