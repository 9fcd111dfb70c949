"""A dry run of the field notes' narrowband routine, checked on disk: windows, counts, headers, manifest,
and the duration it reports."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from astropy.io import fits

from sequencer.cli import main
from sequencer.plan.compile import load_plan

NARROWBAND = Path("sequences/narrowband.yaml")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path, float]:
    out = tmp_path_factory.mktemp("dry")
    started = time.monotonic()
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["run", str(NARROWBAND), "--dry-run", "--output", str(out)])
    return code, buffer.getvalue(), out, time.monotonic() - started


def _run_dir(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_dry_run_succeeds(dry_run: tuple[int, str, Path, float]) -> None:
    code, text, _, _ = dry_run
    assert code == 0, text
    assert "finished: the run would take" in text


def test_every_flat_in_window_and_counts_exact(dry_run: tuple[int, str, Path, float]) -> None:
    _, _, out, _ = dry_run
    run = _run_dir(out)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    plan = load_plan(NARROWBAND)
    assert [s["id"] for s in manifest["sets"]] == list(plan.sets)
    for s in manifest["sets"]:
        fs = plan.sets[s["id"]]
        good_flats = [f for f in s["flats"] if not f["rejected"]]
        assert len(good_flats) == fs.count
        assert len(s["dark_flats"]) == fs.dark_count
        assert s["status"] == "ok"
        for f in good_flats:
            path = run / f["file"]
            with fits.open(path) as hdul:
                h, data = hdul[0].header, hdul[0].data
                assert h["IMAGETYP"] == "FLAT"
                mean = float(data.mean())
                assert 0.45 * 65536 <= mean <= 0.55 * 65536
                assert h["FLATSET"] == fs.id


def test_dark_flats_match_their_flats(dry_run: tuple[int, str, Path, float]) -> None:
    _, _, out, _ = dry_run
    run = _run_dir(out)
    manifest = json.loads((run / "manifest.json").read_text())
    keys = ("EXPTIME", "GAIN", "OFFSET", "XBINNING", "YBINNING", "READOUTM", "FLATSET")
    for s in manifest["sets"]:
        flat_headers = [fits.getheader(run / f["file"]) for f in s["flats"]]
        dark_headers = [fits.getheader(run / f["file"]) for f in s["dark_flats"]]
        reference = {k: flat_headers[0][k] for k in keys}
        temps = [h["CCD-TEMP"] for h in flat_headers]
        for h in flat_headers:
            assert {k: h[k] for k in keys} == reference
        for h in dark_headers:
            assert h["IMAGETYP"] == "DARK"
            assert h["DARKFLAT"] is True
            assert {k: h[k] for k in keys} == reference
            assert abs(h["CCD-TEMP"] - sum(temps) / len(temps)) <= 1.0
            assert "PANELBRT" not in h


def test_manifest_lists_every_file_and_nothing_else(dry_run: tuple[int, str, Path, float]) -> None:
    _, _, out, _ = dry_run
    run = _run_dir(out)
    manifest = json.loads((run / "manifest.json").read_text())
    listed = {f["file"] for f in manifest["files"]}
    on_disk = {p.relative_to(run).as_posix() for p in run.rglob("*.fits")}
    assert listed == on_disk
    assert not [p for p in run.rglob("*") if p.name.startswith(".")], "temporary files left behind"


def test_reported_duration_is_the_sum_of_its_parts(dry_run: tuple[int, str, Path, float]) -> None:
    """The reported real duration is within 5 % of exposures + readouts + waits + trial exposures."""
    _, text, out, wall = dry_run
    run = _run_dir(out)
    journal = [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines()]
    plan = load_plan(NARROWBAND)
    readout = 0.05  # the small sensor's readout
    frames = sum(fs.count + fs.dark_count for fs in plan.sets.values())
    exposures = sum((fs.exposure or 0.0) * (fs.count + fs.dark_count) for fs in plan.sets.values())
    waits = sum(s.seconds or 0 for s in plan.steps if s.kind == "wait")
    searches = [e for e in journal if e["event"] == "brightness"]
    assert len(searches) == 3
    # every trial but the kept one (which is flat #1) is extra time
    trials = sum((len(e["trials"]) - 1) * ((plan.sets[e["set"]].exposure or 0.0) + readout) for e in searches)
    expected = exposures + frames * readout + waits + trials
    match = re.search(r"would take (?:(\d+)m)?([\d.]+)s of real time", text)
    assert match, text
    reported = int(match.group(1) or 0) * 60 + float(match.group(2))
    assert abs(reported - expected) <= 0.05 * expected, (reported, expected)
    assert "cooling the sensor" in text
    assert wall < 30


@pytest.mark.parametrize("example", sorted(p.name for p in Path("sequences").glob("*.yaml")))
def test_every_example_dry_runs(tmp_path: Path, example: str) -> None:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["run", f"sequences/{example}", "--dry-run", "--output", str(tmp_path), "-q"])
    assert code == 0, buffer.getvalue()
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished" and all(s["status"] == "ok" for s in manifest["sets"])


def test_short_flats_are_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = tmp_path / "short.yaml"
    seq.write_text(
        NARROWBAND.read_text().split("flat_sets:")[0]
        + "flat_sets:\n  - {filter: L, exposure: 0.05s, count: 5}\n  - {filter: R, exposure: 0.3s, count: 5}\n"
    )
    assert main(["check", str(seq)]) == 0
    out = capsys.readouterr().out
    assert f"warning: {seq}:14:5: L 0.05s flats are shorter than 0.2 s" in out
    assert "a bias may do" in out
    assert f"warning: {seq}:15:5: R 0.3s is very short for a dimmable (PWM) panel" in out
    assert "R 0.3s flats are shorter" not in out
