"""`flatseq audit` of a whole night: the planned sequence dry-run, then lights + flats + dark-flats in one tree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from tests.support.lights import COLOUR_PROFILE, MONO_PROFILE, night, write_profile


@pytest.fixture(scope="module")
def planned_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lights of two cameras, planned with their profiles, each sequence checked and dry-run into the tree."""
    root = tmp_path_factory.mktemp("night")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLATSEQ_CONFIG_DIR", str(root / "config"))
        mp.setenv("FLATSEQ_DATA_DIR", str(root / "data"))
        write_profile(root / "config", "rig1", MONO_PROFILE)
        write_profile(root / "config", "osc", COLOUR_PROFILE)
        lights = night(root / "raw")
        for junk in ("FLAT_0.fits", "notes.fits", "L_bad.fits"):
            (lights / "M31" / junk).unlink()
        shutil.move(lights, root / "tree" / "lights")
        assert main(["plan", str(root / "tree" / "lights"), "-o", str(root / "flats.yaml")]) == 0
        for sequence in sorted(root.glob("flats-*.yaml")):
            assert main(["check", "--quiet", str(sequence)]) == 0
            report = run_file(sequence, RunContext(dry_run=True, output_dir=root / "tree" / sequence.stem, quiet=True))
            assert report.exit_code == 0
    return root / "tree"


def _audit_json(tree: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["audit", "--json", str(tree)])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, data


def test_lights_and_the_dry_runs_flats_cover_every_configuration(
    planned_night: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = _audit_json(planned_night, capsys)
    lights = data["lights"]
    assert isinstance(lights, list) and len(lights) == 6
    assert {row["status"] for row in lights} == {"covered"}
    assert all(len(row["flat_sets"]) == 1 for row in lights)
    assert code == 0 and data["ok"] is True
    assert not [f for f in data["findings"] if f["severity"] == "mistake"]
    roi = next(row for row in lights if row["roi"] is not None)
    assert roi["roi"] == {"x": 40, "y": 30, "width": 200, "height": 120} and roi["filter"] == "OIII"
    assert main(["audit", str(planned_night)]) == 0
    assert "6 of 6 light configurations covered" in capsys.readouterr().out


def test_removing_one_flat_set_reports_exactly_that_configuration(
    planned_night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(planned_night, tree)
    (run_dir,) = (tree / "flats-zwo-asi6200mm-pro").iterdir()
    shutil.rmtree(run_dir / "05-L-1s")  # the L flats at the other rotation, with their dark-flats
    code, data = _audit_json(tree, capsys)
    assert code == 1
    missing = [f for f in data["findings"] if f["kind"] == "no-flats-for-lights"]
    assert [f["message"] for f in missing] == [
        "L bin 1 gain 100 offset 50 'High Gain 16bit' rot 180°: 2 lights and no flat set for them"
    ]
    assert [f for f in data["findings"] if f["severity"] == "mistake"] == missing
    statuses = {row["configuration"]: row["status"] for row in data["lights"]}
    assert [k for k, v in statuses.items() if v != "covered"] == [
        "L bin 1 gain 100 offset 50 'High Gain 16bit' rot 180°"
    ]


def test_removing_the_regions_flats_reports_the_region(
    planned_night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(planned_night, tree)
    (run_dir,) = (tree / "flats-zwo-asi6200mm-pro").iterdir()
    shutil.rmtree(run_dir / "01-OIII-1s")
    code, data = _audit_json(tree, capsys)
    missing = [f["message"] for f in data["findings"] if f["kind"] == "no-flats-for-lights"]
    assert code == 1 and len(missing) == 1 and missing[0].startswith("OIII bin 1 gain 100 offset 50")
