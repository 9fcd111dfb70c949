"""The trained table's exposure entries: kept in the same file, read back checked, a table written before
them still read, a damaged entry one line naming its key (set aside like any damaged table), and a start aimed
at the window's centre."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sequencer.brightness.linearity import CameraResponse
from sequencer.brightness.trained import FILE_NAME, TrainedTable
from sequencer.brightness.trials import Window

WINDOW = Window.from_target(0.5, 0.1)
KEY = ("ZWO ASI6200MM Pro", "Ha", 100, 50, 1, 255)
BY_HAND = ("ZWO ASI6200MM Pro", "L", 100, 50, 1, None)
GOOD = {
    "camera": '"ZWO ASI6200MM Pro"',
    "filter": '"Ha"',
    "gain": "100",
    "offset": "50",
    "binning": "1",
    "brightness": "255",
    "exposure": "4.0",
}


def exposure_table(**changes: str) -> str:
    entry = {**GOOD, **changes}
    fields = ", ".join(f'"{key}": {value}' for key, value in entry.items())
    return '{"version": 1, "entries": [], "exposures": [{' + fields + "}]}"


def test_exposures_are_saved_beside_the_brightnesses_and_read_back(tmp_path: Path) -> None:
    table = TrainedTable(tmp_path / FILE_NAME)
    table.record(("cam", "L", 2.0, 100, 50, 1), 120)
    response = CameraResponse(pedestal=500.0, rate=8000.0, lag=0.02, levels=2)
    table.exposures.record(KEY, 4.0, response=response, mean_adu=32500.0, recorded_at=10.0)
    table.exposures.record(BY_HAND, 0.8, response=CameraResponse(500.0, 40000.0))
    table.save()
    again = TrainedTable.load(tmp_path / FILE_NAME)
    assert again.problem is None and len(again) == 1 and len(again.exposures) == 2
    entry = again.exposures.entry(KEY)
    assert entry is not None and entry.response == response and entry.mean_adu == 32500.0
    hand = again.exposures.entry(BY_HAND)
    assert hand is not None and hand.key.brightness is None and hand.exposure == 0.8


def test_a_table_from_before_exposure_searches_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    entry = {"camera": "cam", "filter": "Ha", "exposure": 4.0, "gain": 100, "offset": 50, "binning": 1}
    path.write_text(json.dumps({"version": 1, "entries": [{**entry, "brightness": 120}]}))
    table = TrainedTable.load(path)
    assert table.problem is None and len(table) == 1 and len(table.exposures) == 0


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"exposure": "NaN"}, "exposures[0].exposure: expected a finite number, got nan"),
        ({"exposure": "0"}, "exposures[0].exposure: expected a number from 1e-06 to 3600, got 0"),
        ({"brightness": "-3"}, "exposures[0].brightness: expected a whole number from 0"),
        ({"gain": '"100"'}, 'exposures[0].gain: expected a whole number, got "100"'),
        ({"response": '{"pedestal": 500, "rate": 0}'}, "exposures[0].response.rate: expected a number from 1e-09"),
        ({"response": '{"pedestal": 500, "rate": 1e3, "lag": Infinity}'}, "exposures[0].response.lag: expected a"),
        ({"response": '"fast"'}, 'exposures[0].response: expected an object, got "fast"'),
    ],
)
def test_a_damaged_exposure_entry_is_one_line_naming_the_key_and_is_set_aside(
    tmp_path: Path, changes: dict[str, str], key: str
) -> None:
    path = tmp_path / FILE_NAME
    path.write_text(exposure_table(**changes))
    table = TrainedTable.load(path)
    assert len(table.exposures) == 0 and table.exposures.entry(KEY) is None
    assert table.problem is not None and "\n" not in table.problem
    assert key in table.problem and "ignored" in table.problem
    original = path.read_bytes()
    table.exposures.record(KEY, 3.0)
    table.save()
    assert (tmp_path / f"{FILE_NAME}.corrupt").read_bytes() == original
    rebuilt = TrainedTable.load(path)
    entry = rebuilt.exposures.entry(KEY)
    assert rebuilt.problem is None and entry is not None and entry.exposure == 3.0


def test_a_start_aims_at_the_centre_at_todays_pedestal(tmp_path: Path) -> None:
    table = TrainedTable(tmp_path / FILE_NAME)
    # Last time the trial landed near the window's top, at 4 s: the start aims at the centre.
    response = CameraResponse(pedestal=500.0, rate=(35000.0 - 500.0) / 4.0)
    table.exposures.record(KEY, 4.0, response=response, mean_adu=35000.0)
    start = table.exposures.start_for(KEY, WINDOW, pedestal=500.0)
    assert start is not None and response.exposure_for(WINDOW.target_adu) == pytest.approx(start)
    assert start < 4.0
    # The same filter at half the brightness: twice the exposure (a PWM panel is linear).
    half = (*KEY[:5], 128)
    other = table.exposures.start_for(half, WINDOW, pedestal=500.0)
    assert other == pytest.approx(start * 255 / 128)
    assert table.exposures.start_for(BY_HAND, WINDOW, pedestal=500.0) is None


def test_the_camera_lag_carries_to_another_filter(tmp_path: Path) -> None:
    table = TrainedTable(tmp_path / FILE_NAME)
    table.exposures.record(KEY, 4.0, response=CameraResponse(500.0, 8000.0, lag=0.03, levels=2))
    other = ("ZWO ASI6200MM Pro", "OIII", 100, 50, 1, 255)
    lag = table.exposures.camera_lag(other)
    assert lag is not None and lag.lag == 0.03
    assert table.exposures.camera_lag(("ZWO ASI6200MM Pro", "OIII", 0, 50, 1, 255)) is None  # another gain
