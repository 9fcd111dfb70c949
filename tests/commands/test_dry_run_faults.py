"""Dry runs for CI: `--fault` (the simulators' one table), `--at`, `--seed`, `--json` on `flatseq run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from astropy.io import fits

from sequencer.cli import main
from tests.support.refusals import one_error_line

THREE_SETS = """name: three sets
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel?filters=L,Ha,OIII,SII
camera: {gain: 100, offset: 50}
on_error: skip_set
flat_sets:
  - {filter: Ha,   exposure: 4s, count: 3}
  - {filter: OIII, exposure: 2s, count: 3}
  - {filter: SII,  exposure: 4s, count: 3}
"""


@pytest.fixture
def sequence(tmp_path: Path) -> Path:
    path = tmp_path / "three.yaml"
    path.write_text(THREE_SETS)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object], str]:
    code = main(["run", *args, "--dry-run", "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_a_panel_dead_in_set_two_fails_only_set_two(
    sequence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, doc, _ = _run(capsys, str(sequence), "--output", str(out), "--fault", "panel=dead@switch_on:2..switch_on:3")
    assert code == 1 and doc["exit_code"] == 1
    assert doc["schema"] == "flatseq.run/1"
    sets = {s["label"]: s for s in doc["sets"]}  # type: ignore[attr-defined]
    assert [sets[k]["status"] for k in ("Ha 4s", "OIII 2s", "SII 4s")] == ["ok", "failed", "ok"]
    assert "the panel reports an error" in sets["OIII 2s"]["reason"]
    assert (sets["SII 4s"]["flats"], sets["SII 4s"]["dark_flats"]) == (3, 3)
    assert doc["light_off"] is True
    manifest = json.loads(Path(str(doc["manifest"])).read_text())
    assert manifest["light"] == "off"
    assert [s["status"] for s in manifest["sets"]] == ["ok", "failed", "ok"]


def test_a_camera_that_vanishes_stops_the_run_with_what_it_took(
    sequence: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _ = _run(capsys, str(sequence), "--fault", "camera=disconnect_after:5")
    assert code == 1 and doc["status"] == "failed"
    assert "disconnected after 5 frame(s)" in str(doc["error"])
    manifest = json.loads(Path(str(doc["manifest"])).read_text())
    listed = {f["file"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(Path(str(doc["run_dir"])))) for p in Path(str(doc["run_dir"])).rglob("*.fits")}
    assert listed == on_disk and listed


def test_at_sets_the_virtual_clock_and_seed_the_bench(
    sequence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    means = []
    for n, seed in enumerate(("3", "3", "4")):
        monkeypatch.setenv("FLATSEQ_DATA_DIR", str(tmp_path / f"data{n}"))  # each run starts untrained
        code, doc, _ = _run(capsys, str(sequence), "--at", "2026-03-01T20:15:00Z", "--seed", seed)
        assert code == 0
        run_dir = Path(str(doc["run_dir"]))
        assert run_dir.name == "2026-03-01T201500Z"
        first = sorted(run_dir.rglob("*.fits"))[0]
        with fits.open(first) as hdul:
            assert str(hdul[0].header["DATE-OBS"]).startswith("2026-03-01T20:")
            means.append(float(hdul[0].data.mean()))
    assert means[0] == means[1] != means[2]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--fault", "panel=melted"],
            "--fault panel=melted: no panel fault 'melted' (known: dead, unplugged, stuck_on)",
        ),
        (["--fault", "toaster=dead"], "--fault toaster=dead: no device 'toaster'"),
        (["--fault", "panel=dead@teatime"], "no moment 'teatime'"),
        (["--at", "tonight"], "--at 'tonight': expected an ISO 8601 date and time"),
        (["--seed", "-1"], "--seed -1: a whole number from 0"),
    ],
)
def test_bad_dry_run_options_are_one_line_exit_2_nothing_written(
    sequence: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    out = tmp_path / "out"
    assert main(["run", str(sequence), "--dry-run", "--output", str(out), *args]) == 2
    assert says in one_error_line(capsys.readouterr())
    assert not out.exists()


def test_faults_are_for_dry_runs_only(sequence: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(sequence), "--fault", "panel=dead"]) == 2
    assert "--fault: only with --dry-run" in one_error_line(capsys.readouterr())


def test_run_json_of_an_invalid_file_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(THREE_SETS.replace("gain: 100", "gain: lots"))
    code = main(["run", str(bad), "--dry-run", "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 2 and doc["exit_code"] == 2 and doc["status"] == "invalid"
    assert doc["where"] == {"file": str(bad), "line": 6, "column": 16}
    assert one_error_line(captured).startswith(f"flatseq: error: {bad}:6:16: camera.gain")


def test_a_stuck_cooler_fails_every_set_and_no_flat_is_taken_warm(
    sequence: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cooled = sequence.read_text().replace("offset: 50}", "offset: 50, temperature: -10, cooling_timeout: 2min}")
    sequence.write_text(cooled)
    code, doc, _ = _run(capsys, str(sequence), "--fault", "cooler=stuck")
    assert code == 1
    sets = doc["sets"]
    assert isinstance(sets, list)
    assert [s["status"] for s in sets] == ["failed", "failed", "failed"]  # each set waits for the cooler again
    assert all("cooler did not reach -10" in s["reason"] for s in sets)
    assert not list(Path(str(doc["run_dir"])).rglob("*.fits"))
