"""Disk space: what a frame takes on disk, and refusing a run that would not fit before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

from sequencer.core.atomicfile import OutputError
from sequencer.output.fitsio import BLOCK, padded

HEADER_BYTES = 2 * BLOCK
"""Room for a flatseq header: every card `FrameHeader` writes fits in two blocks."""


def bytes_per_frame(width: int, height: int, *, binning: int = 1) -> int:
    """Bytes one frame takes on disk: header and 16-bit data, each padded to 2880-byte FITS blocks.
    `width` × `height` is the unbinned sensor size."""
    cols, rows = width // binning, height // binning
    return HEADER_BYTES + padded(cols * rows * 2)


def format_bytes(count: float) -> str:
    """``122.3 MB``: decimal units, as disks are sold and as ``df -H`` prints them."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def check_free_space(directory: Path, bytes_needed: int) -> int:
    """Refuse a run that cannot fit: OutputError with both figures. Returns the free bytes.

    `directory` need not exist yet; the filesystem it would be created on is checked.
    """
    probe = Path(directory).expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError as exc:
        raise OutputError(f"{directory}: cannot read the free space: {exc.strerror or exc}") from exc
    if free < bytes_needed:
        raise OutputError(
            f"not enough free space for {directory}: the run needs {format_bytes(bytes_needed)}, "
            f"only {format_bytes(free)} free on {probe}"
        )
    return free
