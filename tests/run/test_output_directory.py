"""Where a run writes: a relative --output is the working directory's, taken once (it once nested the run
inside itself, RUN/RUN/set/...), and a bad --output is refused before any device is opened."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sequencer.cli import main
from tests.support.refusals import one_error_line
from tests.support.runs import write_sequence


def test_a_relative_output_directory_holds_the_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sequence = write_sequence(tmp_path, "  - {filter: Ha, exposure: 2s, count: 2}")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["run", str(sequence), "--dry-run", "-q", "-o", "."]) == 0, capsys.readouterr()
    (run,) = [p for p in work.iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    files = [f["file"] for f in manifest["files"]]
    assert len(files) == 4 and all((run / f).is_file() for f in files)
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*.fits")) == sorted(files)
    assert not (run / run.name).exists(), "the run directory is not nested in itself"
    assert f"dry-run frames in {work / run.name}" in capsys.readouterr().out  # reported as an absolute path


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("flats/{night}", "--output: output directory 'flats/{night}': placeholder {night} is not allowed here"),
        ("d" * 300, "the filesystem takes at most 255"),
    ],
)
def test_a_bad_output_directory_is_refused_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], output: str, needle: str
) -> None:
    sequence = write_sequence(tmp_path, "  - {filter: Ha, exposure: 2s, count: 2}")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(sequence), "--dry-run", "-o", output]) == 2
    error = one_error_line(capsys.readouterr())
    assert needle in error, error
    assert sorted(os.listdir(tmp_path)) == [sequence.name], "nothing written"
