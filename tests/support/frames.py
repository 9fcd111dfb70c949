"""Frames and headers for output tests: every corner of the BZERO mapping, a complete flat header."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivers.base import CameraSettings
from sequencer.output.header import FrameHeader
from sequencer.output.keywords import FrameKind

ROWS, COLS = 214, 320  # the small simulated sensor


def make_frame(seed: int = 0, rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 65536, size=(rows, cols), dtype=np.uint16)
    frame[0, :4] = [0, 1, 32767, 65535]  # the corners of the BZERO mapping
    frame[-1, -3:] = [32768, 32769, 65534]
    return frame


def make_header(n: int = 1, kind: FrameKind = FrameKind.FLAT, **changes: object) -> FrameHeader:
    fields: dict[str, object] = {
        "kind": kind,
        "flat_set": "Ha_4s",
        "run_id": "2026-01-01T000000Z",
        "frame_no": n,
        "exposure": 4.0,
        "settings": CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=-10.0),
        "readout_mode_name": "Normal",
        "camera": "Simulated IMX455",
        "date_obs": 1_767_225_600.0,
        "ccd_temp": -10.1,
        "filter": "Ha",
        "panel_brightness": 118 if kind is FrameKind.FLAT else None,
        "panel_max": 255 if kind is FrameKind.FLAT else None,
        "stats": {"mean": 32000.5, "median": 32001.0, "std": 180.25, "min": 30000, "max": 34000, "sat": 0.0},
    }
    fields.update(changes)
    return FrameHeader(**fields)  # type: ignore[arg-type]


def files_in(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
