"""`flatseq master`: masters from a dry run and from folders of frames, checked against the simulator's
true illumination, a plain numpy reference, their headers, and the refusals of mismatched sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from sequencer.calibration.master import MasterOptions, build_masters
from sequencer.calibration.masterplan import plan_masters
from sequencer.calibration.rejection import Rejection
from sequencer.cli import main
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import Manifest
from sequencer.output.records import FrameRecord
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from tests.support.masterframes import ShotBook, rig, shoot_set, write_shots

SEQUENCE = """\
name: two sets for masters
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50, binning: 1, readout_mode: 0, temperature: -10}
brightness: {target: 50%, tolerance: 10%}
settle: {after_light_on: 3s, after_light_off: 3s}
output: {directory: "flats"}
flat_sets:
  - {filter: Ha, exposure: 4s, count: 12}
  - {filter: OIII, exposure: 1.5s, count: 12}
"""


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def shots() -> ShotBook:
    """Flats and dark-flats of two sets, shot once on one bench (frames in memory)."""
    bench = rig(seed=5)
    return ShotBook(bench, {"Ha": shoot_set(bench, "Ha", 4.0, 12, 12), "OIII": shoot_set(bench, "OIII", 1.5, 12, 12)})


def write_run(root: Path, shots: ShotBook, style: str = "flatseq") -> Path:
    for name, exposure in (("Ha", 4.0), ("OIII", 1.5)):
        flat_set = f"{name}_{exposure:g}s" if style == "flatseq" else None
        write_shots(root / name, shots.flats(name), style=style, flat_set=flat_set)
        write_shots(root / name, shots.darks(name), style=style, flat_set=flat_set)
    return root


def test_dry_run_then_master_tracks_the_true_illumination(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sequence = tmp_path / "two.yaml"
    sequence.write_text(SEQUENCE)
    clock = VirtualClock()
    bench = Bench(sensor="small", seed=8, clock=clock)
    report = run_file(
        sequence, RunContext(clock=clock, bench=bench, output_dir=tmp_path / "out", dry_run=True, quiet=True)
    )
    assert report.exit_code == 0 and report.manifest_path is not None
    assert main(["master", str(report.manifest_path)]) == 0
    masters = sorted(report.manifest_path.parent.glob("*/masters/masterflat_*.fits"))
    assert len(masters) == 2
    truth = bench.illumination()
    for path in masters:
        with fits.open(path) as hdul:
            data = hdul[0].data.astype(np.float64)
            assert hdul[0].header["BITPIX"] == -32
            assert hdul[0].header["NCOMBINE"] == 12
        assert data.mean() == pytest.approx(1.0, abs=1e-6)
        assert correlation(data, truth) > 0.99
    assert "2 master flats" in capsys.readouterr().out


def test_folder_of_flatseq_frames_gives_masters_with_provenance(tmp_path: Path, shots: ShotBook) -> None:
    run = write_run(tmp_path / "run", shots)
    assert main(["master", str(run), "--output", str(tmp_path / "m")]) == 0
    with fits.open(tmp_path / "m" / "masterflat_Ha_4s.fits") as flat_file:
        h, flat_data = flat_file[0].header, flat_file[0].data.copy()
    with fits.open(tmp_path / "m" / "masterdarkflat_Ha_4s.fits") as dark_file:
        dark_header, dark_data = dark_file[0].header, dark_file[0].data.copy()
    assert h["IMAGETYP"] == "Master Flat" and h["COMBINED"] is True and h["DARKFLAT"] is False
    assert (h["FLATSET"], h["FILTER"], h["EXPTIME"], h["GAIN"], h["OFFSET"]) == ("Ha_4s", "Ha", 4.0, 100, 50)
    assert h["NCOMBINE"] == 12 and h["NCALIB"] == 12
    assert h["CALTYPE"] == "DARKFLAT" and h["CALFILE"] == "masterdarkflat_Ha_4s.fits"
    assert (h["REJMETH"], h["REJCENT"], h["REJLOW"], h["REJHIGH"], h["REJITER"]) == ("SIGMA", "MEDIAN", 3.0, 3.0, 1)
    assert h["NORMMETH"] == "MEDIAN"
    assert [h[f"IMCMB{i:03d}"] for i in range(1, 13)] == [f"flat_Ha_4s_{i:03d}.fits" for i in range(1, 13)]
    history = " ".join(str(c) for c in h["HISTORY"])
    assert "divided by its own median" in history and "flat_Ha_4s_012.fits: median" in history
    assert dark_header["IMAGETYP"] == "Master Dark" and dark_header["DARKFLAT"] is True
    assert dark_header["COMBINED"] is True and dark_header["NCOMBINE"] == 12
    bench = shots.bench
    pedestal = bench.sensor.pedestal_adu(50)
    assert pedestal < float(np.median(dark_data)) < pedestal + 20  # offset + 4 s of dark signal
    assert correlation(flat_data, bench.illumination()) > 0.99


def test_master_equals_a_plain_numpy_reference(tmp_path: Path, shots: ShotBook) -> None:
    run = write_run(tmp_path / "run", shots)
    plan = plan_masters(run, select=["OIII"])
    [result] = build_masters(plan, MasterOptions(output=tmp_path / "m"))
    darks = np.stack([fits.getdata(f.path).astype(np.float64) for f in plan.sets[0].calibration])
    flats = np.stack([fits.getdata(f.path).astype(np.float64) for f in plan.sets[0].flats])

    def clipped_mean(stack: np.ndarray) -> np.ndarray:
        centre, spread = np.median(stack, axis=0), np.std(stack, axis=0)
        bad = (stack < centre - 3 * spread) | (stack > centre + 3 * spread)
        kept: np.ndarray = np.where(bad, 0.0, stack).sum(axis=0) / (~bad).sum(axis=0)
        return kept

    master_dark = clipped_mean(darks)
    calibrated = flats - master_dark
    expected = clipped_mean(calibrated / np.median(calibrated, axis=(1, 2))[:, None, None])
    expected /= expected.mean()
    assert result.medians == [float(np.median(c)) for c in calibrated]
    assert np.abs(fits.getdata(result.flat_path) - expected).max() < 1e-6
    assert np.abs(fits.getdata(result.calibration_path) - master_dark).max() < 1e-3


def test_nina_style_folder_is_grouped_by_settings(tmp_path: Path, shots: ShotBook) -> None:
    run = write_run(tmp_path / "nina", shots, style="nina")
    plan = plan_masters(run)
    assert sorted((s.filter, len(s.flats), len(s.calibration)) for s in plan.sets) == [("Ha", 12, 12), ("OIII", 12, 12)]
    assert all(s.calibration_kind == "dark-flat" for s in plan.sets)


def test_masters_never_overwrite(tmp_path: Path, shots: ShotBook) -> None:
    run = write_run(tmp_path / "run", shots)
    assert main(["master", str(run), "--set", "Ha"]) == 0
    first = (run / "Ha" / "masters" / "masterflat_Ha_4s.fits").read_bytes()
    assert main(["master", str(run), "--set", "Ha", "--rejection", "winsorized"]) == 0
    assert (run / "Ha" / "masters" / "masterflat_Ha_4s.fits").read_bytes() == first
    second = fits.getheader(run / "Ha" / "masters" / "masterflat_Ha_4s_1.fits")
    assert second["REJMETH"] == "WINSORIZED"


def test_rejected_flats_are_left_out(tmp_path: Path, shots: ShotBook) -> None:
    flats, darks = shots.sets["Ha"]
    overrides = {0: {"REJECTED": True, "REJREASN": "mean outside the window"}}
    write_shots(tmp_path, flats, flat_set="Ha_4s", overrides=overrides)
    write_shots(tmp_path, darks, flat_set="Ha_4s")
    [result] = build_masters(plan_masters(tmp_path), MasterOptions(rejection=Rejection("none")))
    header = fits.getheader(result.flat_path)
    assert header["NCOMBINE"] == 11
    assert "flat_Ha_4s_001.fits" not in [header[f"IMCMB{i:03d}"] for i in range(1, 12)]


def test_preview_png_is_written_beside_the_master(tmp_path: Path, shots: ShotBook) -> None:
    run = write_run(tmp_path / "run", shots)
    assert main(["master", str(run), "--set", "OIII", "--preview"]) == 0
    png = run / "OIII" / "masters" / "masterflat_OIII_1.5s.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(png) as image:
        assert image.width >= 1200 and image.height >= 600


@pytest.mark.parametrize(
    ("card", "value", "keyword"),
    [
        ("GAIN", 120, "GAIN"),
        ("OFFSET", 10, "OFFSET"),
        ("EXPTIME", 3.0, "EXPTIME"),
        ("XBINNING", 2, "XBINNING"),
        ("READOUTM", "High Gain", "READOUTM"),
        ("CCD-TEMP", -7.5, "CCD-TEMP"),
        ("SET-TEMP", -5.0, "SET-TEMP"),
    ],
)
def test_a_mismatched_dark_flat_refuses_the_set(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str], card: str, value: object, keyword: str
) -> None:
    flats, darks = shots.sets["Ha"]
    write_shots(tmp_path, flats, flat_set="Ha_4s")
    write_shots(tmp_path, darks, flat_set="Ha_4s", overrides={4: {card: value}})
    assert main(["master", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "dark_Ha_4s_005.fits" in err and f"{keyword} = " in err and "set Ha_4s" in err
    assert not (tmp_path / "masters").exists()


def test_nina_exposure_keyword_is_named_in_the_refusal(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = shots.sets["Ha"]
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, darks, style="nina", overrides={i: {"EXPOSURE": 3.0} for i in range(12)})
    assert main(["master", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no dark-flats match" in err and "EXPOSURE = 3 where the flats have 4" in err


def test_a_set_without_dark_flats_is_refused(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats = shots.flats("Ha")
    write_shots(tmp_path, flats, flat_set="Ha_4s")
    assert main(["master", str(tmp_path)]) == 2
    assert "set Ha_4s: no dark-flats match its flats" in capsys.readouterr().err


def test_missing_run_and_unknown_set_are_bad_input(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["master", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    run = write_run(tmp_path / "run", shots)
    assert main(["master", str(run), "--set", "SII"]) == 2
    assert "no flat set named SII" in capsys.readouterr().err


def test_manifest_sets_the_run_did_not_finish_are_skipped_with_a_note(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    clock = VirtualClock()
    manifest = Manifest.create(run / "manifest.json", run_id="r1", clock=clock)
    settings = CameraSettings(gain=100, offset=50, temperature=-10.0)
    for name, exposure, status in (("Ha", 4.0, "ok"), ("OIII", 1.5, "failed")):
        set_id = f"{name}_{exposure:g}s"
        manifest.begin_set(set_id, filter=name, exposure=exposure, settings=settings)
        flats = write_shots(run / set_id, shots.flats(name), flat_set=set_id)
        darks = write_shots(run / set_id, shots.darks(name), flat_set=set_id) if status == "ok" else []
        for kind, paths in ((FrameKind.FLAT, flats), (FrameKind.DARK_FLAT, darks)):
            for i, path in enumerate(paths, start=1):
                record = FrameRecord(file=f"{set_id}/{path.name}", frame_no=i, kind=kind, rejected=(i == 2))
                manifest.add_frame(set_id, record)
        manifest.end_set(set_id, status, None if status == "ok" else "panel too dim")
    manifest.finish("failed", "a set failed")
    assert main(["master", str(run)]) == 0
    captured = capsys.readouterr()
    assert "set OIII_1.5s: the run marked it failed: panel too dim; skipped" in captured.err
    header = fits.getheader(run / "Ha_4s" / "masters" / "masterflat_Ha_4s.fits")
    assert header["NCOMBINE"] == 11 and header["NCALIB"] == 11  # the manifest's rejected frames left out
    assert main(["master", str(run), "--set", "OIII"]) == 2  # asked for by name: refused, no dark-flats
    assert "set OIII_1.5s: no dark-flats match its flats" in capsys.readouterr().err


def test_a_run_whose_every_set_is_unfinished_says_so_and_how_to_make_masters_anyway(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    manifest = Manifest.create(run / "manifest.json", run_id="r1", clock=VirtualClock())
    manifest.begin_set("Ha_4s", filter="Ha", exposure=4.0, settings=CameraSettings(gain=100, offset=50))
    for kind, paths in (
        (FrameKind.FLAT, write_shots(run / "Ha_4s", shots.flats("Ha"), flat_set="Ha_4s")),
        (FrameKind.DARK_FLAT, write_shots(run / "Ha_4s", shots.darks("Ha"), flat_set="Ha_4s")),
    ):
        for i, path in enumerate(paths, start=1):
            manifest.add_frame("Ha_4s", FrameRecord(file=f"Ha_4s/{path.name}", frame_no=i, kind=kind))
    manifest.crashed("the run stopped without finishing", light_off=True, light_answer=None)
    assert main(["master", str(run)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith(
        f"{run}: no flat set the run finished (set Ha_4s failed: the run stopped without finishing); "
        "--set Ha_4s makes its master anyway"
    )
    assert main(["master", str(run), "--set", "Ha_4s"]) == 0  # the frames are whole: asked for, it is made
    assert (run / "Ha_4s" / "masters" / "masterflat_Ha_4s.fits").is_file()


def test_flats_no_brighter_than_their_dark_flats_are_refused_before_writing(
    tmp_path: Path, shots: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = shots.sets["Ha"]
    swapped = {i: {"IMAGETYP": "DARK"} for i in range(12)}
    write_shots(tmp_path, darks, flat_set="Ha_4s", overrides={i: {"IMAGETYP": "FLAT"} for i in range(12)})
    write_shots(tmp_path, flats, flat_set="Ha_4s", overrides=swapped, prefix="lit_")
    assert main(["master", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "dark_Ha_4s_001.fits: median -" in err and "a flat must be brighter than its dark-flats" in err
    assert not (tmp_path / "masters").exists()
