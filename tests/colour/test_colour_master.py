"""A colour master flat: a CFA master (never debayered, BAYERPAT kept) that flattens a colour light of a uniform
sky in every channel, normalised overall (the channels' ratios kept) or per channel (`--cfa channels`); a set
whose dark-flats have another mosaic is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from sequencer.calibration.masterplan import MasterError, plan_masters
from sequencer.cli import main
from sequencer.results.preview import channel_profiles
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench

FILTERS = ("None", "UVIR", "DualBand")
SEQUENCE = """\
name: colour master
equipment:
  camera: sim://camera?sensor=smallc&seed=5
  panel: sim://panel
  filter_wheel: sim://filterwheel?filters=None,UVIR,DualBand
camera: {gain: 100, offset: 50}
brightness: {target: 50%, tolerance: 10%, colour: brightest}
settle: {after_light_on: 3s, after_light_off: 3s}
flat_sets:
  - {filter: UVIR, exposure: 1s, count: 12}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("colour-master")
    (tmp / "c.yaml").write_text(SEQUENCE)
    report = run_file(tmp / "c.yaml", RunContext(dry_run=True, output_dir=tmp / "out", quiet=True))
    assert report.exit_code == 0 and report.run_dir is not None, report.summary()
    return report.run_dir


def sky_light(seconds: float = 0.5) -> np.ndarray:
    """A light of a uniform, warm-coloured sky through the same optics and sensor (seed 5), dark subtracted."""
    bench = Bench(sensor="smallc", seed=5, clock=VirtualClock(), filters=FILTERS, spectrum="warm")
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50))
    bench.wheel.move_to(FILTERS.index("UVIR"))
    dark = np.mean([bench.take(seconds, light=False) for _ in range(8)], axis=0)
    bench.panel.light_on(40)
    bench.clock.sleep(30.0)
    light = np.mean([bench.take(seconds) for _ in range(4)], axis=0)
    calibrated: np.ndarray = light - dark
    return calibrated


def block_spread(image: np.ndarray, phase: int, block: int = 10) -> float:
    """Relative spread of one cell position's block means across the field (vignetting shows; noise averages)."""
    cell = image[phase // 2 :: 2, phase % 2 :: 2]
    rows, cols = (cell.shape[0] // block) * block, (cell.shape[1] // block) * block
    means = cell[:rows, :cols].reshape(rows // block, block, cols // block, block).mean(axis=(1, 3))
    return float(means.std() / means.mean())


def test_the_colour_master_flattens_a_uniform_sky_in_every_channel(run_dir: Path) -> None:
    assert main(["master", str(run_dir)]) == 0
    (path,) = run_dir.glob("*/masters/masterflat_*.fits")
    header, flat = fits.getheader(path), fits.getdata(path).astype(np.float64)
    assert (header["BAYERPAT"], header["CFANORM"], flat.shape) == ("RGGB", "OVERALL", (214, 320))
    assert flat.mean() == pytest.approx(1.0, abs=1e-6)
    cells = [flat[i // 2 :: 2, i % 2 :: 2].mean() for i in range(4)]
    assert cells[3] > cells[1] > cells[0]  # a bluish LED's flat: the channels' ratios are kept
    light = sky_light()
    for phase in range(4):
        before, after = block_spread(light, phase), block_spread(light / flat, phase)
        assert before > 0.05  # vignetting: corners at 75 % of the centre
        assert after < 0.01 and after < before / 8, (phase, before, after)


def test_cfa_channels_equalises_each_channel_to_one(run_dir: Path, tmp_path: Path) -> None:
    assert main(["master", str(run_dir), "--cfa", "channels", "-o", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("masterflat_*.fits")
    flat = fits.getdata(path).astype(np.float64)
    assert fits.getheader(path)["CFANORM"] == "CHANNELS"
    r, g1, g2, b = (flat[i // 2 :: 2, i % 2 :: 2].mean() for i in range(4))
    assert r == pytest.approx(1.0, abs=1e-5) and b == pytest.approx(1.0, abs=1e-5)
    assert (g1 + g2) / 2 == pytest.approx(1.0, abs=1e-5)


def test_dark_flats_of_another_mosaic_are_refused_by_name(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (dark, *_) = sorted(copy.glob("*/darkflats/*.fits"))
    with fits.open(dark, mode="update") as hdul:
        hdul[0].header["BAYERPAT"] = "GRBG"
    with pytest.raises(MasterError, match=r"darkflat_.*: BAYERPAT = 'GRBG' where the flats have 'RGGB'"):
        plan_masters(copy)


def test_the_preview_shows_each_channels_vignetting(run_dir: Path) -> None:
    (path,) = run_dir.glob("*/masters/masterflat_*.fits")
    flat = fits.getdata(path).astype(np.float64)
    profiles = channel_profiles(flat, "RGGB")
    assert list(profiles) == ["R", "G", "B"]
    assert all(0.7 < p.corner_to_centre < 0.8 for p in profiles.values())  # the bench's 0.75 corner/centre
    assert profiles["B"].mean[0] > profiles["G"].mean[0] > profiles["R"].mean[0]  # a bluish LED
    assert main(["preview", str(run_dir)]) == 0
    (png,) = run_dir.glob("*/masters/masterflat_*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
