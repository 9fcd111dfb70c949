"""A colour camera's flats on the simulators, checked on disk: the brightest channel in the window and no channel
clipped (`colour: brightest`), N.I.N.A.'s failure reproduced (`colour: mean`: red far above the mean), every
channel held to a wider window (`colour: each`), dark-flats at the flats' settings, BAYERPAT in every header."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from sequencer.brightness.trials import Window, each_window
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file

EXAMPLE = Path("sequences/osc-dualband.yaml")
WINDOW = Window.from_target(0.5, 0.1)


def channels(data: np.ndarray, pattern: str) -> dict[str, float]:
    """Channel means straight from the pixels (numpy, not flatseq's statistics)."""
    cells: dict[str, list[np.ndarray]] = {}
    for i, letter in enumerate(pattern):
        cells.setdefault(letter, []).append(data[i // 2 :: 2, i % 2 :: 2].astype(np.float64).ravel())
    return {k: float(np.concatenate(v).mean()) for k, v in cells.items()}


def dry_run(tmp_path: Path, colour: str | None = None, sets: str | None = None) -> RunReport:
    text = EXAMPLE.read_text()
    if colour is not None:
        text = text.replace("colour: brightest", f"colour: {colour}")
    if sets is not None:
        text = text[: text.index("flat_sets:")] + "flat_sets:\n" + sets
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "osc.yaml"
    path.write_text(text)
    return run_file(path, RunContext(dry_run=True, output_dir=tmp_path / "out", quiet=True))


def manifest(report: RunReport) -> dict[str, Any]:
    assert report.manifest_path is not None
    data: dict[str, Any] = json.loads(report.manifest_path.read_text())
    return data


@pytest.fixture(scope="module")
def brightest(tmp_path_factory: pytest.TempPathFactory) -> RunReport:
    report = dry_run(tmp_path_factory.mktemp("osc"))
    assert report.exit_code == 0, report.summary()
    return report


def test_every_flat_has_its_brightest_channel_in_the_window_and_no_channel_clipped(brightest: RunReport) -> None:
    assert brightest.run_dir is not None
    for record in manifest(brightest)["sets"]:
        flats = [f for f in record["flats"] if not f["rejected"]]
        assert len(flats) == 20, record["id"]
        for frame in flats:
            with fits.open(brightest.run_dir / frame["file"]) as hdul:
                header, data = hdul[0].header, hdul[0].data
            assert (header["BAYERPAT"], header["XBAYROFF"], header["YBAYROFF"]) == ("RGGB", 0, 0)
            assert header["ROWORDER"] == "TOP-DOWN"
            levels = channels(data, header["BAYERPAT"])
            assert WINDOW.contains(max(levels.values())), (frame["file"], levels)
            assert int(data.max()) < 65535 and header["STATSAT"] == 0


def test_a_dual_band_flat_has_a_strong_red_and_a_weak_blue_and_a_white_led_a_blue_lead(brightest: RunReport) -> None:
    assert brightest.run_dir is not None
    dual, uvir = manifest(brightest)["sets"]
    first = fits.getdata(brightest.run_dir / dual["flats"][0]["file"])
    levels = channels(first, "RGGB")
    assert levels["R"] > 1.6 * levels["G"] > 1.6 * 1.2 * levels["B"]  # Ha in red; OIII between green and blue
    bluish = channels(fits.getdata(brightest.run_dir / uvir["flats"][0]["file"]), "RGGB")
    assert bluish["B"] > bluish["G"] > bluish["R"]


def test_the_journal_shows_each_trials_channels_and_the_level_steered_by(brightest: RunReport) -> None:
    assert brightest.run_dir is not None
    lines = [json.loads(line) for line in (brightest.run_dir / "journal.jsonl").read_text().splitlines()]
    (search, *_) = [e for e in lines if e.get("event") == "brightness"]
    assert len(search["channels"]) == len(search["trials"]) == len(search["levels"])
    assert search["levels"][-1] == max(search["channels"][-1].values())  # brightest: red under dual-band


def test_dark_flats_match_their_flats_and_carry_the_pattern(brightest: RunReport) -> None:
    assert brightest.run_dir is not None
    for record in manifest(brightest)["sets"]:
        flat = fits.getheader(brightest.run_dir / record["flats"][0]["file"])
        assert len(record["dark_flats"]) == 20
        for frame in record["dark_flats"]:
            dark = fits.getheader(brightest.run_dir / frame["file"])
            assert dark["IMAGETYP"] == "DARK" and dark["BAYERPAT"] == "RGGB"
            for key in ("EXPTIME", "GAIN", "OFFSET", "XBINNING", "READOUTM"):
                assert dark[key] == flat[key], key


def test_colour_mean_levels_all_pixels_and_leaves_red_far_above_the_mean_as_nina_does(tmp_path: Path) -> None:
    report = dry_run(tmp_path, colour="mean", sets="  - {filter: DualBand, exposure: 3s, count: 5}\n")
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    for frame in manifest(report)["sets"][0]["flats"]:
        data = fits.getdata(report.run_dir / frame["file"])
        levels = channels(data, "RGGB")
        assert WINDOW.contains(float(data.mean()))
        assert levels["R"] >= 1.5 * float(data.mean()), levels


def test_colour_each_takes_a_filter_whose_channels_fit_the_wider_window_and_refuses_one_whose_cannot(
    tmp_path: Path,
) -> None:
    report = dry_run(tmp_path / "uvir", colour="each", sets="  - {filter: UVIR, exposure: 1s, count: 5}\n")
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    wide = each_window(WINDOW)
    for frame in manifest(report)["sets"][0]["flats"]:
        levels = channels(fits.getdata(report.run_dir / frame["file"]), "RGGB")
        assert all(wide.contains(v) for v in levels.values()), levels

    failed = dry_run(tmp_path / "dual", colour="each", sets="  - {filter: DualBand, exposure: 3s, count: 5}\n")
    assert failed.exit_code == 1
    record = manifest(failed)["sets"][0]
    assert record["status"] == "failed" and not record["flats"]
    assert "colour: each: the channels are too far apart for one window (R " in record["reason"]
    assert "use colour: brightest" in record["reason"]
    assert failed.light_off


def test_a_region_starting_on_an_odd_column_starts_on_another_colour(tmp_path: Path) -> None:
    report = dry_run(
        tmp_path, sets="  - {filter: DualBand, exposure: 3s, count: 2, roi: {x: 31, y: 20, width: 120, height: 80}}\n"
    )
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    record = manifest(report)["sets"][0]
    for frame in record["flats"] + record["dark_flats"]:
        with fits.open(report.run_dir / frame["file"]) as hdul:
            header, data = hdul[0].header, hdul[0].data
        assert (header["BAYERPAT"], header["XORGSUBF"], data.shape) == ("GRBG", 31, (80, 120))
        if frame["kind"] == "flat":
            levels = channels(data, header["BAYERPAT"])
            assert levels["R"] > 1.6 * levels["G"]  # the red pixel is where BAYERPAT puts it
            assert WINDOW.contains(levels["R"])
