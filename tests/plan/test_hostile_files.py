"""Hostile sequence files: whatever a file holds, `flatseq check` and `flatseq run` answer with exit 2 and one
line naming file:line:column and the field, never exit 70 or a traceback, and write nothing (no run
directory, no trained table). The YAML limits are measured in a subprocess, where memory is the process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sequencer.cli import main
from tests.support.refusals import one_error_line

HEAD = """\
name: hostile
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50}
"""
ONE_SET = "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3}\n"
LIT = "steps:\n  - select_filter: Ha\n  - light_on\n  - wait: 3s\n"


def with_url(role: str, url: str) -> str:
    old = {"camera": "sim://camera?sensor=small", "panel": "sim://panel", "filter_wheel": "sim://filterwheel"}[role]
    return HEAD.replace(f"{role}: {old}", f"{role}: {url}") + ONE_SET


def billion_laughs(levels: int) -> str:
    lines = ["name: x", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]")
    return "\n".join(lines) + "\n"


LONG_FILTER = "H" * 300
CASES: list[tuple[str, str, tuple[int, int], str]] = [
    # ---- YAML within limits
    ("billion-laughs", billion_laughs(9), (2, 4), "anchor &a is not allowed in a sequence file"),
    ("self-alias", "name: &x [*x]\n", (1, 7), "anchor &x is not allowed"),
    ("alias-of-a-key", HEAD + "settle: {after_light_on: 3s}\n" + ONE_SET.replace("4s", "*four"), (9, 28), "alias"),
    ("merge-key", HEAD + "brightness: {<<: *b}\n" + ONE_SET, (7, 18), "alias *b is not allowed"),
    ("nesting-900", "name: " + "[" * 900 + "]" * 900 + "\n", (1, 70), "nested deeper than 64 levels"),
    ("nesting-65-mappings", "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 70)), (65, 129), "deeper"),
    ("too-many-values", HEAD + "steps: [" + ", ".join(["light_off"] * 6000) + "]\n", (7, 54800), "5000 values"),
    ("bad-date", "name: 2026-13-45\n", (1, 7), "name: '2026-13-45': not a valid timestamp (month must be in 1..12)"),
    ("5000-digit-int", HEAD.replace("gain: 100", "gain: " + "9" * 5000) + ONE_SET, (6, 16), "5000 digits"),
    ("nul-character", "name: a\x00b\n", (1, 8), "character #x0000 is not allowed"),
    ("newline-in-a-key", HEAD + '"col\\nour": red\n' + ONE_SET, (7, 1), "col\\nour: unknown key"),
    # ---- output.pattern and output.directory
    ("pattern-dotdot", HEAD + 'output: {pattern: "../{kind}_{n}"}\n' + ONE_SET, (7, 19), "'..' path component"),
    ("pattern-absolute", HEAD + 'output: {pattern: "/etc/{kind}_{n}"}\n' + ONE_SET, (7, 19), "must be relative"),
    ("pattern-placeholder", HEAD + 'output: {pattern: "{kind}_{n}_{x}"}\n' + ONE_SET, (7, 19), "unknown placeholder"),
    ("pattern-width", HEAD + 'output: {pattern: "{kind}_{n:0300d}"}\n' + ONE_SET, (7, 19), "a width of 300"),
    (
        "pattern-name-too-long",
        HEAD + f'output: {{pattern: "{{kind}}_{{n}}_{"x" * 240}"}}\n' + ONE_SET,
        (7, 19),
        "the filesystem takes at most 240 there",
    ),
    (
        "filter-name-too-long-for-a-directory",
        with_url("filter_wheel", f"sim://filterwheel?filters=L,{LONG_FILTER}").replace(
            "filter: Ha", f"filter: {LONG_FILTER}"
        ),
        (8, 5),
        "output.pattern: file-name pattern '{set}/{folder}/{kind}_{filter}_{exposure}s_{n:03d}.fits': the name '01-HH",
    ),
    (
        "pattern-control-character",
        HEAD + 'output: {pattern: "{kind}\\t{n}"}\n' + ONE_SET,
        (7, 19),
        "control characters",
    ),
    (
        "directory-placeholder",
        HEAD + 'output: {directory: "/tmp/{night}"}\n' + ONE_SET,
        (7, 21),
        "{night} is not allowed",
    ),
    ("directory-nul", HEAD + 'output: {directory: "/tmp/a\\0b"}\n' + ONE_SET, (7, 21), "control characters"),
    ("directory-name-too-long", HEAD + f"output: {{directory: /tmp/{'d' * 300}}}\n" + ONE_SET, (7, 21), "300 bytes"),
    # ---- numbers: finite, and within what a sequence may sensibly ask for
    ("exposure-1e9", HEAD + ONE_SET.replace("4s", "1e9s"), (8, 28), "'1e9s' is longer than 1h00m"),
    ("exposure-infinite", HEAD + ONE_SET.replace("4s", ".inf"), (8, 28), "a duration must be finite"),
    ("wait-2h", HEAD + "settle: {after_light_on: 2h}\n" + ONE_SET, (7, 26), "longer than 1h00m"),
    ("temperature-nan", HEAD.replace("offset: 50}", "offset: 50, temperature: .nan}") + ONE_SET, (6, 46), "finite"),
    (
        "find-brightness-target-zero",
        HEAD + LIT + "  - find_brightness: {exposure: 4s, target: 0%}\n",
        (11, 45),
        "steps[3].find_brightness.target: the target must be above 0% and below 100% of full scale",
    ),
    (
        "find-brightness-window-saturates",
        HEAD + "brightness: {tolerance: 30%}\n" + LIT + "  - find_brightness: {exposure: 4s, target: 80%}\n",
        (12, 5),
        "steps[3].find_brightness: target 80% ± 30% reaches full scale: flats would saturate",
    ),
    ("gain-beyond-32-bits", HEAD.replace("gain: 100", "gain: 99999999999") + ONE_SET, (6, 16), "2147483647"),
    # ---- equipment URLs: refused by their scheme as opening them would
    (
        "sim-readout-1e300",
        with_url("camera", "sim://camera?readout=1e300"),
        (3, 11),
        "readout='1e300': must be between",
    ),
    ("sim-readout-nan", with_url("camera", "sim://camera?readout=nan"), (3, 11), "readout='nan': expected a finite"),
    ("sim-flux-inf", with_url("panel", "sim://panel?flux=inf"), (4, 10), "flux='inf': expected a finite number"),
    ("sim-negative-seed", with_url("camera", "sim://camera?seed=-1"), (3, 11), "seed='-1': expected an integer"),
    ("sim-unknown-sensor", with_url("camera", "sim://camera?sensor=huge"), (3, 11), "unknown sim sensor 'huge'"),
    ("sim-unknown-device", with_url("panel", "sim://toaster"), (4, 10), "unknown sim device 'toaster'"),
    ("sim-unknown-option", with_url("panel", "sim://panel?colour=red"), (4, 10), "unknown sim option 'colour'"),
    ("url-unclosed-bracket", with_url("panel", "sim://[panel"), (4, 10), "is malformed: Invalid IPv6 URL"),
    ("alpaca-port", with_url("panel", "alpaca://h:99999/covercalibrator/0"), (4, 10), "has an invalid port"),
    ("alpaca-unicode-number", with_url("panel", "alpaca://h/covercalibrator/²"), (4, 10), "expected alpaca://"),
    ("alpaca-timeout-inf", with_url("panel", "alpaca://h/covercalibrator/0?timeout=inf"), (4, 10), "positive"),
    ("alnitak-baud", with_url("panel", "alnitak:///dev/ttyACM0?baud=fast"), (4, 10), "baud='fast' is not a int"),
    ("alnitak-timeout-nan", with_url("panel", "alnitak:///dev/ttyACM0?timeout=nan"), (4, 10), "must be a finite"),
    ("emulator-motor-inf", with_url("panel", "alnitak+emulator://?motor_time=inf"), (4, 10), "must be a finite"),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(("name", "text", "where", "needle"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_file_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    text: str,
    where: tuple[int, int],
    needle: str,
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "out"
    argv = ["check", str(path)] if command == "check" else ["run", str(path), "--dry-run", "-o", str(out_dir)]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    error = one_error_line(captured)
    line, col = where
    assert error.startswith(f"flatseq: error: {path}:{line}:{col}: "), error
    assert needle in error, error
    assert not out_dir.exists(), "no run may start on bad input"
    assert not any(Path(os.environ["FLATSEQ_DATA_DIR"]).iterdir()), "the trained table is not touched"


def test_a_file_over_1_mb_is_refused_unread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("name: " + "x" * 1_000_000 + "\n")
    assert main(["check", str(path)]) == 2
    assert (
        capsys.readouterr().err
        == f"flatseq: error: {path}:1:1: larger than 1 MB: not a sequence file (they are a few kB)\n"
    )


def test_not_utf8_names_the_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + "name2: caf\u00e9\n".encode("latin-1"))
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err == f"flatseq: error: {path}:7:11: not UTF-8 text (save the file as UTF-8)\n"


def test_an_unreadable_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"flatseq: error: {tmp_path}: cannot read the sequence file: Is a directory\n"


MEASURE = textwrap.dedent(
    """
    import contextlib, io, json, resource, sys, time, tracemalloc
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a regression dies here, not the machine
    from sequencer.cli import main
    with contextlib.redirect_stderr(io.StringIO()):
        main(["check", sys.argv[1]])  # everything imported: what follows is the file's own cost
    err = io.StringIO()
    tracemalloc.start()
    started = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = main(["check", sys.argv[1]])
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"code": code, "peak": peak, "seconds": seconds, "err": err.getvalue()}))
    """
)


def measure(path: str) -> dict[str, object]:
    """`flatseq check PATH` in a fresh interpreter limited to 1 GiB of address space: exit code, stderr and
    the peak of Python's allocations while checking."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, path], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("levels", [7, 9])
def test_billion_laughs_is_refused_in_a_few_mb(tmp_path: Path, levels: int) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(levels))
    result = measure(str(path))
    assert result["code"] == 2
    assert result["err"] == f"flatseq: error: {path}:2:4: anchor &a is not allowed in a sequence file " + (
        "(anchors and aliases are refused; write the value out)\n"
    )
    assert isinstance(result["peak"], int) and result["peak"] < 100_000_000  # measured: about 1 MB


def test_dev_zero_is_refused_after_reading_1_mb() -> None:
    result = measure("/dev/zero")
    assert result["code"] == 2
    assert result["err"] == "flatseq: error: /dev/zero:1:1: larger than 1 MB: not a sequence file (they are a few kB)\n"
    assert isinstance(result["peak"], int) and result["peak"] < 10_000_000  # 1 MB + 1 byte read, no more
