"""`flatseq audit`: each of the field notes' mistakes found in a folder built for it, clean folders passing,
N.I.N.A.'s conventions read correctly, JSON for scripts, unreadable files reported but not fatal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sequencer.calibration.audit import audit
from sequencer.cli import main
from tests.support.masterframes import ShotBook, rig, shoot_bias, shoot_set, write_shots


@pytest.fixture(scope="module")
def frames() -> ShotBook:
    bench = rig(seed=7)
    sets = {
        "Ha": shoot_set(bench, "Ha", 2.0, 4, 4),
        "OIII": shoot_set(bench, "OIII", 1.0, 4, 4),
        "L": shoot_set(bench, "L", 0.05, 4, 4),
        "darks3s": shoot_set(bench, "Ha", 3.0, 0, 4),
        "darks300s": shoot_set(bench, "L", 300.0, 0, 2),
    }
    return ShotBook(bench, sets, shoot_bias(bench, 4))


def run_audit(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["audit", str(directory), "--json"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, report


def kinds(report: dict[str, Any]) -> list[str]:
    return sorted(f["kind"] for f in report["findings"] if f["severity"] == "mistake")


def test_a_clean_flatseq_run_passes(tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("Ha", "OIII"):
        flats, darks = frames.sets[name]
        write_shots(tmp_path / name, flats, flat_set=f"{name}_set")
        write_shots(tmp_path / name, darks, flat_set=f"{name}_set")
    assert main(["audit", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "clean: no mistakes found" in out
    assert "Ha_set" in out and "OIII_set" in out


def test_a_nina_folder_is_read_with_its_conventions(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Ha", "OIII"):
        flats, darks = frames.sets[name]
        write_shots(tmp_path, flats, style="nina")
        write_shots(tmp_path, darks, style="nina")  # IMAGETYP 'DARK', EXPOSURE only, no set id
    code, report = run_audit(tmp_path, capsys)
    assert code == 0 and report["ok"] is True
    sets = {s["filter"]: s for s in report["sets"]}
    assert (sets["Ha"]["exposure"], sets["Ha"]["dark_flats"], sets["Ha"]["calibration"]) == (2.0, 4, "dark-flats")
    assert sets["OIII"]["exposure"] == 1.0 and sets["OIII"]["dark_flats"] == 4
    assert report["counts"] == {"dark": 8, "flat": 8}


def test_older_nina_darkflat_imagetyp_counts_as_dark_flats(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, darks, style="nina", overrides={i: {"IMAGETYP": "DARKFLAT"} for i in range(4)})
    code, report = run_audit(tmp_path, capsys)
    assert code == 0 and report["sets"][0]["dark_flats"] == 4


def test_no_dark_flats(tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]) -> None:
    flats, _ = frames.sets["Ha"]
    write_shots(tmp_path, flats, style="nina")
    _, long_darks = frames.sets["darks300s"]
    write_shots(tmp_path, long_darks, style="nina")  # a night's darks for lights are not dark-flat attempts
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == ["no-dark-flats"]


def test_dark_flats_of_another_duration(tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]) -> None:
    flats, _ = frames.sets["Ha"]
    _, darks = frames.sets["darks3s"]
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, darks, style="nina")
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == ["different-duration"]
    [finding] = report["findings"]
    assert finding["keyword"] == "EXPOSURE" and "EXPOSURE = 3 where the flats have 2" in finding["message"]
    assert len(finding["files"]) == 4


@pytest.mark.parametrize(
    ("card", "value", "kind"),
    [
        ("GAIN", 0, "changed-gain-offset"),
        ("OFFSET", 30, "changed-gain-offset"),
        ("EXPTIME", 2.5, "different-duration"),
        ("XBINNING", 2, "different-binning"),
        ("CCD-TEMP", -4.0, "different-temperature"),
        ("READOUTM", "High Gain", "different-readout-mode"),
    ],
)
def test_linked_dark_flats_that_changed_a_setting(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str], card: str, value: object, kind: str
) -> None:
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, flats, flat_set="Ha_2s")
    write_shots(tmp_path, darks, flat_set="Ha_2s", overrides={1: {card: value}, 2: {card: value}})
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == [kind]
    [finding] = report["findings"]
    assert finding["keyword"] == card and finding["set"] == "Ha_2s"
    assert finding["files"] == ["dark_Ha_2s_002.fits", "dark_Ha_2s_003.fits"]


def test_unlinked_dark_flats_with_another_gain(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = frames.sets["OIII"]
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, darks, style="nina", overrides={i: {"GAIN": 139} for i in range(4)})
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == ["changed-gain-offset"]
    assert "GAIN = 139 where the flats have 100" in report["findings"][0]["message"]


def test_bias_used_for_long_flats(tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]) -> None:
    flats, _ = frames.sets["OIII"]
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, frames.bias, style="nina")
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == ["bias-for-long-flats"]
    assert report["sets"][0]["calibration"] == "bias"


def test_bias_for_short_flats_alone_is_clean(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, _ = frames.sets["L"]
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, frames.bias, style="nina")
    code, report = run_audit(tmp_path, capsys)
    assert code == 0 and report["sets"][0]["calibration"] == "bias"


def test_bias_and_dark_flats_mixed_across_sets(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    short, _ = frames.sets["L"]
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, short, style="nina")
    write_shots(tmp_path, frames.bias, style="nina")
    write_shots(tmp_path, flats, style="nina")
    write_shots(tmp_path, darks, style="nina")
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == ["bias-and-dark-flats-mixed"]


def test_bias_among_a_sets_dark_flats(tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]) -> None:
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, flats, flat_set="Ha_2s")
    write_shots(tmp_path, darks, flat_set="Ha_2s")
    write_shots(tmp_path, frames.bias, flat_set="Ha_2s")
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and "bias-and-dark-flats-mixed" in kinds(report)


def test_unreadable_files_are_reported_not_fatal(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, flats, flat_set="Ha_2s")
    write_shots(tmp_path, darks, flat_set="Ha_2s")
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  = garbage" + bytes(100))
    (tmp_path / "notes.txt").write_text("not a frame, not looked at")
    code, report = run_audit(tmp_path, capsys)
    assert code == 1 and kinds(report) == ["unreadable"]
    assert report["unreadable"][0]["file"] == "broken.fits"
    assert report["sets"][0]["dark_flats"] == 4


def test_table_lists_each_set_and_each_finding(
    tmp_path: Path, frames: ShotBook, capsys: pytest.CaptureFixture[str]
) -> None:
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, flats, flat_set="Ha_2s")
    write_shots(tmp_path, darks, flat_set="Ha_2s", overrides={0: {"GAIN": 0}})
    assert main(["audit", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Ha_2s" in out and "MISTAKE" in out
    assert "[changed-gain-offset] Ha_2s: dark-flats with GAIN = 0 where the flats have 100" in out
    assert out.rstrip().endswith("1 mistake found")


def test_masters_and_rejected_flats_do_not_confuse_the_audit(tmp_path: Path, frames: ShotBook) -> None:
    flats, darks = frames.sets["Ha"]
    write_shots(tmp_path, flats, flat_set="Ha_2s", overrides={0: {"REJECTED": True}})
    write_shots(tmp_path, darks, flat_set="Ha_2s")
    assert main(["master", str(tmp_path)]) == 0
    report = audit([tmp_path])
    assert report.ok and len(report.sets) == 1
    assert (report.sets[0].flats, report.sets[0].rejected_flats) == (3, 1)


def test_a_missing_folder_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(tmp_path / "nowhere")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_two_runs_with_the_same_set_ids_stay_apart(tmp_path: Path, frames: ShotBook) -> None:
    flats, darks = frames.sets["Ha"]
    for run in ("2026-01-01T000000Z", "2026-01-02T000000Z"):
        header = {i: {"RUNID": run} for i in range(4)}
        write_shots(tmp_path / run, flats, flat_set="Ha_2s", overrides=header)
        write_shots(tmp_path / run, darks if run.startswith("2026-01-01") else [], flat_set="Ha_2s", overrides=header)
    report = audit([tmp_path])
    by_key = {s.key: s for s in report.sets}
    assert sorted(by_key) == ["2026-01-01T000000Z/Ha_2s", "2026-01-02T000000Z/Ha_2s"]
    assert by_key["2026-01-01T000000Z/Ha_2s"].dark_flats == 4
    assert [f.kind for f in report.mistakes] == ["no-dark-flats"]
