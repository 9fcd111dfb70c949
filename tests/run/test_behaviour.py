"""Runs on the simulated bench through a recording wrapper: device-call order, guards, failures, training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.base import CameraSettings, LightState
from drivers.clock import VirtualClock
from sequencer.run.stop import StopToken
from simulators.devices.bench import Bench
from tests.support.recording import CallLog
from tests.support.runs import recorded_run, write_sequence

TWO_SETS = "  - {filter: Ha, exposure: 4s, count: 4, dark_flats: 3}\n  - {filter: OIII, exposure: 1.5s, count: 3}\n"


def _light_is_off(bench: Bench) -> bool:
    if not bench.panel.connected:
        bench.panel.connect()
    return bench.panel.light_state() is LightState.OFF


def _phases(log: CallLog) -> list[tuple[str, float]]:
    """The run as (phase, time) events: filter, light on/off, light/dark exposures, settings read-back."""
    events: list[tuple[str, float]] = []
    for c in log.calls:
        if c.method == "move_to":
            events.append(("filter", c.t))
        elif c.method in ("light_on", "light_off"):
            events.append((c.method, c.t))
        elif c.method == "start_exposure" and c.args[0] > 0.01:
            events.append(("light-frame" if c.args[1] else "dark-frame", c.t))
        elif c.method == "read_settings":
            events.append(("read_settings", c.t))
    return events


def test_device_calls_follow_the_field_notes_order(tmp_path: Path) -> None:
    report, bench, log = recorded_run(write_sequence(tmp_path, TWO_SETS), tmp_path / "out")
    assert report.exit_code == 0, report.summary()
    assert not log.overlaps, f"two device operations at once: {log.overlaps}"
    events = _phases(log)
    # split per set at each filter change
    starts = [i for i, (name, _) in enumerate(events) if name == "filter"]
    assert len(starts) == 2
    for a, b in zip(starts, [*starts[1:], len(events)], strict=True):
        seq = events[a:b]
        names = [n for n, _ in seq]
        first_on = names.index("light_on")
        off = names.index("light_off")
        lights = [i for i, n in enumerate(names) if n == "light-frame"]
        darks = [i for i, n in enumerate(names) if n == "dark-frame"]
        reads = [i for i, n in enumerate(names) if n == "read_settings"]
        assert names[0] == "filter"
        assert first_on < lights[0] and lights[-1] < off < darks[0]
        assert reads[0] < first_on, "the settings are read back at the set boundary, before the light"
        assert any(off < r < darks[0] for r in reads), "and again before the dark-flats"
        assert all(n in ("light-frame", "light_on") for n in names[first_on:off]), names  # trials, then flats
        assert seq[lights[0]][1] - seq[first_on][1] >= 3.0, "first exposure before the settle after light on"
        assert seq[darks[0]][1] - seq[off][1] >= 3.0, "dark-flats before the settle after light off"
        assert "light_on" not in names[off:]
    assert _light_is_off(bench)


def test_unreachable_targets_are_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    sets = (
        "  - {filter: Ha, exposure: 0.05s, count: 3}\n"  # far too dim even at full brightness
        "  - {filter: L, exposure: 30s, count: 3}\n"  # too bright even at the lowest brightness
        "  - {filter: OIII, exposure: 2s, count: 3}\n"
    )
    report, bench, log = recorded_run(write_sequence(tmp_path, sets), tmp_path / "out")
    assert report.exit_code == 1
    by_id = {s.id: s for s in report.sets}
    ha, lum, oiii = by_id["01-Ha-0.05s"], by_id["02-L-30s"], by_id["03-OIII-2s"]
    assert ha.status == "failed" and "too dim at the maximum brightness" in (ha.reason or "")
    assert "an exposure of about" in (ha.reason or "")
    suggested = float((ha.reason or "").split("an exposure of about ")[1].split(" s")[0])
    assert 0.5 < suggested < 3.0  # Ha at 4 s lands mid-range on this panel
    assert lum.status == "failed" and "too bright at the minimum brightness" in (lum.reason or "")
    assert "an exposure of about" in (lum.reason or "")
    assert oiii.status == "ok" and oiii.flats == 3 and oiii.dark_flats == 3
    # the light went off after each failure, before the next set's filter move
    calls = [(c.device, c.method) for c in log.calls if c.method in ("light_on", "light_off", "move_to")]
    for i, call in enumerate(calls):
        if call == ("wheel", "move_to") and i > 1:
            assert calls[i - 1] == ("panel", "light_off"), calls
    assert _light_is_off(bench)
    summary = "\n".join(report.summary())
    assert "too dim at the maximum brightness" in summary and "OIII 2s" in summary
    manifest = json.loads(report.manifest_path.read_text())  # type: ignore[union-attr]
    assert [s["status"] for s in manifest["sets"]] == ["failed", "failed", "ok"]


def test_second_run_needs_one_trial_per_set(tmp_path: Path) -> None:
    path = write_sequence(tmp_path, TWO_SETS)
    first, _, _ = recorded_run(path, tmp_path / "one")
    second, _, _ = recorded_run(path, tmp_path / "two")
    assert first.exit_code == second.exit_code == 0
    assert all(s.trials == 1 for s in second.sets), [(s.id, s.trials) for s in second.sets]
    assert sum(s.trials for s in first.sets) >= sum(s.trials for s in second.sets)


def test_dark_flats_refused_when_the_camera_settings_changed(tmp_path: Path) -> None:
    """Someone changes the gain between flats and dark-flats: the dark-flats are refused, not taken."""
    clock = VirtualClock()
    bench = Bench(sensor="small", seed=2, clock=clock)
    original_off = bench.panel.light_off

    def light_off_and_touch_gain() -> None:
        original_off()
        bench.camera.apply(CameraSettings(gain=120, offset=50, binning=1, readout_mode=0, temperature=-10))

    bench.panel.light_off = light_off_and_touch_gain  # type: ignore[method-assign]
    report, _, log = recorded_run(
        write_sequence(tmp_path, "  - {filter: Ha, exposure: 4s, count: 3}\n"), tmp_path / "out", bench=bench
    )
    (ha,) = report.sets
    assert ha.status == "failed"
    assert "refusing dark-flats" in (ha.reason or "") and "gain 120 != 100" in (ha.reason or "")
    assert not [c for c in log.calls if c.method == "start_exposure" and c.args[0] == 4.0 and not c.args[1]]
    assert report.exit_code == 1


def test_abort_policy_stops_the_run(tmp_path: Path) -> None:
    sets = "  - {filter: Ha, exposure: 0.05s, count: 3, on_error: abort}\n  - {filter: OIII, exposure: 2s, count: 3}\n"
    report, bench, _ = recorded_run(write_sequence(tmp_path, sets), tmp_path / "out")
    assert report.exit_code == 1 and report.status == "failed"
    assert [s.status for s in report.sets] == ["failed", "skipped"]
    assert _light_is_off(bench)


def test_stop_request_ends_safely(tmp_path: Path) -> None:
    """A stop (what SIGINT/SIGTERM set) mid-flats: light off, exposure aborted, files and manifest agree."""
    stop = StopToken()
    clock = VirtualClock()
    bench = Bench(sensor="small", seed=3, clock=clock)
    original = bench.camera.start_exposure
    count = {"n": 0}

    def expose_and_maybe_stop(seconds: float, light: bool) -> None:
        original(seconds, light)
        count["n"] += 1
        if count["n"] == 6:
            stop.request(15)  # SIGTERM arrives while the camera exposes

    bench.camera.start_exposure = expose_and_maybe_stop  # type: ignore[method-assign]
    report, _, log = recorded_run(write_sequence(tmp_path, TWO_SETS), tmp_path / "out", bench=bench, stop=stop)
    assert report.status == "interrupted" and report.exit_code == 143
    assert log.calls[-1].method != "start_exposure"
    assert any(c.method == "abort_exposure" for c in log.calls)
    assert _light_is_off(bench)
    run = report.run_dir
    assert run is not None
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    listed = {f["file"] for f in manifest["files"]}
    assert listed and listed == {p.relative_to(run).as_posix() for p in run.rglob("*.fits")}
    assert not [p for p in run.rglob("*") if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("option", "needle"),
    [("disconnect_after=8", "disconnect"), ("fault=hang&hang_timeout=5", "never completed")],
)
def test_camera_faults_stop_the_set_safely(tmp_path: Path, option: str, needle: str) -> None:
    clock = VirtualClock()
    bench = Bench.from_options(dict(p.split("=") for p in option.split("&")), clock=clock)
    report, _, _ = recorded_run(write_sequence(tmp_path, TWO_SETS), tmp_path / "out", bench=bench)
    assert report.exit_code == 1
    assert any(needle in (s.reason or "") or needle in (report.error or "") for s in report.sets), report.summary()
    run = report.run_dir
    assert run is not None
    manifest = json.loads((run / "manifest.json").read_text())
    assert {f["file"] for f in manifest["files"]} == {p.relative_to(run).as_posix() for p in run.rglob("*.fits")}
    # the panel is still reachable: its light must be off
    assert _light_is_off(bench)


def test_cooler_that_cannot_reach_its_set_point_fails_before_any_light(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = Bench(sensor="small", clock=clock, cooler="stuck")
    path = write_sequence(tmp_path, "  - {filter: Ha, exposure: 4s, count: 3}\n").read_text()
    path_file = tmp_path / "cool.yaml"
    path_file.write_text(path.replace("temperature: -10}", "temperature: -10, cooling_timeout: 5min}"))
    report, _, log = recorded_run(path_file, tmp_path / "out", bench=bench)
    assert report.exit_code == 1
    assert "cooler did not reach -10" in (report.sets[0].reason or "")
    assert not [c for c in log.calls if c.method == "light_on"]


def test_drifting_panel_rejects_flats_and_searches_again(tmp_path: Path) -> None:
    """The panel dims mid-set (someone turns the knob): the flats that miss are kept on disk but marked
    rejected, a new search restores the level, and the set still gets exactly its count of good flats."""
    from astropy.io import fits

    clock = VirtualClock()
    bench = Bench(sensor="small", seed=4, clock=clock)
    original = bench.camera.start_exposure
    started = {"n": 0}

    def expose(seconds: float, light: bool) -> None:
        started["n"] += 1
        if started["n"] == 8:  # a few flats in: the panel drops to 60 %
            bench.panel.set_brightness(int(bench.panel.brightness() * 0.6))
        original(seconds, light)

    bench.camera.start_exposure = expose  # type: ignore[method-assign]
    report, _, _ = recorded_run(
        write_sequence(tmp_path, "  - {filter: Ha, exposure: 4s, count: 10, dark_flats: 2}\n"),
        tmp_path / "out",
        bench=bench,
    )
    assert report.exit_code == 0, report.summary()
    run = report.run_dir
    assert run is not None
    manifest = json.loads((run / "manifest.json").read_text())
    (s,) = manifest["sets"]
    good = [f for f in s["flats"] if not f["rejected"]]
    bad = [f for f in s["flats"] if f["rejected"]]
    assert len(good) == 10 and bad
    assert len(s["trials"]) > 2, "a second search should have been recorded"
    for f in bad:
        assert f["file"].startswith(f"{s['id']}/rejected/")  # written there from the start
        h = fits.getheader(run / f["file"])
        assert h["REJECTED"] is True and "below the window" in h["REJREASN"]
        assert h["STATMEAN"] < 0.45 * 65536
    for f in good:
        assert f["file"].startswith(f"{s['id']}/flats/")
        assert 0.45 * 65536 <= fits.getheader(run / f["file"])["STATMEAN"] <= 0.55 * 65536


def test_dark_flats_refused_when_the_sensor_warmed(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = Bench(sensor="small", seed=5, clock=clock)
    real_temperature = bench.camera.temperature
    original_off = bench.panel.light_off
    offs = {"n": 0}

    def light_off() -> None:
        original_off()
        offs["n"] += 1  # the first is the run's own safety switch-off before anything starts

    def temperature() -> float | None:
        t = real_temperature()
        return t + 2.5 if offs["n"] >= 2 and t is not None else t  # after the flats the cooler lost 2.5 °C

    bench.panel.light_off = light_off  # type: ignore[method-assign]
    bench.camera.temperature = temperature  # type: ignore[method-assign]
    report, _, _ = recorded_run(
        write_sequence(tmp_path, "  - {filter: Ha, exposure: 4s, count: 3}\n"), tmp_path / "out", bench=bench
    )
    (ha,) = report.sets
    assert ha.status == "failed" and "refusing dark-flats: sensor at" in (ha.reason or "")
    assert "tolerance ±1 °C" in (ha.reason or "")


def test_not_enough_disk_space_stops_before_any_light(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 10**5, 10**5))
    report, bench, log = recorded_run(write_sequence(tmp_path, TWO_SETS), tmp_path / "out")
    assert report.exit_code == 1
    assert _light_is_off(bench)
    assert "not enough free space" in (report.error or "")
    assert not [c for c in log.calls if c.method == "light_on"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_settings_the_camera_cannot_take_are_refused_before_anything_moves(tmp_path: Path) -> None:
    from drivers.errors import ConfigError

    seq = write_sequence(tmp_path, "  - {filter: Ha, exposure: 4s, count: 3, readout_mode: 7}\n")
    with pytest.raises(ConfigError, match=r"test.yaml:10:5: readout_mode 7 is out of range \(the camera has"):
        recorded_run(seq, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_internal_error_still_ends_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug in the middle of a search: the light still goes off and the manifest says the run failed;
    the command says so in one line (exit 70) instead of a traceback."""
    import sequencer.run.executor
    from sequencer.cli import main

    def broken(*_a: object, **_k: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(sequencer.run.executor, "find_brightness", broken)
    seq = write_sequence(tmp_path, "  - {filter: Ha, exposure: 4s, count: 3}\n")
    with pytest.raises(RuntimeError, match="boom"):
        recorded_run(seq, tmp_path / "out")
    run = next((tmp_path / "out").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "internal error: RuntimeError: boom" in manifest["reason"]
    events = [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines()]
    crash = next(i for i, e in enumerate(events) if e["event"] == "internal_error")
    assert "RuntimeError: boom" in events[crash]["traceback"]
    assert any(e["event"] == "device" and e.get("call") == "light_off" for e in events[crash:])

    code = main(["run", str(seq), "--dry-run", "--output", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert code == 70
    assert err.strip().splitlines() == [
        "flatseq: internal error: RuntimeError: boom (a bug: please report it; FLATSEQ_DEBUG=1 shows the traceback)"
    ]


def test_explicit_fixed_brightness_flats_are_not_searched(tmp_path: Path) -> None:
    """light_on with a brightness and flats with an exposure: no search, the brightness is the user's."""
    seq = tmp_path / "fixed.yaml"
    seq.write_text(
        "equipment: {camera: 'sim://camera?sensor=small', panel: 'sim://panel', filter_wheel: 'sim://filterwheel'}\n"
        "camera: {gain: 100, offset: 50}\n"
        "steps:\n"
        "  - select_filter: OIII\n"
        "  - light_on: {brightness: 60}\n"
        "  - wait: 3s\n"
        "  - flats: {count: 3, exposure: 2s}\n"
        "  - light_off\n"
        "  - wait: 3s\n"
        "  - dark_flats: 2\n"
    )
    report, bench, log = recorded_run(seq, tmp_path / "out")
    assert report.exit_code == 0, report.summary()
    assert [c.args for c in log.calls if c.method == "light_on"] == [(60,)]
    (s,) = report.sets
    assert s.trials == 0 and s.flats == 3 and s.dark_flats == 2
    assert _light_is_off(bench)
