"""`flatseq plan`: the flat sets tonight's lights need, one by one: none missing, none extra, keys correct."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sequencer.calibration.nightplan import plan_night
from sequencer.cli import main
from sequencer.plan.compile import load_plan
from tests.support.lights import COLOUR, COLOUR_PROFILE, MONO, MONO_PROFILE, night, write_light, write_profile


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("FLATSEQ_CONFIG_DIR", str(folder))
    write_profile(folder, "rig1", MONO_PROFILE)
    write_profile(folder, "osc", COLOUR_PROFILE)
    return folder


def _sets(path: Path) -> list[dict[str, object]]:
    data = yaml.safe_load(path.read_text())
    sets: list[dict[str, object]] = data["flat_sets"]
    return sets


def test_each_configuration_of_the_night_gets_exactly_one_flat_set(tmp_path: Path, config: Path) -> None:
    lights = night(tmp_path)
    assert main(["plan", str(lights), "-o", str(tmp_path / "flats.yaml")]) == 0
    mono, colour = tmp_path / "flats-zwo-asi6200mm-pro.yaml", tmp_path / "flats-zwo-asi2600mc-pro.yaml"
    assert sorted(p.name for p in tmp_path.glob("flats*.yaml")) == sorted([mono.name, colour.name])
    data = yaml.safe_load(mono.read_text())
    assert data["profile"] == "rig1" and "equipment" not in data
    assert data["camera"] == {"temperature": -10.0}
    common = {"exposure": "1s", "count": 3, "dark_flats": 3, "offset": 50, "readout_mode": "High Gain 16bit"}
    got = [{k: v for k, v in s.items() if k != "lights"} for s in data["flat_sets"]]
    # The current state first (the last light: OIII in its region, rotator at 90°), each filter once per rotation.
    assert got == [
        {"filter": "OIII", **common, "gain": 100, "binning": 1, "roi": {"x": 40, "y": 30, "width": 200, "height": 120}},
        {"filter": "L", **common, "gain": 100, "binning": 1},
        {"filter": "R", **common, "gain": 100, "binning": 1},
        {"filter": "Ha", **common, "gain": 200, "binning": 2},
        {"filter": "L", **common, "gain": 100, "binning": 1},
    ]
    lights_of = [s["lights"] for s in data["flat_sets"]]
    assert [(x["count"], x.get("rotation"), x.get("focus")) for x in lights_of] == [
        (2, 90.2, 5000), (4, 90.2, 5010), (2, 90.2, 5020), (2, 90.2, 5000), (2, 180.0, 5000),
    ]  # fmt: skip
    assert lights_of[1]["focus_range"] == [5000, 5010]
    assert all(x["instrument"] == MONO for x in lights_of)
    assert lights_of[3]["key"] == "Ha bin 2 gain 200 offset 50 'High Gain 16bit' rot 90.2°"
    colour_sets = _sets(colour)
    assert colour_sets == [
        {"exposure": "1s", "count": 3, "gain": 100, "offset": 10, "binning": 1,
         "lights": {"key": "no filter bin 1 gain 100 offset 10", "count": 2, "instrument": COLOUR}},
    ]  # fmt: skip


def test_the_table_the_skipped_files_and_the_state_to_restore_are_printed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lights = night(tmp_path)
    assert main(["plan", str(lights), "-o", str(tmp_path / "flats.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "14 lights (also 1 flat: not lights)"
    assert f"skipped: {lights / 'M31' / 'L_bad.fits'}: GAIN = 'abc' is not a number" in out
    assert f"skipped: {lights / 'M31' / 'notes.fits'}: not a FITS file" in out
    assert "  configuration" in out and "lights  flat set" in out
    assert "  OIII bin 1 gain 100 offset 50 'High Gain 16bit' ROI 200×120 at (40, 30) rot 90.2°  2       set 1" in out
    assert "note: set 5 (L bin 1 gain 100 offset 50 'High Gain 16bit' rot 180°): rotator to 180° (the last " in out
    assert "note: set 3 (R bin 1 gain 100 offset 50 'High Gain 16bit' rot 90.2°): focuser to 5020 (the last " in out
    assert "note: flatseq moves no rotator or focuser" in out


def test_the_planned_sequences_pass_check(tmp_path: Path, config: Path) -> None:
    night(tmp_path)
    assert main(["plan", str(tmp_path / "lights"), "-o", str(tmp_path / "flats.yaml")]) == 0
    for path in tmp_path.glob("flats-*.yaml"):
        assert main(["check", "--quiet", str(path)]) == 0
        plan = load_plan(path)
        assert all(fs.lights is not None for fs in plan.sets.values())


def test_without_a_profile_the_sequence_names_the_simulated_bench(tmp_path: Path) -> None:
    write_light(tmp_path / "a.fits", {"IMAGETYP": "LIGHT", "EXPTIME": 60.0, "FILTER": "Ha", "GAIN": 120})
    assert main(["plan", str(tmp_path / "a.fits"), "-o", str(tmp_path / "f.yaml")]) == 0
    data = yaml.safe_load((tmp_path / "f.yaml").read_text())
    assert data["equipment"]["filter_wheel"] == "sim://filterwheel?filters=Ha"
    assert [s["filter"] for s in data["flat_sets"]] == ["Ha"] and data["flat_sets"][0]["gain"] == 120
    assert main(["check", "--quiet", str(tmp_path / "f.yaml")]) == 0


def test_a_region_is_told_from_the_full_frame_by_the_profiles_sensor(tmp_path: Path, config: Path) -> None:
    """A light smaller than the sensor at origin (0, 0) is a region too; one of the sensor's size is not."""
    base = {"IMAGETYP": "LIGHT", "EXPTIME": 60.0, "FILTER": "L", "INSTRUME": MONO, "GAIN": 100, "OFFSET": 50}
    write_light(tmp_path / "full.fits", {**base, "XORGSUBF": 0, "YORGSUBF": 0})
    write_light(tmp_path / "crop.fits", base, size=(100, 50))
    night_plan = plan_night([tmp_path])
    (seq, profile), = night_plan.sequences  # fmt: skip
    assert profile == "rig1"
    rois = {s.group.lights[0].path.name: s.key.roi for s in seq.sets}
    assert rois["full.fits"] is None
    crop = rois["crop.fits"]
    assert crop is not None and crop.describe() == "100×50 at (0, 0)"


def test_no_lights_is_a_failure_and_several_cameras_need_an_output_file(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["plan", str(tmp_path / "empty")]) == 1
    assert "no light frames found" in capsys.readouterr().err
    night(tmp_path)
    assert main(["plan", str(tmp_path / "lights")]) == 2
    assert "give -o FILE" in capsys.readouterr().err


def test_one_camera_without_output_prints_the_sequence(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    night(tmp_path)
    assert main(["plan", str(tmp_path / "lights" / "colour")]) == 0
    captured = capsys.readouterr()
    assert yaml.safe_load(captured.out)["profile"] == "osc"
    assert "no filter bin 1 gain 100 offset 10" in captured.err
