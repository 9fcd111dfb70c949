"""The issue's acceptance, end to end: `flatseq master` on a dry run of `sequences/skyflats.yaml` makes one master
flat per filter, mean 1, tracking the bench's true illumination, with the drifting stars rejected; its master
dark-flats are one per exposure the set's flats used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sequencer.cli import main
from simulators.devices.bench import Bench
from simulators.physics.sky import SkyModel, TwilightSky

ROOT = Path(__file__).resolve().parents[2]
SKYFLATS = ROOT / "sequences" / "skyflats.yaml"


def test_master_of_the_example_sky_run_one_per_filter_true_flat_stars_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sequence = tmp_path / "sky.yaml"  # a slower scope than the example's: several rungs per filter
    sequence.write_text(SKYFLATS.read_text().replace("sensor=small", "sensor=small&sky_flux=1500"))
    out = tmp_path / "out"
    assert main(["run", str(sequence), "--dry-run", "--at", "2026-12-02T16:00", "--output", str(out), "-q"]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert main(["master", str(run_dir)]) == 0, capsys.readouterr()
    masters = sorted(run_dir.glob("*/masters/masterflat_*.fits"))
    filters = {fits.getheader(p)["FILTER"] for p in masters}
    assert filters == {"Ha", "R", "G", "B", "L"} and len(masters) == 5
    bench = Bench(sensor="small", seed=0)
    illumination = bench.illumination(1)
    gradient = TwilightSky(45.0, 7.0, 300.0, start=0.0, hours=0.1, model=SkyModel()).gradient_map(illumination.shape)
    for path in masters:
        with fits.open(path) as hdul:
            header, master = hdul[0].header, hdul[0].data.astype(np.float64)
        set_dir = path.parent.parent
        used = {
            fits.getheader(f)["EXPREQ"] for f in (set_dir / "flats").glob("*.fits") if not fits.getheader(f)["REJECTED"]
        }
        darks = sorted((set_dir / "masters").glob("masterdarkflat_*.fits"))
        assert len(darks) == len(used)  # a master dark-flat per exposure used
        assert master.mean() == pytest.approx(1.0, abs=1e-3)
        assert float(np.corrcoef(master.ravel(), illumination.ravel())[0, 1]) > 0.99
        truth = illumination * gradient
        residual = master / (truth / truth.mean()) - 1
        # 20 stars drift through every flat (brightest against the sky in L, late in the dusk): the rejection
        # leaves a trail only where consecutive short flats put it on the same pixels (L: ~0.1 % of pixels
        # beyond 6 sigma, 0.5 % without rejection; tests/calibration/test_sky_master.py shows the difference)
        assert float((np.abs(residual) > 6 * residual.std()).mean()) < 2e-3, header["FILTER"]
