"""A region of interest, as every driver checks and reads it back (`CameraSettings.roi`).

ASCOM counts StartX/StartY/NumX/NumY in binned pixels (ICameraV3); INDI's CCD_FRAME counts unbinned pixels
(X, Y, WIDTH, HEIGHT); `CameraSettings.roi` is ASCOM's, so the INDI driver converts.
"""

from __future__ import annotations

from drivers.errors import InvalidValue, NotSupported

Region = tuple[int, int, int, int]


def check_region(device: str, roi: Region | None, width: int, height: int, binning: int, subframe: bool) -> None:
    """A region inside the binned frame of a camera that reads regions; InvalidValue / NotSupported otherwise."""
    if roi is None:
        return
    if not subframe:
        raise NotSupported(device, "cannot read out a region of interest")
    x, y, w, h = roi
    cols, rows = width // binning, height // binning
    if min(x, y) < 0 or min(w, h) < 1 or x + w > cols or y + h > rows:
        raise InvalidValue(
            device, f"region {w}×{h} at ({x}, {y}) is outside the {cols}×{rows} frame at binning {binning}"
        )


def region_read(x: int, y: int, w: int, h: int, width: int, height: int, binning: int) -> Region | None:
    """A region as a camera reports it (binned pixels); None when it is the full binned frame."""
    if (x, y, w, h) == (0, 0, width // binning, height // binning):
        return None
    return (x, y, w, h)
