"""`flatseq export`: the frames that count, in each stacker's tree; hard links, copies where links fail,
never into a tree that already has frames."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sequencer.cli import main
from sequencer.output.manifest import Manifest
from tests.support.stackers import SET, run_with_rejected_flats


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_with_rejected_flats(tmp_path_factory.mktemp("export"), count=8, dark_flats=6, formats="fits")


def counted(run: Path) -> tuple[set[str], set[str], set[str]]:
    (record,) = Manifest.load(run / "manifest.json").sets
    good = {Path(f.file).name for f in record.flats if not f.rejected}
    bad = {Path(f.file).name for f in record.flats if f.rejected}
    return good, bad, {Path(f.file).name for f in record.dark_flats}


def test_a_siril_export_hard_links_the_frames_that_count(run: Path, tmp_path: Path) -> None:
    assert main(["export", str(run), "--layout", "siril", str(tmp_path / "s")]) == 0
    good, bad, darks = counted(run)
    folder = tmp_path / "s" / SET
    assert {p.name for p in (folder / "flats").iterdir()} == good and bad
    assert {p.name for p in (folder / "biases").iterdir()} == darks
    assert {p.name for p in (folder / "masters").iterdir()} == {"masterflat.fits", "masterdarkflat.fits"}
    for path in (folder / "flats").iterdir():
        assert os.path.samefile(path, run / SET / "flats" / path.name)  # a link: the same bytes, no space used


def test_where_links_fail_the_frames_are_copied(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    assert main(["export", str(run), "--layout", "siril", str(tmp_path / "s")]) == 0
    for path in (tmp_path / "s" / SET / "flats").iterdir():
        original = run / SET / "flats" / path.name
        assert not os.path.samefile(path, original) and path.read_bytes() == original.read_bytes()


def test_an_export_never_goes_into_a_tree_that_has_files(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "s"
    assert main(["export", str(run), "--layout", "siril", str(dest)]) == 0
    assert main(["export", str(run), "--layout", "siril", str(dest)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["export", str(run), "--layout", "wbpp", str(run / "inside")]) == 2
    assert "outside the run directory" in capsys.readouterr().err


def test_a_wbpp_export_has_its_masters_in_xisf(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run), "--layout", "wbpp", str(tmp_path / "w")]) == 0
    assert "2 masters written as XISF" in capsys.readouterr().out
    folder = tmp_path / "w" / SET
    good, _, darks = counted(run)
    assert {p.name for p in (folder / "flats").iterdir()} == good
    assert {p.name for p in (folder / "darkflats").iterdir()} == darks
    masters = sorted(p.name for p in (folder / "masters").iterdir())
    assert masters == ["masterdarkflat_01-Ha-4s.xisf", "masterflat_01-Ha-4s.xisf"]
    from tests.results.test_stacker_labels import xisf_module

    decoder = xisf_module().XISF(str(folder / "masters" / masters[0]))
    assert decoder.get_images_metadata()[0]["imageType"] == "MasterDark"
    fits_master = fits.getdata(run / SET / "masters" / "masterdarkflat_01-Ha-4s.fits")
    assert np.array_equal(decoder.read_image(0)[..., 0], fits_master.astype(np.float32))


def test_a_nina_export_follows_ninas_default_pattern(run: Path, tmp_path: Path) -> None:
    assert main(["export", str(run), "--layout", "nina", str(tmp_path / "n")]) == 0
    good, _, darks = counted(run)
    (night,) = (tmp_path / "n").iterdir()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", night.name)
    assert sorted(p.name for p in night.iterdir()) == ["DARK", "FLAT"]
    names = sorted(p.name for p in (night / "FLAT").iterdir())
    assert len(names) == len(good)
    pattern = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_Ha_-?\d+\.\d\d_4\.00s_\d{4}\.fits"
    assert all(re.fullmatch(pattern, n) for n in names), names
    assert len(list((night / "DARK").iterdir())) == len(darks)
    for path in (night / "DARK").iterdir():
        assert fits.getheader(path)["IMAGETYP"] == "DARK"
