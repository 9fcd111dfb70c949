"""`exposure: auto` and `find_exposure`: the plan they compile to, what `flatseq check` says of an exposure found
at run time (that it is, and its bounds), and the refusals (one line naming file:line:column and the field,
exit 2, nothing written), `panel: manual` among them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer.cli import main
from sequencer.plan.compile import load_plan_text
from sequencer.plan.kinds import StepKind
from tests.support.refusals import one_error_line

HEAD = """\
name: test
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel?dimmable=0
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50}
"""
MANUAL = HEAD.replace("sim://panel?dimmable=0", "manual")
COMPACT = HEAD + "flat_sets:\n  - {filter: L, exposure: auto, count: 3}\n  - {filter: Ha, exposure: auto, count: 3}\n"
EXPLICIT = (
    HEAD
    + """\
steps:
  - select_filter: Ha
  - light_on: {brightness: 200}
  - wait: 3s
  - find_exposure: {min: 0.5s, max: 20s, step: 0.1s}
  - flats: {count: 3}
  - light_off
  - wait: 3s
  - dark_flats: {count: 3}
"""
)


def test_compact_auto_sets_search_the_exposure_and_bind_their_dark_flats() -> None:
    plan = load_plan_text(COMPACT + "auto_exposure: {min: 0.2s, max: 40s}\n", "auto.yaml")
    (first, second) = plan.sets.values()
    assert (first.id, first.exposure, first.label) == ("01-L-auto", None, "L auto")
    assert first.auto is not None and (first.auto.min, first.auto.max, first.auto.step) == (0.2, 40.0, None)
    kinds = [s.kind for s in plan.steps if s.set_id == first.id]
    assert kinds == [
        StepKind.SELECT_FILTER, StepKind.LIGHT_ON, StepKind.WAIT, StepKind.FIND_EXPOSURE, StepKind.FLATS,
        StepKind.LIGHT_OFF, StepKind.WAIT, StepKind.DARK_FLATS,
    ]  # fmt: skip
    dark = next(s for s in plan.steps if s.kind is StepKind.DARK_FLATS and s.set_id == second.id)
    assert dark.seconds is None and dark.auto == second.auto
    assert "dark-flats at the exposure found for their flats (settings of set 02-Ha-auto)" in dark.describe()


def test_a_set_overrides_the_defaults_and_holds_a_brightness() -> None:
    text = HEAD.replace("?dimmable=0", "") + (
        "auto_exposure: {min: 0.1s, max: 30s, step: 0.1s}\n"
        "flat_sets:\n  - {filter: L, exposure: auto, count: 3, brightness: 40, max_exposure: 5s}\n"
    )
    plan = load_plan_text(text, "auto.yaml")
    (fs,) = plan.sets.values()
    assert fs.auto is not None and (fs.auto.min, fs.auto.max, fs.auto.step, fs.auto.brightness) == (0.1, 5.0, 0.1, 40)
    light_on = next(s for s in plan.steps if s.kind is StepKind.LIGHT_ON)
    assert light_on.brightness == 40
    find = next(s for s in plan.steps if s.kind is StepKind.FIND_EXPOSURE)
    assert find.describe() == "find the exposure at brightness 40 (0.1s-5s in steps of 0.1s)"


def test_explicit_find_exposure_opens_a_set_at_the_light_on_brightness() -> None:
    plan = load_plan_text(EXPLICIT, "steps.yaml")
    (fs,) = plan.sets.values()
    assert fs.exposure is None and fs.auto is not None
    assert (fs.auto.min, fs.auto.max, fs.auto.step, fs.auto.brightness) == (0.5, 20.0, 0.1, 200)
    assert fs.count == 3 and fs.dark_count == 3


def test_check_says_the_exposure_is_found_at_run_time_and_gives_the_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "auto.yaml"
    path.write_text(COMPACT + "auto_exposure: {min: 0.5s, max: 20s, step: 0.1s}\n")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "find the exposure (0.5s-20s in steps of 0.1s)" in out
    assert "3 flats at the exposure found at run time (0.5s-20s in steps of 0.1s)" in out
    assert "2 set(s) find their exposure at run time (the estimate takes the middle of each range; between" in out
    assert "01-L-auto          exposure 0.5s-20s in steps of 0.1s; its dark-flats take the exposure found" in out


def test_the_example_sequences_check(capsys: pytest.CaptureFixture[str]) -> None:
    for example in ("sequences/switch-only.yaml", "sequences/manual.yaml"):
        assert main(["check", example]) == 0, example
    out = capsys.readouterr().out
    assert "panel manual" in out and "panel sim://panel?dimmable=0" in out


SET = "flat_sets:\n  - {filter: L, exposure: %s, count: 3}\n"
CASES: list[tuple[str, str, tuple[int, int], str]] = [
    ("not-a-duration", HEAD + SET % "soon", (8, 27), "flat_sets[0].exposure: expected a duration such as 4s, 1.5"),
    ("min-above-max", HEAD + SET % "auto, min_exposure: 5s, max_exposure: 1s", (8, 5), "min_exposure 5s is above"),
    ("max-over-an-hour", HEAD + SET % "auto, max_exposure: 2h", (8, 47), "max_exposure: '2h' is longer than 1h00m"),
    (
        "step-off-the-range",
        HEAD + SET % "auto, min_exposure: 0.1s, max_exposure: 0.3s, exposure_step: 0.4s",
        (8, 5),
        "exposure_step: no multiple of the exposure step 0.4 s lies within 0.1-0.3 s",
    ),
    ("brightness-fixed-exposure", HEAD + SET % "2s, brightness: 40", (8, 31), "brightness: only with exposure: auto"),
    ("step-fixed-exposure", HEAD + SET % "2s, exposure_step: 0.1s", (8, 31), "flat_sets[0].exposure_step: only with"),
    ("manual-fixed-exposure", MANUAL + SET % "2s", (8, 17), "exposure: a manual light (panel: manual) cannot"),
    ("manual-brightness", MANUAL + SET % "auto, brightness: 9", (8, 5), "brightness: a manual light"),
    (
        "manual-find-brightness",
        MANUAL + "steps:\n  - select_filter: L\n  - light_on\n  - wait: 3s\n  - find_brightness: {exposure: 1s}\n",
        (11, 5),
        "steps[3].find_brightness: a manual light (panel: manual) cannot be dimmed: use find_exposure",
    ),
    (
        "manual-light-on-brightness",
        MANUAL + "steps:\n  - select_filter: L\n  - light_on: {brightness: 3}\n",
        (9, 16),
        "steps[1].light_on.brightness: a manual light (panel: manual) has no brightness",
    ),
    (
        "exposure-after-find-exposure",
        EXPLICIT.replace("flats: {count: 3}", "flats: {count: 3, exposure: 2s}"),
        (12, 23),
        "steps[4].flats.exposure: the exposure is found by find_exposure above; remove it",
    ),
    (
        "find-exposure-unknown-key",
        EXPLICIT.replace("step: 0.1s", "stride: 0.1s"),
        (11, 42),
        "find_exposure.stride: unknown key",
    ),
    (
        "find-exposure-light-off",
        EXPLICIT.replace("  - light_on: {brightness: 200}\n  - wait: 3s\n", ""),
        (9, 5),
        "steps[1]: find_exposure with the light off",
    ),
    (
        "find-exposure-unsettled",
        EXPLICIT.replace("  - wait: 3s\n  - find_exposure", "  - find_exposure"),
        (10, 5),
        "steps[2]: find_exposure right after light_on",
    ),
    (
        "find-exposure-without-flats",
        EXPLICIT.replace("  - flats: {count: 3}\n", "").replace("  - dark_flats: {count: 3}\n", ""),
        (7, 1),
        "steps: find_exposure for Ha auto (line 11) is not followed by flats",
    ),
    (
        "duplicated-auto-set",
        HEAD + "flat_sets:\n  - {filter: L, exposure: auto, count: 3}\n  - {filter: L, exposure: auto, count: 2}\n",
        (9, 5),
        "duplicated set: L auto with the same camera settings is already at line 8",
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_auto_exposure_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, where: tuple[int, int], needle: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    out_dir = tmp_path / "out"
    assert main(["run", str(path), "--output", str(out_dir)]) == 2
    error = one_error_line(capsys.readouterr())
    line, col = where
    assert error.startswith(f"flatseq: error: {path}:{line}:{col}: "), error
    assert needle in error, error
    assert not out_dir.exists()


def test_auto_exposure_outside_the_camera_is_refused_before_any_light(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The small simulated camera exposes at most 3600 s and at least 32 µs: a range below that is refused once
    the camera says so, with nothing lit and nothing written."""
    path = tmp_path / "tiny.yaml"
    tiny = "min_exposure: 0.00001, max_exposure: 0.00002"
    text = HEAD + "flat_sets:\n  - {filter: L, exposure: auto, count: 3, " + tiny + "}\n"
    path.write_text(text)
    assert main(["run", str(path), "--dry-run", "--output", str(tmp_path / "out")]) == 2
    error = one_error_line(capsys.readouterr())
    assert error.startswith(f"flatseq: error: {path}:8:5: the exposures the search may use (1e-05-2e-05s) leave none")
