"""The frame reader knows a master by any of the labels in use: flatseq's own (`Master Dark` with DARKFLAT,
`Master Flat`, COMBINED), the older `MASTERDARKFLAT` / `MASTER = T`, and ccdproc's (`DARK` with COMBINED)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sequencer.calibration.frames import read_info
from sequencer.output.fitsio import write_fits
from sequencer.output.keywords import FrameKind


@pytest.mark.parametrize(
    ("cards", "combines"),
    [
        ({"IMAGETYP": "Master Dark", "DARKFLAT": True, "COMBINED": True}, FrameKind.DARK_FLAT),
        ({"IMAGETYP": "Master Dark", "COMBINED": True}, FrameKind.DARK),
        ({"IMAGETYP": "Master Flat", "COMBINED": True}, FrameKind.FLAT),
        ({"IMAGETYP": "Master Bias", "COMBINED": True}, FrameKind.BIAS),
        ({"IMAGETYP": "Master Flat"}, FrameKind.FLAT),  # WBPP's own, with no COMBINED card
        ({"IMAGETYP": "MASTERDARKFLAT", "MASTER": True}, FrameKind.DARK_FLAT),  # flatseq before 0.2
        ({"IMAGETYP": "MASTERFLAT", "MASTER": True}, FrameKind.FLAT),
        ({"IMAGETYP": "DARK", "COMBINED": True}, FrameKind.DARK),  # the astropy CCD guide's masters
        ({"IMAGETYP": "FLAT", "COMBINED": True}, FrameKind.FLAT),
    ],
)
def test_every_label_of_a_master_reads_as_a_master(
    tmp_path: Path, cards: dict[str, object], combines: FrameKind
) -> None:
    path = write_fits(tmp_path / "m.fits", np.zeros((4, 6), dtype=np.uint16), {**cards, "EXPTIME": 2.0})
    info = read_info(path)
    assert info.kind is FrameKind.MASTER
    assert info.master_of is combines


@pytest.mark.parametrize(
    ("cards", "kind"),
    [
        ({"IMAGETYP": "DARK", "DARKFLAT": True}, FrameKind.DARK_FLAT),
        ({"IMAGETYP": "FLAT", "COMBINED": False}, FrameKind.FLAT),
        ({"IMAGETYP": "DARK"}, FrameKind.DARK),
    ],
)
def test_raw_frames_stay_raw(tmp_path: Path, cards: dict[str, object], kind: FrameKind) -> None:
    info = read_info(write_fits(tmp_path / "f.fits", np.zeros((4, 6), dtype=np.uint16), {**cards, "EXPTIME": 2.0}))
    assert (info.kind, info.master_of) == (kind, None)
