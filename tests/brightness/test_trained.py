"""The trained table: per-key brightness on disk, atomic writes, corrupt files reported and ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sequencer.brightness.response import PanelResponse
from sequencer.brightness.search import find_brightness
from sequencer.brightness.trained import DATA_DIR_ENV, FILE_NAME, TrainedKey, TrainedTable, default_path
from sequencer.brightness.trials import Window
from tests.support.synthetic_panel import SyntheticPanel, full_for, gamma, linear, threshold

WINDOW = Window.from_target(0.5, 0.1)
KEY = ("ZWO ASI6200MM Pro", "Ha", 4.0, 100, 50, 1)


def test_default_path_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / FILE_NAME
    monkeypatch.delenv(DATA_DIR_ENV)
    path = default_path()
    assert path.name == FILE_NAME and "flatseq" in path.parent.as_posix().lower()


def test_missing_file_is_an_empty_table(tmp_path: Path) -> None:
    table = TrainedTable.load(tmp_path / "none.json")
    assert len(table) == 0 and table.problem is None
    assert table.lookup(KEY) is None and table.start_for(KEY, WINDOW) is None


def test_record_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / FILE_NAME
    table = TrainedTable.load(path)
    response = PanelResponse(pedestal=512.0, scale=140.5, threshold=3.0, gamma=1.9)
    table.record(KEY, 183, response=response, mean_adu=33012.5, recorded_at=1_767_225_600.0)
    table.record(("ZWO ASI6200MM Pro", "OIII", 1.5, 100, 50, 1), 201)
    table.save()
    assert sorted(p.name for p in path.parent.iterdir()) == [FILE_NAME]  # no temp files left
    data = json.loads(path.read_text())
    assert data["version"] == 1 and len(data["entries"]) == 2

    again = TrainedTable.load(path)
    assert again.problem is None
    assert again.lookup(KEY) == 183
    assert again.lookup(TrainedKey(*KEY)) == 183  # a tuple and a TrainedKey are the same key
    assert again.lookup(["ZWO ASI6200MM Pro", "Ha", 4, 100, 50, 1]) == 183  # 4 == 4.0
    entry = again.entry(KEY)
    assert entry is not None and entry.response == response
    assert entry.mean_adu == 33012.5 and entry.recorded_at == 1_767_225_600.0
    assert again.lookup(("ZWO ASI6200MM Pro", "Ha", 4.0, 100, 50, 2)) is None  # binning is part of the key


def test_record_replaces_and_forget_removes(tmp_path: Path) -> None:
    table = TrainedTable.load(tmp_path / FILE_NAME)
    table.record(KEY, 100)
    table.record(KEY, 104)
    assert table.lookup(KEY) == 104 and len(table) == 1
    table.forget(KEY)
    assert table.lookup(KEY) is None


def test_default_location_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    table = TrainedTable.load()
    table.record(KEY, 42)
    table.save()
    assert (tmp_path / FILE_NAME).exists()
    assert TrainedTable.load().lookup(KEY) == 42


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"version": 1, "entries": [', "not valid JSON (line 1 column 28)"),
        ("[1, 2, 3]", "unexpected content"),
        ('{"entries": [{"camera": "x"}]}', "unexpected content"),
        (
            '{"entries": [{"camera": "x", "filter": "L", "exposure": "soon", "gain": 0, "offset": 0, '
            '"binning": 1, "brightness": 3}]}',
            "unexpected content",
        ),
    ],
)
def test_a_corrupt_file_is_reported_once_and_ignored(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / FILE_NAME
    path.write_text(content)
    table = TrainedTable.load(path)
    assert len(table) == 0
    assert table.problem is not None
    assert str(path) in table.problem and words in table.problem and "ignored" in table.problem
    assert "\n" not in table.problem
    table.record(KEY, 77)
    table.save()
    assert (tmp_path / f"{FILE_NAME}.corrupt").read_text() == content  # the user's file is kept aside
    assert TrainedTable.load(path).lookup(KEY) == 77


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.mkdir()  # a directory where the file should be: reading fails
    table = TrainedTable.load(path)
    assert table.problem is not None and "cannot read" in table.problem


def test_start_moves_one_step_toward_the_centre_only_when_near_an_edge(tmp_path: Path) -> None:
    response = PanelResponse(pedestal=500.0, scale=200.0, threshold=0.0, gamma=1.0)  # 200 ADU a step
    table = TrainedTable(tmp_path / FILE_NAME)
    table.record(KEY, 160, response=response, mean_adu=500 + 160 * 200)  # 32500: near the centre
    assert table.start_for(KEY, WINDOW) == 160
    table.record(KEY, 150, response=response, mean_adu=500 + 150 * 200)  # 30500: lower third of the window
    assert table.start_for(KEY, WINDOW) == 151
    table.record(KEY, 150, response=response, mean_adu=35900)  # upper third: one step down
    assert table.start_for(KEY, WINDOW) == 149
    table.record(KEY, 150)  # no response: the brightness that worked
    assert table.start_for(KEY, WINDOW) == 150
    assert table.start_for(KEY, WINDOW, (0, 100)) == 100  # clamped to the panel's range


def test_a_new_exposure_starts_from_a_sibling_rescaled(tmp_path: Path) -> None:
    response = PanelResponse(pedestal=500.0, scale=200.0, threshold=0.0, gamma=1.0)
    table = TrainedTable(tmp_path / FILE_NAME)
    table.record(KEY, 161, response=response, mean_adu=32700)
    table.record(("ZWO ASI6200MM Pro", "OIII", 2.0, 100, 50, 1), 99, response=response.rescaled(8))
    twice = ("ZWO ASI6200MM Pro", "Ha", 8.0, 100, 50, 1)
    assert table.lookup(twice) is None
    rescaled = table.response_for(twice)
    assert rescaled is not None and rescaled.scale == pytest.approx(400.0)  # nearest sibling: Ha 4 s, not OIII
    assert table.start_for(twice, WINDOW) == 81  # half the brightness for twice the exposure
    assert table.start_for(("ZWO ASI6200MM Pro", "SII", 4.0, 100, 50, 1), WINDOW) is None
    assert table.response_for(("ZWO ASI6200MM Pro", "Ha", 4.0, 100, 60, 1)) is None  # other offset: no sibling


def test_panel_prior_carries_the_last_response_to_another_filter(tmp_path: Path) -> None:
    table = TrainedTable(tmp_path / FILE_NAME)
    assert table.panel_prior(KEY) is None
    first = PanelResponse(500.0, 0.5, 0.0, 2.2)
    last = PanelResponse(500.0, 0.2, 0.0, 2.2)
    table.record(("ZWO ASI6200MM Pro", "L", 1.0, 100, 50, 1), 40, response=first)
    table.record(("ZWO ASI6200MM Pro", "R", 2.0, 100, 50, 1), 90, response=last)
    table.record(("ZWO ASI6200MM Pro", "G", 2.0, 0, 50, 1), 90, response=first)  # other gain: not this rig
    prior = table.panel_prior(KEY)  # Ha at 4 s: the R response, twice the exposure
    assert prior is not None and prior.shape == last.shape and prior.scale == pytest.approx(0.4)
    table.record(("ZWO ASI6200MM Pro", "L", 1.0, 100, 50, 1), 41, response=first)  # re-learnt: now the latest
    again = table.panel_prior(KEY)
    assert again is not None and again.scale == pytest.approx(2.0)


@pytest.mark.parametrize("curve", [linear(), gamma(2.2), threshold(25)], ids=["linear", "gamma", "threshold"])
def test_the_second_run_needs_one_trial_per_set(tmp_path: Path, curve: object) -> None:
    """A sequence's sets searched cold, recorded and saved; in the next run (a new table loaded from disk)
    every set's first trial is in the window."""
    path = tmp_path / FILE_NAME
    sets = {("L", 0.5): 70.0, ("R", 1.0): 110.0, ("G", 1.0): 104.0, ("B", 1.5): 131.0, ("Ha", 4.0): 212.0}
    panels = {
        name_exposure: SyntheticPanel(curve, full_for(curve, wanted, WINDOW.target_adu - 500), noise=0.01, seed=i)  # type: ignore[arg-type]
        for i, (name_exposure, wanted) in enumerate(sets.items())
    }
    first_run = TrainedTable.load(path)
    for (name, exposure), panel in panels.items():
        key = ("sim camera", name, exposure, 100, 50, 1)
        result = find_brightness(panel.measure, WINDOW, (0, 255), exposure=exposure, pedestal_adu=500)
        assert result.ok and result.brightness is not None and result.flat is not None
        first_run.record(key, result.brightness, response=result.response, mean_adu=result.flat.mean)
    first_run.save()

    second_run = TrainedTable.load(path)
    for (name, exposure), panel in panels.items():
        key = ("sim camera", name, exposure, 100, 50, 1)
        panel.calls.clear()
        result = find_brightness(
            panel.measure,
            WINDOW,
            (0, 255),
            exposure=exposure,
            pedestal_adu=500,
            start=second_run.start_for(key, WINDOW, (0, 255)),
            prior=second_run.response_for(key),
        )
        assert result.ok and len(result.trials) == 1, (name, panel.calls)


