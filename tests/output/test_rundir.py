"""The run directory ({date}, ~, one fresh directory per run) and the free-space check."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from sequencer.core.atomicfile import OutputError
from sequencer.output.rundir import create_run_directory, expand_output_directory, validate_output_directory
from sequencer.output.space import check_free_space, format_bytes

START = 1_767_225_600.0 + 86400 * 327 + 11700.0  # 2026-11-24T03:15:00Z


def test_date_is_the_local_date_of_the_run_start(tmp_path: Path) -> None:
    local = datetime.fromtimestamp(START).strftime("%Y-%m-%d")
    assert expand_output_directory(str(tmp_path / "flats" / "{date}"), at=START) == tmp_path / "flats" / local


def test_tilde_is_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_output_directory("~/flats", at=START) == tmp_path / "flats"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("~/flats/{night}", r"\{night\} is not allowed"),
        ("~/flats/{date:%Y}", r"\{date\} is not allowed"),
        ("~/flats/{}", r"\{\} is not allowed"),
        ("~/flats/{date", "expected '}'"),
        ("  ", "empty"),
    ],
)
def test_bad_output_directories(template: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_output_directory(template)


def test_each_run_gets_its_own_directory_even_in_the_same_second(tmp_path: Path) -> None:
    clock = VirtualClock(start=START)
    first = create_run_directory(tmp_path / "{date}", clock=clock)
    second = create_run_directory(tmp_path / "{date}", clock=VirtualClock(start=START))
    third = create_run_directory(tmp_path / "{date}", clock=VirtualClock(start=START + 0.5))
    assert first.run_id == "2026-11-24T031500Z"
    assert (second.run_id, third.run_id) == ("2026-11-24T031500Z-2", "2026-11-24T031500Z-3")
    assert len({first.path, second.path, third.path}) == 3
    assert all(r.path.is_dir() and r.path.parent.parent == tmp_path for r in (first, second, third))
    assert first.path.name == first.run_id and first.started == START


def test_run_directory_in_the_way_of_a_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "flats").write_text("a file, not a directory")
    with pytest.raises(OutputError, match="cannot create the output directory"):
        create_run_directory(tmp_path / "flats" / "{date}", clock=VirtualClock())


def test_free_space_check_passes_and_returns_what_is_free(tmp_path: Path) -> None:
    free = check_free_space(tmp_path / "not" / "yet" / "made", 1_000_000)
    assert free == shutil.disk_usage(tmp_path).free
    assert not (tmp_path / "not").exists()


def test_free_space_check_refuses_with_the_numbers_in_human_units(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(OutputError) as caught:
        check_free_space(tmp_path, free + 10**15)
    message = str(caught.value)
    assert message.startswith(f"not enough free space for {tmp_path}: the run needs ")
    assert format_bytes(free + 10**15) in message and " TB" in message
    assert f"only {format_bytes(free)} free" in message


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1000, "1.0 kB"),
        (122_351_040, "122.4 MB"),
        (7.3e9, "7.3 GB"),
        (2e15, "2000.0 TB"),
    ],
)
def test_format_bytes(count: float, text: str) -> None:
    assert format_bytes(count) == text
