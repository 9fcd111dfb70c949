"""`flatseq check FILE...`: several files or globs, one result each, `--json` with one entry per file, exit 2
when any is invalid (and its entry says where)."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest

from sequencer.cli import main
from tests.support.refusals import one_error_line

BAD = """name: broken
equipment: {camera: "sim://camera", panel: "sim://panel"}
camera: {gain: lots}
flat_sets:
  - {exposure: 1s, count: 2}
"""


def test_check_globs_as_json_one_entry_per_file_and_the_invalid_one_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD)
    code = main(["check", "sequences/*.yaml", str(bad), "--json"])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 2
    assert document["schema"] == "flatseq.check/1"
    assert document["ok"] is False
    files = sorted(glob.glob("sequences/*.yaml"))
    assert [entry["file"] for entry in document["files"]] == [*files, str(bad)]
    good, broken = document["files"][:-1], document["files"][-1]
    assert all(entry["ok"] and entry["error"] is None for entry in good)
    assert broken["ok"] is False
    assert (broken["error"]["line"], broken["error"]["column"]) == (3, 16)
    assert broken["error"]["text"].startswith(f"{bad}:3:16: camera.gain")
    assert "1 of" in one_error_line(captured)


def test_check_json_describes_the_plan_window_and_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "sequences/narrowband.yaml", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["files"]
    assert [s["label"] for s in entry["sets"]] == ["Ha 4s", "OIII 1.5s", "SII 4s"]
    ha = entry["sets"][0]
    assert (ha["flats"], ha["dark_flats"], ha["exposure"], ha["temperature"]) == (30, 30, 4.0, -10.0)
    assert ha["window"]["low_adu"] == pytest.approx(0.45 * 65536, abs=0.1)
    assert ha["window"]["high_adu"] == pytest.approx(0.55 * 65536, abs=0.1)
    kinds = [step["kind"] for step in entry["steps"] if step["set"] == ha["id"]]
    assert kinds.index("flats") < kinds.index("light_off") < kinds.index("dark_flats")
    assert entry["estimate"]["frames"] >= 180 and entry["estimate"]["seconds"] > 0
    assert entry["estimate"]["cooling_included"] is False


def test_check_several_files_prints_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD)
    code = main(["check", "sequences/narrowband.yaml", "sequences/lrgb.yaml", str(bad)])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert code == 2
    assert len(lines) == 3
    assert lines[0].startswith("sequences/narrowband.yaml: ok: Narrowband flats and dark-flats, 3 flat set(s)")
    assert lines[1].startswith("sequences/lrgb.yaml: ok: ")
    assert lines[2].startswith(f"{bad}:3:16: camera.gain")
    assert main(["check", "sequences/narrowband.yaml", "sequences/lrgb.yaml"]) == 0


def test_a_glob_that_matches_nothing_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "*.yaml")]) == 2
    assert one_error_line(capsys.readouterr()).endswith("*.yaml: no sequence file matches")
