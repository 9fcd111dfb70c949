"""Masters are float FITS written by flatseq itself: a card whose value is long (a set id of a long filter name
in CALFILE) keeps its value whole and a comment cut to fit, without astropy's warning on every write."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

from sequencer.output.fitsio import write_float_fits


def test_a_long_value_keeps_its_value_and_a_comment_that_fits(tmp_path: Path) -> None:
    header = fits.Header()
    name = "masterdarkflat_01-DualBand-Extreme-300s.fits"
    header["CALFILE"] = (name, "master subtracted from each flat")
    header["LONGTEXT"] = ("x" * 90, "a long string continues")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = write_float_fits(tmp_path / "m.fits", np.ones((4, 4), np.float32), header)
        read = fits.getheader(path)
    assert read["CALFILE"] == name and "master subtracted".startswith(read.comments["CALFILE"][:10])
    assert len(read.comments["CALFILE"]) < len("master subtracted from each flat")
    assert read["LONGTEXT"] == "x" * 90
