"""Equipment profiles: `profile: NAME` stands for `equipment` + `camera`, kept in the config directory; errors
inside a profile name the profile's file, line and column; `flatseq profile add/list/show`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sequencer.cli import main
from sequencer.plan.compile import load_plan
from sequencer.plan.profiles import config_dir, profile_path
from tests.support.lights import MONO_PROFILE, write_profile
from tests.support.refusals import one_error_line

SEQUENCE = """\
name: with a profile
profile: rig1
camera: {temperature: -5}
flat_sets:
  - {filter: Ha, exposure: 2s, count: 3}
"""


def test_the_config_dir_is_the_tests_own() -> None:
    assert config_dir() == Path(os.environ["FLATSEQ_CONFIG_DIR"])


def test_a_profile_fills_in_equipment_and_camera_and_the_sequence_overrides_camera_keys(tmp_path: Path) -> None:
    write_profile(config_dir(), "rig1", MONO_PROFILE)
    path = tmp_path / "s.yaml"
    path.write_text(SEQUENCE)
    plan = load_plan(path)
    assert plan.equipment["filter_wheel"] == "sim://filterwheel?filters=L,R,G,B,Ha,OIII,SII"
    assert (plan.camera.gain, plan.camera.offset, plan.camera.temperature) == (100, 50, -5)
    assert main(["check", "--quiet", str(path)]) == 0
    assert main(["run", "--dry-run", str(path), "-o", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize(
    ("profile", "where"),
    [
        (MONO_PROFILE.replace("gain: 100", "gain: -1"), "5:16: camera.gain: Input should be greater than or equal"),
        (MONO_PROFILE.replace("sim://panel", "nosuch://panel"), "3:3: equipment.panel: unknown equipment scheme"),
        (MONO_PROFILE + "colour: yes\n", "9:1: colour: unknown key"),
    ],
)
def test_an_error_inside_the_profile_names_the_profiles_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], profile: str, where: str
) -> None:
    write_profile(config_dir(), "rig1", profile)
    path = tmp_path / "s.yaml"
    path.write_text(SEQUENCE)
    assert main(["check", str(path)]) == 2
    line = one_error_line(capsys.readouterr())
    assert line.startswith(f"flatseq: error: {profile_path('rig1')}:{where}"), line


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (SEQUENCE.replace("rig1", "nosuch"), "2:1: profile: "),
        (SEQUENCE.replace("rig1", "../etc"), "2:1: profile: profile name '../etc'"),
        (SEQUENCE + "equipment: {camera: sim://camera, panel: sim://panel}\n", "6:1: equipment: give a profile or"),
        (SEQUENCE.replace("temperature: -5", "temperature: -99"), "3:23: camera.temperature:"),
    ],
)
def test_an_error_about_the_profile_names_the_sequence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str
) -> None:
    write_profile(config_dir(), "rig1", MONO_PROFILE)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    line = one_error_line(capsys.readouterr())
    assert line.startswith(f"flatseq: error: {path}:{where}"), line


def test_profile_add_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profile", "add", "rig2", "--camera", "sim://camera?sensor=small", "--panel", "sim://panel"]
    assert main([*args, "--gain", "120", "--offset", "30", "--instrument", "QHY268M"]) == 0
    assert main([*args]) == 2  # exists
    assert "exists (--force replaces it)" in one_error_line(capsys.readouterr())
    source = tmp_path / "p.yaml"
    source.write_text(MONO_PROFILE)
    assert main(["profile", "add", "rig1", "--from", str(source)]) == 0
    capsys.readouterr()
    assert main(["profile", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "rig1: camera sim://camera?sensor=small, panel sim://panel, instrument ZWO ASI6200MM Pro",
        "rig2: camera sim://camera?sensor=small, panel sim://panel, instrument QHY268M",
    ]
    assert main(["profile", "show", "rig1"]) == 0
    assert capsys.readouterr().out == MONO_PROFILE
    bad = tmp_path / "bad.yaml"
    bad.write_text(MONO_PROFILE.replace("offset: 50", "offset: many"))
    assert main(["profile", "add", "rig3", "--from", str(bad)]) == 2
    assert one_error_line(capsys.readouterr()).startswith(f"flatseq: error: {bad}:5:29: camera.offset:")
    assert not profile_path("rig3").exists()
