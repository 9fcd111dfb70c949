"""`flatseq preview` and `flatseq report`: PNGs worth looking at, and one self-contained page that a browser
(headless Chromium, where it is installed) renders as more than a blank page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sequencer.cli import main
from sequencer.results.preview import PreviewInput, caption
from tests.support.stackers import SET, run_with_rejected_flats

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_with_rejected_flats(tmp_path_factory.mktemp("report"), count=8, dark_flats=8, formats="fits")


def test_flatseq_preview_draws_a_wide_png_beside_each_master_flat(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", str(run)]) == 0
    (png,) = (run / SET / "masters").glob("*.png")
    assert f"preview → {png}" in capsys.readouterr().out
    with Image.open(png) as image:
        assert image.width >= 1200 and image.height >= 700
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 20  # panels, not a blank canvas


def test_preview_without_masters_says_how_to_make_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.runs import dry_run_directory

    run = dry_run_directory(tmp_path)
    assert main(["preview", str(run)]) == 2
    assert "run `flatseq master" in capsys.readouterr().err


def test_the_caption_counts_frames_and_names_the_rejected_ones() -> None:
    info = PreviewInput(
        title="t",
        flat=np.ones((4, 4)),
        calibration=np.zeros((4, 4)),
        flats=30,
        rejected=["flat_Ha_4s_008.fits: mean 19000 ADU below the window"],
        calibration_frames=30,
        brightness=118,
        panel_max=255,
        trials=3,
        flat_level=31000.0,
    )
    text = caption(info)
    assert text.startswith("30 flats combined, 1 rejected (flat_Ha_4s_008.fits: mean 19000 ADU below the window)")
    assert "30 dark-flats" in text and "panel brightness 118 of 255 found in 3 trials" in text
    assert "31000 ADU" in text


def test_the_report_is_one_self_contained_page(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--output", str(out)]) == 0
    assert f"report → {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page), "everything must be in the page"
    assert page.count('src="data:image/png;base64,') >= 3  # the preview, the frames, the timeline
    assert f"Set {SET}" in page and "Brightness search" in page and "Timeline" in page
    assert "rejected frames (kept on disk, not combined)" in page and "below the window" in page


def test_a_report_escapes_what_it_reads(run: Path, tmp_path: Path) -> None:
    """A filter named like markup is text on the page, not markup."""
    from sequencer.output.manifest import Manifest
    from sequencer.results.report import PageInputs, render_page

    manifest = Manifest.load(run / "manifest.json")
    manifest.sets[0].filter = "<script>alert(1)</script>"
    page = render_page(PageInputs(manifest, []))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_chromium_renders_the_report(run: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    out = tmp_path / "report.html"
    assert main(["report", str(run), "--output", str(out)]) == 0
    shot = tmp_path / "page.png"
    done = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        grey = np.asarray(image.convert("L"), dtype=np.float64)
    assert grey.std() > 15, "the page rendered blank"
    dark_rows = (grey < 128).mean(axis=1)
    assert (dark_rows > 0.01).sum() > 200, "too little drawn: text and charts should cover much of the page"
