"""Bad sequence files: one line naming file:line:column and the field, exit code 2, no traceback,
and no device touched (no run directory is created)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sequencer.cli import main

HEAD = """\
name: test
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50}
"""

EXPLICIT_OK = """\
steps:
  - select_filter: Ha
  - light_on
  - wait: 3s
  - find_brightness: {exposure: 4s}
  - flats: {count: 3}
  - light_off
  - wait: 3s
  - dark_flats: {count: 3}
"""

CASES: list[tuple[str, str, str, tuple[int, int], str]] = [
    (
        "yaml-syntax",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 30\n",
        "",
        (9, 1),
        "YAML syntax error: while parsing a flow mapping (line 8)",
    ),
    ("empty", "", "", (1, 1), "the file is empty"),
    (
        "unknown-key",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 30, colour: red}\n",
        "",
        (8, 43),
        "flat_sets[0].colour: unknown key (expected one of: filter, exposure, count",
    ),
    (
        "wrong-type",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: many}\n",
        "",
        (8, 39),
        "flat_sets[0].count: Input should be a valid integer",
    ),
    (
        "negative-exposure",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: -4s, count: 30}\n",
        "",
        (8, 28),
        "flat_sets[0].exposure: a duration cannot be negative",
    ),
    (
        "zero-exposure",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 0s, count: 30}\n",
        "",
        (8, 28),
        "flat_sets[0].exposure: the exposure must be above 0 s",
    ),
    (
        "zero-count",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 0}\n",
        "",
        (8, 39),
        "flat_sets[0].count: Input should be greater than 0",
    ),
    (
        "target-above-100",
        HEAD + "brightness: {target: 150%}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 22),
        "brightness.target: the target must be above 0% and below 100%",
    ),
    (
        "tolerance-100",
        HEAD + "brightness: {tolerance: 100%}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 25),
        "brightness.tolerance",
    ),
    (
        "window-saturates",
        HEAD + "brightness: {target: 80%, tolerance: 30%}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 13),
        "flats would saturate",
    ),
    (
        "flats-light-off",
        HEAD
        + EXPLICIT_OK.replace(
            "  - light_on\n  - wait: 3s\n  - find_brightness: {exposure: 4s}\n", "  - find_brightness: {exposure: 4s}\n"
        ),
        "",
        (9, 5),
        "steps[1]: find_brightness with the light off",
    ),
    (
        "dark-flats-light-on",
        HEAD + EXPLICIT_OK.replace("  - light_off\n  - wait: 3s\n", ""),
        "",
        (13, 5),
        "steps[5]: dark-flats with the light on",
    ),
    (
        "dark-flats-no-set",
        HEAD + "steps:\n  - light_off\n  - wait: 3s\n  - dark_flats: {count: 3}\n",
        "",
        (10, 5),
        "steps[2]: dark-flats with no flat set before them",
    ),
    (
        "dark-flat-exposure-explicit",
        HEAD + EXPLICIT_OK.replace("dark_flats: {count: 3}", "dark_flats: {count: 3, exposure: 2s}"),
        "",
        (15, 17),
        "a dark-flat takes its exposure from its flat set",
    ),
    (
        "dark-flat-exposure-compact",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3, dark_flats: {count: 3, exposure: 2s}}\n",
        "",
        (8, 54),
        "a dark-flat takes its exposure from its flat set",
    ),
    (
        "unknown-scheme",
        HEAD.replace("panel: sim://panel", "panel: usb://panel")
        + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (4, 3),
        "equipment.panel: unknown equipment scheme 'usb'",
    ),
    (
        "unknown-filter",
        HEAD + "flat_sets:\n  - {filter: H-alpha, exposure: 4s, count: 3}\n",
        "",
        (8, 5),
        "unknown filter 'H-alpha' for the wheel",
    ),
    (
        "duplicated-set",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n  - {filter: Ha, exposure: 4s, count: 5}\n",
        "",
        (9, 5),
        "duplicated set",
    ),
    (
        "duplicated-key",
        HEAD + "camera: {gain: 1, offset: 1}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 1),
        "camera: duplicated key",
    ),
    (
        "missing-equipment",
        "name: x\ncamera: {gain: 1, offset: 1}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (1, 1),
        "equipment: missing required key",
    ),
    ("unknown-step", HEAD + "steps:\n  - light_onn\n", "", (8, 5), "unknown step 'light_onn'"),
    (
        "dark-flats-afterglow",
        HEAD + EXPLICIT_OK.replace("  - light_off\n  - wait: 3s\n", "  - light_off\n"),
        "",
        (14, 5),
        "dark-flats right after light_off",
    ),
    (
        "flats-unsettled",
        HEAD + EXPLICIT_OK.replace("  - light_on\n  - wait: 3s\n", "  - light_on\n"),
        "",
        (10, 5),
        "find_brightness right after light_on",
    ),
    (
        "ambiguous-fraction",
        HEAD + "brightness: {target: 50}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 22),
        "write a percentage with %",
    ),
    (
        "both-forms",
        HEAD + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n" + EXPLICIT_OK,
        "",
        (1, 1),
        "give flat_sets or steps, not both",
    ),
    (
        "filter-without-wheel",
        HEAD.replace("  filter_wheel: sim://filterwheel\n", "")
        + "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 5),
        "no filter_wheel",
    ),
    (
        "bad-duration",
        HEAD + "settle: {after_light_on: soon}\nflat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n",
        "",
        (7, 26),
        "settle.after_light_on: expected a duration",
    ),
]


@pytest.mark.parametrize(("name", "text", "_unused", "where", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    _unused: str,
    where: tuple[int, int],
    needle: str,
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    out_dir = tmp_path / "out"
    code = main(["run", str(path), "--output", str(out_dir)])
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    line, col = where
    assert lines[0].startswith(f"flatseq: error: {path}:{line}:{col}: "), lines[0]
    assert needle in lines[0]
    assert not out_dir.exists(), "no run may start on bad input"


def test_check_accepts_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for example in sorted(Path("sequences").glob("*.yaml")):
        assert main(["check", str(example)]) == 0, example
    out = capsys.readouterr().out
    assert "accepted brightness window" in out


def test_check_prints_plan_window_duration_and_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "sequences/narrowband.yaml"]) == 0
    out = capsys.readouterr().out
    assert "30 dark-flats at 4s (settings of set 01-Ha-4s)" in out
    assert re.search(r"29491-36045 ADU", out), out  # 45-55 % of 2^16
    assert "estimated duration:" in out and "disk space needed:" in out
