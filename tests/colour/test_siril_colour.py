"""Siril (Debian's siril 1.0, run for real) reads flatseq's colour frames and colour masters as CFA images: it
finds the Bayer pattern in BAYERPAT and, debayering, puts the dual-band flat's strong channel in red, so the
pattern and ROWORDER = TOP-DOWN mean to Siril what they mean to flatseq, for every placement of the mosaic."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from tests.support.tools import require

SEQUENCE = """\
name: colour for Siril
equipment:
  camera: sim://camera?sensor=smallc&bayer={pattern}
  panel: sim://panel
  filter_wheel: sim://filterwheel?filters=None,UVIR,DualBand
camera: {{gain: 100, offset: 50}}
settle: {{after_light_on: 1s, after_light_off: 1s}}
flat_sets:
  - {{filter: DualBand, exposure: 2s, count: 3}}
"""


def debayered_by_siril(folder: Path) -> tuple[str, list[np.ndarray]]:
    """Siril's log and its debayered (R, G, B) images of every FITS file in `folder`."""
    script = "requires 1.0.0\nconvert rgb -debayer\n"
    done = subprocess.run(
        ["siril-cli", "-d", str(folder), "-s", "-"], input=script, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cubes = []
    for path in sorted(folder.glob("rgb_*.fit")):
        with fits.open(path) as hdul:
            cubes.append(np.asarray(hdul[0].data, dtype=np.float64))
    return done.stdout, cubes


@pytest.mark.parametrize("pattern", ["RGGB", "GBRG"])
def test_siril_reads_the_pattern_and_debayers_the_dual_band_red_into_red(tmp_path: Path, pattern: str) -> None:
    require("siril-cli")
    (tmp_path / "s.yaml").write_text(SEQUENCE.format(pattern=pattern))
    report = run_file(tmp_path / "s.yaml", RunContext(dry_run=True, output_dir=tmp_path / "out", quiet=True))
    assert report.exit_code == 0 and report.run_dir is not None, report.summary()
    assert main(["master", str(report.run_dir)]) == 0
    folder = tmp_path / "siril"
    folder.mkdir()
    (flat, *_) = sorted(report.run_dir.glob("*/flats/*.fits"))
    (master,) = report.run_dir.glob("*/masters/masterflat_*.fits")
    shutil.copy(flat, folder / "a_flat.fits")
    shutil.copy(master, folder / "b_masterflat.fits")
    log, cubes = debayered_by_siril(folder)
    assert log.count(f"Filter Pattern: {pattern}") == 2, log
    assert len(cubes) == 2
    for cube in cubes:
        assert cube.shape[0] == 3
        red, green, blue = (float(layer.mean()) for layer in cube)
        assert red > 1.5 * green > 1.5 * 1.2 * blue  # Ha in red, OIII weaker in green and blue
