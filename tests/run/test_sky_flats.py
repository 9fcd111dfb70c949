"""Sky flats (`panel: sky`) dry-run on the simulated twilight over the sequence's site: flats inside the window
with SUNALT, every exposure a rung of the ladder, dark-flats at each exposure used matching their flats, filters
in twilight order, a set that runs out of twilight reported with what it got, and a window passed or far off
refused in one line before anything runs."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from astropy.io import fits

from sequencer.brightness.twilight import Ladder
from sequencer.cli import main
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from tests.support.refusals import one_error_line

ROOT = Path(__file__).resolve().parents[2]
SKYFLATS = ROOT / "sequences" / "skyflats.yaml"
DUSK = "2026-12-02T16:00"  # CET at 45° N, 7° E: the window opens about 16:59
LADDER = Ladder(0.5, 30.0, 1.25)


def dry_run(path: Path, tmp: Path, at: str) -> RunReport:
    context = RunContext(dry_run=True, output_dir=tmp / "out", stream=io.StringIO(), at=at)
    return run_file(path, context)


def frames(run_dir: Path) -> list[fits.Header]:
    return [fits.getheader(p) for p in sorted(run_dir.rglob("*.fits"))]


def dimmer_sky(tmp: Path, text: str | None = None) -> Path:
    """The example at a darker site sky (a slower scope): exposures of seconds, several rungs per filter."""
    body = (text or SKYFLATS.read_text()).replace("sim://camera?sensor=small", "sim://camera?sensor=small&sky_flux=500")
    path = tmp / "sky.yaml"
    path.write_text(body)
    return path


def test_dusk_dry_run_flats_in_the_window_on_the_ladder_with_matching_dark_flats(tmp_path: Path) -> None:
    report = dry_run(dimmer_sky(tmp_path), tmp_path, DUSK)
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    headers = frames(report.run_dir)
    flats = [h for h in headers if h["IMAGETYP"] == "FLAT" and not h["REJECTED"]]
    darks = [h for h in headers if h["IMAGETYP"] == "DARK"]
    assert flats and darks
    for h in flats:
        assert -10.0 <= h["SUNALT"] <= -2.0
        assert h["EXPREQ"] in LADDER
        assert (h["SITELAT"], h["SITELONG"], h["SITEELEV"]) == (45.0, 7.0, 300.0)
    by_set: dict[str, dict[float, list[fits.Header]]] = defaultdict(lambda: defaultdict(list))
    for h in flats:
        by_set[h["FLATSET"]][h["EXPREQ"]].append(h)
    dark_by: dict[str, dict[float, list[fits.Header]]] = defaultdict(lambda: defaultdict(list))
    for h in darks:
        assert "SUNALT" not in h
        dark_by[h["FLATSET"]][h["EXPREQ"]].append(h)
    assert sum(len(e) for e in by_set.values()) > len(by_set)  # some set used more than one rung
    for set_id, exposures in by_set.items():
        assert set(dark_by[set_id]) == set(exposures), set_id  # dark-flats for every exposure used, no other
        for exposure, its_flats in exposures.items():
            its_darks = dark_by[set_id][exposure]
            assert len(its_darks) == 10
            for d in its_darks:
                f = its_flats[0]
                assert d["EXPTIME"] == pytest.approx(f["EXPTIME"], abs=1e-6)
                for key in ("GAIN", "OFFSET", "XBINNING", "YBINNING", "READOUTM", "SET-TEMP"):
                    assert d[key] == f[key], key
                assert abs(d["CCD-TEMP"] - f["CCD-TEMP"]) <= 1.0
                assert d["DARKFLAT"] is True
    # dusk: the filter that needs the most light first, luminance last
    first = {h["FILTER"]: h["DATE-OBS"] for h in reversed(flats)}
    assert sorted(first, key=first.__getitem__) == ["Ha", "R", "G", "B", "L"]
    assert max(h["DATE-OBS"] for h in flats) < min(h["DATE-OBS"] for h in darks)  # capped once, after all flats


def test_example_sequence_dry_run_and_the_summary_says_the_exposures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(SKYFLATS), "--dry-run", "--at", DUSK, "--output", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "sky: exposures 0.5 s" in out
    assert out.count(" ok ") == 5


def test_a_filter_the_twilight_cannot_serve_keeps_what_it_got_and_says_so(tmp_path: Path) -> None:
    report = dry_run(dimmer_sky(tmp_path), tmp_path, DUSK)
    ha = next(s for s in report.sets if s.label.startswith("Ha"))
    assert ha.status == "ok" and 0 < ha.flats < 15
    assert ha.reason is not None and f"with {ha.flats} of 15 flats" in ha.reason
    assert ha.dark_flats == 10 * len(ha.exposures)


def test_late_in_the_window_a_filter_too_dim_gets_none_and_the_others_go_on(tmp_path: Path) -> None:
    report = dry_run(SKYFLATS, tmp_path, "2026-12-02T17:35")
    by_filter = {s.label.split()[0]: s for s in report.sets}
    ha = by_filter["Ha"]
    assert ha.status == "failed" and ha.flats == 0
    assert ha.reason is not None and "beyond the ladder's longest exposure (27.8 s)" in ha.reason
    assert by_filter["L"].status == "ok" and by_filter["L"].flats == 15  # the telescope stayed uncapped
    assert all(s.dark_flats == 10 * len(s.exposures) for s in report.sets)
    assert report.run_dir is not None
    flats = [h for h in frames(report.run_dir) if h["IMAGETYP"] == "FLAT" and not h["REJECTED"]]
    assert all(-10.0 <= h["SUNALT"] <= -2.0 for h in flats)
    assert not any(h["FILTER"] == "Ha" for h in frames(report.run_dir))


def test_dawn_takes_luminance_first_and_exposures_shorten(tmp_path: Path) -> None:
    text = dimmer_sky(tmp_path).read_text().replace("when: dusk", "when: dawn")
    path = tmp_path / "dawn.yaml"
    path.write_text(text)
    report = dry_run(path, tmp_path, "2026-12-03T06:45")
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    flats = [h for h in frames(report.run_dir) if h["IMAGETYP"] == "FLAT" and not h["REJECTED"]]
    assert flats
    assert all(-10.0 <= h["SUNALT"] <= -2.0 for h in flats)
    order = sorted(flats, key=lambda h: h["DATE-OBS"])
    assert order[0]["FILTER"] == "L"
    series = [h["EXPREQ"] for h in order if h["FILTER"] == order[0]["FILTER"]]
    assert series == sorted(series, reverse=True)  # the sky brightens: never a longer rung later


@pytest.mark.parametrize(
    ("at", "text"),
    [("2026-12-02T23:00", "too late for this dusk"), ("2026-12-02T09:00", "opens in")],
)
def test_a_window_passed_or_far_off_is_one_line_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], at: str, text: str
) -> None:
    code = main(["run", str(SKYFLATS), "--dry-run", "--at", at, "--output", str(tmp_path / "out")])
    err = one_error_line(capsys.readouterr())
    assert code == 2
    assert text in err and "sky flats" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.fits"))


def test_check_shows_the_window_the_ladder_and_the_flats_expected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SKYFLATS), "--at", DUSK]) == 0
    out = capsys.readouterr().out
    assert "the dusk window (Sun -2° to -10°) from 2026-12-02 16:5" in out and "CET" in out
    assert "exposure ladder (19 rungs, ×1.25): 0.5, 0.625, 0.781" in out
    for name in ("Ha", "R", "G", "B", "L"):
        assert any(line.split()[:1] == [name] and "of 15" in line for line in out.splitlines())


@pytest.mark.parametrize(
    ("change", "where", "text"),
    [
        (("  - {filter: Ha, count: 15}", "  - {filter: Ha, count: 15, exposure: 2s}"), ":27:", "from the ladder"),
        (("sky:\n", "skyx:\n"), ":17:", "skyx"),
        (("sun_altitude: [-2, -10]", "sun_altitude: [-2, -30]"), ":21:", "within 5° and -18°"),
        (("timezone: Europe/Rome", "timezone: Europe/Nowhere"), ":19:", "unknown time zone"),
        (("panel: sky", "panel: sim://panel"), ":17:", "only with panel: sky"),
    ],
)
def test_bad_sky_sections_are_one_line_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], where: str, text: str
) -> None:
    body = SKYFLATS.read_text()
    assert change[0] in body
    path = tmp_path / "bad.yaml"
    path.write_text(body.replace(change[0], change[1]))
    assert main(["check", str(path)]) == 2
    err = one_error_line(capsys.readouterr())
    assert str(path) + where in err and text in err


def test_the_manifest_lists_every_sky_frame_on_disk(tmp_path: Path) -> None:
    report = dry_run(SKYFLATS, tmp_path, DUSK)
    assert report.manifest_path is not None and report.run_dir is not None
    manifest = json.loads(report.manifest_path.read_text())
    listed = {f["file"] for f in manifest["files"]}
    on_disk = {p.relative_to(report.run_dir).as_posix() for p in report.run_dir.rglob("*.fits")}
    assert listed == on_disk
    assert all(s["status"] == "ok" for s in manifest["sets"])


def test_the_manifest_records_the_sky_and_reads_back(tmp_path: Path) -> None:
    from sequencer.output.manifest import Manifest

    report = dry_run(SKYFLATS, tmp_path, DUSK)
    assert report.manifest_path is not None
    record = Manifest.load(report.manifest_path).sets[0]
    assert record.exposure is None
    assert record.sky is not None
    assert record.sky["when"] == "dusk" and record.sky["sun_altitude"] == [-2.0, -10.0]
    assert record.sky["site"] == {"latitude": 45.0, "longitude": 7.0, "elevation": 300.0}
    assert record.sky["ladder"][:3] == [0.5, 0.625, 0.781] and record.sky["dark_flats_per_exposure"] == 10


def test_a_sky_run_stopped_in_its_dark_flats_resumes_after_the_twilight_with_only_those_it_lacks(
    tmp_path: Path,
) -> None:
    from sequencer.run.stop import StopToken
    from tests.run.test_resume import StopWhen

    path = dimmer_sky(tmp_path)
    stop = StopToken()
    context = RunContext(
        dry_run=True,
        output_dir=tmp_path / "out",
        stream=StopWhen(stop, "[B sky]", " dark-flat 1/", "at 5.82s"),
        at=DUSK,
        stop=stop,
    )
    first = run_file(path, context)
    assert first.status == "interrupted" and first.run_dir is not None
    before = {p.name for p in first.run_dir.rglob("*.fits")}
    late = RunContext(dry_run=True, resume=first.run_dir, stream=io.StringIO(), at="2026-12-02T20:00")
    second = run_file(path, late)  # the twilight is over: the flats are kept, the dark-flats completed
    assert second.exit_code == 0, second.summary()
    headers = frames(first.run_dir)
    flats = [h for h in headers if h["IMAGETYP"] == "FLAT" and not h["REJECTED"]]
    darks = [h for h in headers if h["IMAGETYP"] == "DARK" and not h["REJECTED"]]
    assert {p.name for p in first.run_dir.rglob("*.fits") if "flat_" in p.name and "dark" not in p.name} <= before
    for set_id in {h["FLATSET"] for h in flats}:
        used = {h["EXPREQ"] for h in flats if h["FLATSET"] == set_id}
        counts = Counter(h["EXPREQ"] for h in darks if h["FLATSET"] == set_id)
        assert set(counts) == used and all(n == 10 for n in counts.values()), (set_id, counts)
    numbers = [h["FRAMENO"] for h in darks if h["FLATSET"].startswith("04-B")]
    assert sorted(numbers) == list(range(1, len(numbers) + 1))  # numbers continue, nothing overwritten


def test_the_audit_judges_a_sky_set_rung_by_rung(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = dry_run(dimmer_sky(tmp_path), tmp_path, DUSK)
    assert report.run_dir is not None
    assert main(["audit", str(report.run_dir)]) == 0
    assert "clean: no mistakes found" in capsys.readouterr().out
    darks = sorted(report.run_dir.glob("04-B-sky/darkflats/*.fits"))
    rungs = sorted({fits.getheader(p)["EXPREQ"] for p in darks})
    assert len(rungs) == 2
    for p in darks:
        if fits.getheader(p)["EXPREQ"] == rungs[1]:
            p.unlink()
    assert main(["audit", str(report.run_dir)]) != 0
    out = capsys.readouterr().out
    assert f"04-B-sky @{rungs[1]:g} s: no dark-flats" in out


def test_a_siril_export_puts_each_exposure_of_a_sky_set_in_its_own_set(tmp_path: Path) -> None:
    report = dry_run(dimmer_sky(tmp_path), tmp_path, DUSK)
    assert report.run_dir is not None
    assert main(["export", str(report.run_dir), str(tmp_path / "siril"), "--layout", "siril"]) == 0
    folders = sorted(p for p in (tmp_path / "siril").iterdir() if p.name.startswith("04-B-sky"))
    assert len(folders) == 2  # two exposures: each its own Siril set, flats with the dark-flats of its exposure
    for folder in folders:
        flats = {fits.getheader(p)["EXPREQ"] for p in (folder / "flats").glob("*.fits")}
        darks = {fits.getheader(p)["EXPREQ"] for p in (folder / "biases").glob("*.fits")}
        assert len(flats) == 1 and flats == darks
        assert (folder / "master_flat.ssf").exists()
