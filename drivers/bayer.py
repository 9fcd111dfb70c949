"""Bayer mosaics as drivers report them, brought to one form: the pattern as it starts at pixel (0, 0).

ASCOM names one mosaic for all four placements (SensorType 2, "RGGB") and says where the frame starts in it
(BayerOffsetX/Y); INDI gives a pattern and offsets (CCD_CFA: CFA_TYPE, CFA_OFFSET_X, CFA_OFFSET_Y); FITS
writers give BAYERPAT with XBAYROFF/YBAYROFF. `CameraInfo.bayer` holds the pattern with the offsets folded in,
so nothing downstream needs to know about offsets.
"""

from __future__ import annotations

BAYER_PATTERNS = ("RGGB", "GRBG", "GBRG", "BGGR")
"""The four placements of the Bayer mosaic, named from the first two pixels of the first two rows."""

ASCOM_MONOCHROME = 0
ASCOM_RGGB = 2
ASCOM_SENSOR_TYPES = {0: "Monochrome", 1: "Color", 2: "RGGB", 3: "CMYG", 4: "CMYG2", 5: "LRGB"}
"""ASCOM's SensorType values (ICameraV3)."""


def shifted(pattern: str, x: int, y: int) -> str:
    """The pattern seen from pixel (x, y) of a mosaic that starts `pattern` at (0, 0)."""
    cell = [[pattern[0], pattern[1]], [pattern[2], pattern[3]]]
    return "".join(cell[(y + r) % 2][(x + c) % 2] for r in (0, 1) for c in (0, 1))


def offsets_from_rggb(pattern: str) -> tuple[int, int]:
    """ASCOM's (BayerOffsetX, BayerOffsetY) for a frame whose pixel (0, 0) starts `pattern`."""
    for y in (0, 1):
        for x in (0, 1):
            if shifted("RGGB", x, y) == pattern:
                return x, y
    raise ValueError(f"{pattern!r} is not a Bayer pattern (known: {', '.join(BAYER_PATTERNS)})")


def pattern_at_origin(pattern: str, x: int, y: int) -> str:
    """A reported pattern and offsets as the pattern at pixel (0, 0); ValueError for anything else."""
    name = pattern.strip().upper()
    if name not in BAYER_PATTERNS:
        raise ValueError(f"{pattern!r} is not a Bayer pattern (known: {', '.join(BAYER_PATTERNS)})")
    if x not in (0, 1) or y not in (0, 1):
        raise ValueError(f"Bayer offsets are 0 or 1, not ({x}, {y})")
    return shifted(name, x, y)


def frame_pattern(pattern: str | None, binning: int, roi: tuple[int, int, int, int] | None) -> str | None:
    """The mosaic of a frame read out at `binning` and `roi` (x, y, width, height): a region starting on an odd
    row or column starts on another colour; a binned colour frame is no longer a mosaic (None)."""
    if pattern is None or binning != 1:
        return None
    return shifted(pattern, roi[0] % 2, roi[1] % 2) if roi is not None else pattern
