"""Siril 1.0.6 (Debian's siril, run for real) on a dry run's Siril export: its standard script makes a master
flat that matches flatseq's, from the flats that count only (a REJECTED flat never reaches its input)."""

from __future__ import annotations

from pathlib import Path

import pytest
from astropy.io import fits

from sequencer.cli import main
from sequencer.output.manifest import Manifest
from sequencer.results.sirilscript import RESULT_NAME, SCRIPT_NAME
from tests.support.stackers import SET, correlation, run_with_rejected_flats, siril
from tests.support.tools import require


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_with_rejected_flats(tmp_path_factory.mktemp("siril"), formats="fits")


def test_the_run_rejected_some_flats_and_filed_them_apart(run: Path) -> None:
    (record,) = Manifest.load(run / "manifest.json").sets
    rejected = [f for f in record.flats if f.rejected]
    assert rejected and len([f for f in record.flats if not f.rejected]) == 12
    assert all(f.file.startswith(f"{SET}/rejected/") for f in rejected)
    assert all(f.file.startswith(f"{SET}/flats/") for f in record.flats if not f.rejected)
    assert all(f.file.startswith(f"{SET}/darkflats/") for f in record.dark_flats)


def test_siril_makes_the_same_master_flat_from_flatseqs_master_dark_flat(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require("siril-cli")
    dest = tmp_path / "siril"
    assert main(["export", str(run), "--layout", "siril", str(dest)]) == 0
    assert f"siril-cli -d {dest / SET}" in capsys.readouterr().out
    folder = dest / SET
    exported = sorted(p.name for p in (folder / "flats").iterdir())
    (record,) = Manifest.load(run / "manifest.json").sets
    assert exported == sorted(Path(f.file).name for f in record.flats if not f.rejected)
    assert not {Path(f.file).name for f in record.flats if f.rejected} & set(exported)
    assert len(list((folder / "biases").iterdir())) == 12
    script = (folder / SCRIPT_NAME).read_text()
    assert "preprocess flat -bias=../masters/masterdarkflat.fits" in script
    assert "stack pp_flat rej 3 3 -norm=mul" in script
    done = siril(folder, folder / SCRIPT_NAME, tmp_path / "home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "12 images have been stacked" in done.stdout  # the rejected flats were not in its input
    ours = fits.getdata(folder / "masters" / "masterflat.fits")
    theirs = fits.getdata(folder / f"{RESULT_NAME}.fit")
    assert correlation(ours, theirs) > 0.9999


def test_without_flatseqs_masters_the_script_stacks_the_dark_flats_itself(run: Path, tmp_path: Path) -> None:
    """A run exported before `flatseq master`: Siril makes the master dark-flat from biases/ (where its own
    script stacks the bias) and the master flat agrees with flatseq's all the same."""
    require("siril-cli")
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in run.rglob("*"):
        if path.is_file() and "masters" not in path.parts:
            target = bare / path.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    dest = tmp_path / "siril"
    assert main(["export", str(bare), "--layout", "siril", str(dest)]) == 0
    folder = dest / SET
    assert not (folder / "masters").exists()
    assert "stack bias rej 3 3 -nonorm" in (folder / SCRIPT_NAME).read_text()
    done = siril(folder, folder / SCRIPT_NAME, tmp_path / "home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    ours = fits.getdata(next((run / SET / "masters").glob("masterflat_*.fits")))
    assert correlation(ours, fits.getdata(folder / f"{RESULT_NAME}.fit")) > 0.9999