def test_an_entry_that_measured_one_level_takes_the_learnt_curve(tmp_path: Path) -> None:
    """R found on its first trial knows R's light, not the panel's curve: its response for a new exposure is
    the curve learnt on L, drawn through R's trained point; the prior for another filter is L's curve too."""
    table = TrainedTable(tmp_path / FILE_NAME)
    learnt = PanelResponse(500.0, 300.0, 25.0, 1.0, levels=3)  # a threshold panel, learnt on L
    table.record(("cam", "L", 1.0, 100, 50, 1), 130, response=learnt, mean_adu=learnt.mean_at(130))
    assumed = PanelResponse(500.0, 120.0, 0.0, 1.0, levels=1)
    table.record(("cam", "R", 1.0, 100, 50, 1), 100, response=assumed, mean_adu=assumed.mean_at(100))
    response = table.response_for(("cam", "R", 2.0, 100, 50, 1))  # R at twice the exposure
    assert response is not None and response.shape == learnt.shape and response.shape_known
    assert response.signal_at(100) == pytest.approx(2 * assumed.signal_at(100))  # through R's point, twice the light
    prior = table.panel_prior(("cam", "Ha", 4.0, 100, 50, 1))
    assert prior is not None and prior.shape == learnt.shape  # the last learnt curve, not R's assumed one
    saved = TrainedTable(tmp_path / FILE_NAME)
    saved.entries = dict(table.entries)
    saved.save()
    again = TrainedTable.load(tmp_path / FILE_NAME).entry(("cam", "R", 1.0, 100, 50, 1))
    assert again is not None and again.response is not None and again.response.levels == 1


def test_a_search_that_lands_on_its_first_trial_learns_no_curve() -> None:
    panel = SyntheticPanel(threshold(25), full_for(threshold(25), 120, WINDOW.target_adu - 500))
    lucky = find_brightness(panel.measure, WINDOW, (0, 255), exposure=1.0, pedestal_adu=500, start=120)
    assert lucky.ok and len(lucky.trials) == 1
    assert lucky.response is not None and not lucky.response.shape_known
    panel.calls.clear()
    cold = find_brightness(panel.measure, WINDOW, (0, 255), exposure=1.0, pedestal_adu=500)
    assert cold.ok and cold.response is not None and cold.response.levels == len(cold.trials)
