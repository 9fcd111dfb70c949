"""`flatseq audit` of a colour night: lights whose mosaic matches their flats' are covered; lights of another
mosaic (BAYERPAT, or BAYERPAT shifted by XBAYROFF/YBAYROFF) are a mistake naming both patterns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from tests.support.lights import write_light

SEQUENCE = """\
name: colour night
equipment:
  camera: sim://camera?sensor=smallc
  panel: sim://panel
  filter_wheel: sim://filterwheel?filters=None,UVIR,DualBand
camera: {gain: 100, offset: 50}
settle: {after_light_on: 1s, after_light_off: 1s}
flat_sets:
  - {filter: DualBand, exposure: 2s, count: 3}
"""


def light(**extra: Any) -> dict[str, Any]:
    return {"IMAGETYP": "LIGHT", "EXPTIME": 300.0, "XBINNING": 1, "YBINNING": 1, "GAIN": 100, "OFFSET": 50,
            "FILTER": "DualBand", "BAYERPAT": "RGGB", "DATE-OBS": "2026-05-01T22:00:00", **extra}  # fmt: skip


@pytest.fixture(scope="module")
def flats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("colour-night")
    (tmp / "s.yaml").write_text(SEQUENCE)
    report = run_file(tmp / "s.yaml", RunContext(dry_run=True, output_dir=tmp / "out", quiet=True))
    assert report.exit_code == 0 and report.run_dir is not None, report.summary()
    return report.run_dir


def audit(tree: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["audit", "--json", str(tree)])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, data


@pytest.mark.parametrize(
    ("cards", "covered"),
    [
        ({}, True),
        ({"BAYERPAT": "GRBG"}, False),
        ({"BAYERPAT": "BGGR", "XBAYROFF": 1, "YBAYROFF": 1}, True),  # BGGR seen from (1, 1) is RGGB
        ({"XBAYROFF": 1}, False),  # RGGB from column 1: GRBG
    ],
)
def test_a_colour_light_is_covered_only_by_flats_of_its_own_mosaic(
    flats: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cards: dict[str, Any], covered: bool
) -> None:
    tree = tmp_path / "night"
    shutil.copytree(flats, tree / "flats")
    for n in (1, 2):
        write_light(tree / "lights" / f"light_{n}.fits", light(**cards))
    code, data = audit(tree, capsys)
    differs = [f for f in data["findings"] if f["kind"] == "bayer-differs"]
    if covered:
        assert code == 0 and not differs, data["findings"]
    else:
        assert code == 1 and len(differs) == 1
        assert "the lights' mosaic is GRBG, flat set 01-DualBand-2s's RGGB" in differs[0]["message"]
