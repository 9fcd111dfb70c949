"""Hostile FITS files and manifests: `flatseq audit` reports each unreadable file (a NaN card, a truncated or
header-only file, a negative exposure) and goes on with the folder; `flatseq master` refuses them, and a
manifest's frames outside the run or listed twice, in one line, exit 2, with nothing written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sequencer.calibration.frames import FrameError, read_info
from sequencer.cli import main
from sequencer.output.manifest import MANIFEST_NAME
from tests.support.refusals import one_error_line
from tests.support.runs import dry_run_directory


def write_frame(path: Path, imagetyp: str = "FLAT", exposure: float = 4.0, **cards: object) -> Path:
    header = fits.Header()
    header["IMAGETYP"], header["EXPTIME"], header["GAIN"], header["OFFSET"] = imagetyp, exposure, 100, 50
    header["FILTER"] = "Ha"
    for key, value in cards.items():
        header[key.replace("_", "-")] = value
    data = np.full((20, 30), 1000 if imagetyp == "FLAT" else 300, np.uint16)
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def with_card(path: Path, keyword: str, image: str) -> Path:
    """Replace one card of the file with raw text, as a damaged or hand-made file would have it."""
    raw = path.read_bytes()
    start = raw.index(keyword.ljust(8).encode() + b"=")
    path.write_bytes(raw[:start] + image.ljust(80).encode() + raw[start + 80 :])
    return path


def cut(path: Path, size: int) -> Path:
    path.write_bytes(path.read_bytes()[:size])
    return path


Maker = Callable[[Path], Path]
BAD: list[tuple[str, Maker, str]] = [
    ("nan-card", lambda p: with_card(write_frame(p), "EXPTIME", "EXPTIME = NaN"), "EXPTIME = nan is not a number"),
    ("inf-gain", lambda p: with_card(write_frame(p), "GAIN", "GAIN    = 1E999"), "GAIN = inf is not a number"),
    ("text-exposure", lambda p: with_card(write_frame(p), "EXPTIME", "EXPTIME = 'soon'"), "EXPTIME = 'soon' is not"),
    ("negative-exposure", lambda p: write_frame(p, exposure=-5.0), "EXPTIME = -5 is negative: not an exposure"),
    ("below-absolute-zero", lambda p: write_frame(p, CCD_TEMP=-300.0), "CCD-TEMP = -300 is below absolute zero"),
    ("binning-1e300", lambda p: write_frame(p, XBINNING=1e300), "XBINNING = 1e+300 is not a binning factor"),
    ("naxis-huge", lambda p: with_card(write_frame(p), "NAXIS1", "NAXIS1  = 99999999999"), "NAXIS1 = 99999999999"),
    ("truncated", lambda p: cut(write_frame(p), 2880 + 500), "truncated (3380 bytes, the 30×20 image needs 4080)"),
    ("header-only", lambda p: cut(write_frame(p), 2880), "a header with no image data (30×20 expected)"),
    ("a-few-bytes", lambda p: cut(write_frame(p), 100), "not a readable FITS file"),
    ("not-fits", lambda p: (p.write_bytes(b"hello world" * 300), p)[1], "not a readable FITS file (No SIMPLE card"),
]


@pytest.mark.parametrize(("name", "make", "needle"), BAD, ids=[b[0] for b in BAD])
def test_a_damaged_frame_is_a_frame_error_naming_file_and_keyword(
    tmp_path: Path, name: str, make: Maker, needle: str
) -> None:
    path = make(tmp_path / f"{name}.fits")
    with pytest.raises(FrameError) as caught:
        read_info(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert needle in message, message


def test_audit_reports_every_unreadable_file_and_audits_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(3):
        write_frame(tmp_path / f"flat_{n}.fits")
        write_frame(tmp_path / f"darkflat_{n}.fits", "DARK", DARKFLAT=True)
    for name, make, _ in BAD:
        make(tmp_path / f"bad_{name}.fits")
    assert main(["audit", str(tmp_path), "--json"]) == 1  # mistakes found: the unreadable files
    captured = capsys.readouterr()
    assert captured.err == ""
    report = json.loads(captured.out)
    assert [(s["flats"], s["dark_flats"], s["status"]) for s in report["sets"]] == [(3, 3, "ok")]
    reasons = {u["file"]: u["reason"] for u in report["unreadable"]}
    assert sorted(reasons) == sorted(f"bad_{name}.fits" for name, _, _ in BAD)
    for name, _, needle in BAD:
        assert needle in reasons[f"bad_{name}.fits"]
    assert main(["audit", str(tmp_path)]) == 1  # the table, likewise one line per unreadable file
    table = capsys.readouterr().out
    assert sum("[unreadable]" in line for line in table.splitlines()) == len(BAD)
    assert "Traceback" not in table


@pytest.mark.parametrize(("name", "make", "needle"), BAD[:2] + BAD[7:9], ids=[b[0] for b in BAD[:2] + BAD[7:9]])
def test_master_refuses_a_folder_with_a_damaged_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, make: Maker, needle: str
) -> None:
    for n in range(3):
        write_frame(tmp_path / f"flat_{n}.fits")
        write_frame(tmp_path / f"darkflat_{n}.fits", "DARK", DARKFLAT=True)
    bad = make(tmp_path / f"flat_{name}.fits")
    assert main(["master", str(tmp_path)]) == 2
    error = one_error_line(capsys.readouterr())
    assert error.startswith(f"flatseq: error: {bad}: ") and needle in error, error
    assert not (tmp_path / "masters").exists()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dry_run_directory(tmp_path_factory.mktemp("run"))


def damaged_copy(run_dir: Path, tmp: Path, edit: Callable[[list[dict[str, object]]], None]) -> Path:
    """The run's manifest, its first set's flats edited, beside links to the run's frames."""
    copy = tmp / "run"
    copy.mkdir()
    for item in run_dir.iterdir():
        if item.name != MANIFEST_NAME:
            os.symlink(item, copy / item.name)
    data = json.loads((run_dir / MANIFEST_NAME).read_text())
    edit(data["sets"][0]["flats"])
    (copy / MANIFEST_NAME).write_text(json.dumps(data))
    return copy


