"""`flatseq master --bias`: the field notes' rules. Bias is fine under 0.1 s, a warning from 0.1 s on (0.1-0.2 s
"may suffice", from 0.2 s "take dark-flats"), and bias and dark-flats are never mixed in one master."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sequencer.cli import main
from tests.support.masterframes import ShotBook, rig, shoot_bias, shoot_set, write_shots


@pytest.fixture(scope="module")
def frames() -> ShotBook:
    bench = rig(seed=6)
    book = ShotBook(bench, bias=shoot_bias(bench, 9))
    for exposure in (0.05, 0.15, 1.0):
        book.sets[f"L{exposure:g}"] = shoot_set(bench, "L", exposure, 9, 9)
    return book


def flats_only(root: Path, frames: ShotBook, exposure: float) -> Path:
    write_shots(root / "run", frames.flats(f"L{exposure:g}"), flat_set=f"L_{exposure:g}s")
    return root / "run"


def bias_dir(root: Path, frames: ShotBook, **overrides: object) -> Path:
    write_shots(root / "bias", frames.bias, style="nina", overrides={i: overrides for i in range(len(frames.bias))})
    return root / "bias"


def test_bias_for_short_flats_makes_a_master_without_warning(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    run = flats_only(tmp_path, frames, 0.05)
    assert main(["master", str(run), "--bias", str(bias_dir(tmp_path, frames))]) == 0
    assert "warning" not in capsys.readouterr().err
    master = fits.getheader(run / "masters" / "masterflat_L_0.05s.fits")
    assert (master["CALTYPE"], master["CALFILE"], master["NCALIB"]) == ("BIAS", "masterbias_L_0.05s.fits", 9)
    with fits.open(run / "masters" / "masterbias_L_0.05s.fits") as bias:
        assert bias[0].header["IMAGETYP"] == "Master Bias" and "EXPTIME" not in bias[0].header
        pedestal = frames.bench.sensor.pedestal_adu(50)
        assert float(np.median(bias[0].data)) == pytest.approx(pedestal, abs=3)


@pytest.mark.parametrize(
    ("exposure", "warning"),
    [(0.15, "bias for 0.15 s flats may suffice depending on the camera"), (1.0, "from 0.2 s on, take dark-flats")],
)
def test_bias_for_longer_flats_warns(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str], exposure: float, warning: str
) -> None:
    run = flats_only(tmp_path, frames, exposure)
    assert main(["master", str(run), "--bias", str(bias_dir(tmp_path, frames))]) == 0
    err = capsys.readouterr().err
    assert f"warning: L_{exposure:g}s: " in err and warning in err


def test_dark_flats_of_a_set_are_set_aside_with_bias(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = frames.sets["L0.05"]
    write_shots(tmp_path / "run", flats, flat_set="L_0.05s")
    write_shots(tmp_path / "run", darks, flat_set="L_0.05s")
    assert main(["master", str(tmp_path / "run"), "--bias", str(bias_dir(tmp_path, frames))]) == 0
    assert "its 9 dark-flats are not used (--bias)" in capsys.readouterr().err
    assert fits.getheader(tmp_path / "run" / "masters" / "masterflat_L_0.05s.fits")["CALTYPE"] == "BIAS"


def test_a_dark_given_as_bias_is_never_mixed_in(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    run = flats_only(tmp_path, frames, 0.05)
    bias = bias_dir(tmp_path, frames)
    darks = frames.darks("L0.05")
    write_shots(bias, darks[:1], style="nina")
    assert main(["master", str(run), "--bias", str(bias)]) == 2
    err = capsys.readouterr().err
    assert "dark_L_0.05s_001.fits: IMAGETYP = 'DARK' given as bias" in err and "never mixed" in err


def test_bias_linked_to_a_sets_dark_flats_is_refused(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = frames.sets["L0.05"]
    bias = frames.bias
    write_shots(tmp_path, flats, flat_set="L_0.05s")
    write_shots(tmp_path, darks, flat_set="L_0.05s")
    write_shots(tmp_path, bias[:2], flat_set="L_0.05s")
    assert main(["master", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "bias_001.fits: IMAGETYP = 'BIAS' among the dark-flats of set L_0.05s" in err
    assert "never mixed in one master" in err


def test_bias_with_another_gain_is_refused_by_keyword(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    run = flats_only(tmp_path, frames, 0.05)
    assert main(["master", str(run), "--bias", str(bias_dir(tmp_path, frames, GAIN=0))]) == 2
    err = capsys.readouterr().err
    assert "bias_001.fits: GAIN = 0 where the flats have 100" in err and "bias frames must match" in err


def test_something_else_than_bias_in_the_bias_folder_is_refused(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    run = flats_only(tmp_path, frames, 0.05)
    assert main(["master", str(run), "--bias", str(bias_dir(tmp_path, frames, IMAGETYP="LIGHT"))]) == 2
    assert "IMAGETYP = 'LIGHT' is not a bias frame" in capsys.readouterr().err
