"""A damaged trained-brightness table (hand-edited, half-written, hostile) is one warning naming the file and
the key, is ignored, and is set aside as `.corrupt` when the table is next saved: never a crash, never a
search started from a NaN."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sequencer.brightness.trained import FILE_NAME, TrainedTable
from sequencer.cli import main
from tests.support.runs import write_sequence

KEY = ("ZWO ASI6200MM Pro", "Ha", 4.0, 100, 50, 1)
GOOD = {"camera": '"cam"', "filter": '"Ha"', "exposure": "4.0", "gain": "100", "offset": "50", "binning": "1"}


def table_with(**changes: object) -> str:
    """A one-entry table, each value as JSON text (so NaN and Infinity can be written as Python's json does)."""
    entry = {**GOOD, "brightness": "120", **changes}
    fields = ", ".join(f'"{key}": {value}' for key, value in entry.items())
    return '{"version": 1, "entries": [{' + fields + "}]}"


def quoted(value: str) -> str:
    return json.dumps(value)


CASES: list[tuple[str, str, str]] = [
    ("exposure-infinity", table_with(exposure="Infinity"), "entries[0].exposure: expected a finite number, got inf"),
    ("exposure-nan", table_with(exposure="NaN"), "entries[0].exposure: expected a finite number, got nan"),
    ("exposure-zero", table_with(exposure=0), "entries[0].exposure: expected a number from 1e-06 to 3600, got 0"),
    ("brightness-negative", table_with(brightness=-5), "entries[0].brightness: expected a whole number from 0"),
    ("brightness-nan", table_with(brightness="NaN"), "entries[0].brightness: expected a whole number, got nan"),
    ("mean-infinite", table_with(mean_adu="-Infinity"), "entries[0].mean_adu: expected a finite number, got -inf"),
    ("gain-a-string", table_with(gain=quoted("100")), 'entries[0].gain: expected a whole number, got "100"'),
    ("gain-a-boolean", table_with(gain="true"), "entries[0].gain: expected a whole number, got True"),
    ("camera-a-number", table_with(camera=7), "entries[0].camera: expected a string, got 7"),
    ("filter-missing", table_with().replace('"filter": "Ha", ', ""), "entries[0].filter: missing"),
    ("response-a-string", table_with(response=quoted("fast")), 'entries[0].response: expected an object, got "fast"'),
    (
        "response-gamma-nan",
        table_with(response='{"pedestal": 500, "scale": 2.0, "gamma": NaN}'),
        "entries[0].response.gamma: expected a finite number, got nan",
    ),
    ("entries-an-object", '{"version": 1, "entries": {"a": 1}}', "entries: expected a list, got an object"),
    ("entry-a-list", '{"version": 1, "entries": [[1, 2]]}', "entries[0]: expected an object, got a list"),
    ("no-entries", '{"version": 1}', "entries: missing"),
    ("a-list", "[1, 2, 3]", "the file: expected an object, got a list"),
    ("deep-nesting", "[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
    ("not-utf8", '{"entries": ["caf\xe9"]}', "not UTF-8 text"),
]


def write(path: Path, content: str) -> None:
    path.write_bytes(content.encode("latin-1" if "\xe9" in content else "utf-8"))


@pytest.mark.parametrize(("name", "content", "key"), CASES, ids=[c[0] for c in CASES])
def test_a_damaged_table_is_one_line_naming_the_key_and_is_set_aside(
    tmp_path: Path, name: str, content: str, key: str
) -> None:
    path = tmp_path / FILE_NAME
    write(path, content)
    table = TrainedTable.load(path)
    assert len(table) == 0 and table.lookup(KEY) is None
    assert table.problem is not None and "\n" not in table.problem
    assert table.problem.startswith(f"trained brightness table {path}: "), table.problem
    assert key in table.problem and "ignored" in table.problem
    original = path.read_bytes()
    table.record(KEY, 77)
    table.save()
    assert (tmp_path / f"{FILE_NAME}.corrupt").read_bytes() == original  # the user's file, kept aside
    rebuilt = TrainedTable.load(path)
    assert rebuilt.problem is None and rebuilt.lookup(KEY) == 77


def test_a_table_larger_than_16_mb_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b" " * 16_000_001)
    table = TrainedTable.load(path)
    assert table.problem is not None and "larger than 16000000 bytes" in table.problem and len(table) == 0


def test_a_run_warns_once_sets_the_damaged_table_aside_and_rebuilds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(os.environ["FLATSEQ_DATA_DIR"]) / FILE_NAME
    damaged = table_with(exposure="NaN")
    path.write_text(damaged)
    sequence = write_sequence(tmp_path, "  - {filter: Ha, exposure: 2s, count: 2}")
    assert main(["run", str(sequence), "--dry-run", "-q", "-o", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.out.splitlines() if "trained brightness table" in line]
    assert warnings == [
        f"warning: trained brightness table {path}: unexpected content (entries[0].exposure: expected a finite "
        f"number, got nan); ignored, searches start cold (the file is kept as {FILE_NAME}.corrupt when the table "
        "is next saved)"
    ]
    assert "Traceback" not in captured.out + captured.err
    assert path.with_name(f"{FILE_NAME}.corrupt").read_text() == damaged
    rebuilt = TrainedTable.load(path)
    assert rebuilt.problem is None and len(rebuilt) == 1


def test_a_table_that_cannot_be_written_is_a_warning_not_a_failed_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("FLATSEQ_DATA_DIR", str(blocker / "flatseq"))
    sequence = write_sequence(tmp_path, "  - {filter: Ha, exposure: 2s, count: 2}")
    assert main(["run", str(sequence), "--dry-run", "-q", "-o", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.out.splitlines() if "was not saved" in line]
    assert len(warnings) == 1, captured.out
    table = blocker / "flatseq" / FILE_NAME
    assert warnings[0] == (
        f"warning: the trained brightness table {table} was not saved (Not a directory): "
        "the next run searches from scratch"
    )
    assert "Traceback" not in captured.out + captured.err
    assert blocker.read_text() == "a file where the data directory should be"