def three_times(flats: list[dict[str, object]]) -> None:
    flats[1]["file"] = flats[2]["file"] = flats[0]["file"]


def outside(flats: list[dict[str, object]]) -> None:
    flats[0]["file"] = "../../../../etc/passwd"


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (three_times, "is listed twice in the manifest (set 01-Ha-2s and set 01-Ha-2s); one file is one frame"),
        (outside, "sets[0].flats[0].file: '../../../../etc/passwd' is not a path inside the run directory"),
    ],
    ids=["a-flat-listed-three-times", "etc-passwd"],
)
def test_master_refuses_a_manifest_naming_a_file_twice_or_outside_the_run(
    run_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[list[dict[str, object]]], None],
    needle: str,
) -> None:
    copy = damaged_copy(run_dir, tmp_path, edit)
    assert main(["master", str(copy)]) == 2
    error = one_error_line(capsys.readouterr())
    assert error.startswith(f"flatseq: error: {copy / MANIFEST_NAME}: ") and needle in error, error
    assert not (copy / "masters").exists()


def test_master_refuses_a_frame_reached_by_two_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        write_frame(tmp_path / f"flat_{n}.fits")
        write_frame(tmp_path / f"darkflat_{n}.fits", "DARK", DARKFLAT=True)
    os.symlink(tmp_path / "flat_0.fits", tmp_path / "flat_again.fits")
    assert main(["master", str(tmp_path)]) == 2
    error = one_error_line(capsys.readouterr())
    assert "flat_again.fits and" in error and "are the same file" in error, error
    assert not (tmp_path / "masters").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["master", "RUN", "--low", "nan"], "rejection thresholds must be positive, finite numbers of sigma"),
        (["master", "RUN", "--high", "inf"], "rejection thresholds must be positive, finite numbers of sigma"),
        (["master", "RUN", "--iterations", "100000000"], "rejection iterations must be at most 100"),
        (["master", "RUN", "--temperature-tolerance", "nan"], "temperature tolerance nan °C: expected a number"),
        (["master", "RUN", "--temperature-tolerance", "-1"], "temperature tolerance -1 °C: expected a number"),
        (["audit", "RUN", "--temperature-tolerance", "inf"], "temperature tolerance inf °C: expected a number"),
    ],
)
def test_absurd_numbers_on_the_command_line_are_one_line(
    run_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    before = sorted(p.name for p in run_dir.iterdir())
    assert main([str(run_dir) if a == "RUN" else a for a in argv]) == 2
    error = one_error_line(capsys.readouterr())
    assert needle in error, error
    assert sorted(p.name for p in run_dir.iterdir()) == before, "nothing written"


def test_workers_must_be_a_number_of_threads(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["master", str(run_dir), "--workers", "0"])
    assert exited.value.code == 2
    assert "argument --workers: '0': expected a number of threads from 1 to 64" in capsys.readouterr().err
