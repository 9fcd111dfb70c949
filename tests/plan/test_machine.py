"""The sequence's rules, one by one, each refusing in one line that names the step; the rules' state when the
runner switches the light off outside the plan (a set failed mid-flats); the machine's own states."""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer.plan.compile import load_plan, load_plan_text
from sequencer.plan.kinds import StepKind
from sequencer.plan.loader import SequenceFileError
from sequencer.plan.machine import Sequencer, StepRefused

FLIPFLAT = Path(__file__).parents[2] / "sequences" / "flipflat-steps.yaml"


def _machine_after_flats() -> tuple[Sequencer, list[StepKind]]:
    plan = load_plan(FLIPFLAT)
    machine = Sequencer(plan)
    machine.trigger("prepare")
    kinds = [step.kind for step in plan.steps]
    for step in plan.steps[: kinds.index(StepKind.FLATS) + 1]:
        machine.run_step(step)
    return machine, kinds


def test_a_forced_light_off_means_the_light_is_off_unsettled_and_its_brightness_unknown() -> None:
    machine, kinds = _machine_after_flats()
    assert machine.equipment.light
    machine.light_forced_off()
    eq = machine.equipment
    assert (eq.light, eq.settled, eq.brightness_known) == (False, False, False)
    flats = machine.plan.steps[kinds.index(StepKind.FLATS)]
    with pytest.raises(StepRefused, match="flats with the light off"):
        machine.run_step(flats)


def test_dark_flats_after_a_forced_light_off_still_wait_for_the_afterglow() -> None:
    machine, kinds = _machine_after_flats()
    machine.light_forced_off()
    dark = machine.plan.steps[kinds.index(StepKind.DARK_FLATS)]
    with pytest.raises(StepRefused, match="right after light_off"):
        machine.run_step(dark)
    wait = machine.plan.steps[kinds.index(StepKind.LIGHT_OFF) + 1]
    machine.run_step(wait)
    machine.run_step(dark)
    assert machine.equipment.dark_flats_done == {dark.set_id}


HEAD = """\
name: rules
equipment: {camera: "sim://camera?sensor=small", panel: "sim://panel?cover=1", filter_wheel: "sim://filterwheel"}
camera: {gain: 100, offset: 50}
settle: {after_light_on: 3s, after_light_off: 5s}
steps:
"""
SET = """\
  - close_cover
  - select_filter: Ha
  - light_on
  - wait: 3s
  - find_brightness: {exposure: 4s}
  - flats: {count: 3}
  - light_off
  - wait: 5s
  - dark_flats: {count: 3}
"""


def _refusal(steps: str) -> str:
    with pytest.raises(SequenceFileError) as info:
        load_plan_text(HEAD + steps, "rules.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("steps", "refusal"),
    [
        (
            SET.replace("  - light_off\n  - wait: 5s\n", "") + "  - open_cover\n",
            "rules.yaml:12:5: steps[6]: dark-flats with the light on: add light_off and a wait before them",
        ),
        (
            "  - close_cover\n  - light_on\n  - wait: 3s\n  - open_cover\n",
            "rules.yaml:9:5: steps[3]: open_cover with the light on: add light_off before it",
        ),
        (
            "  - open_cover\n  - light_on\n",
            "rules.yaml:7:5: steps[1]: light_on with the cover open: a flip-flat would light the sky; "
            "close_cover first",
        ),
        (
            SET.replace("  - wait: 3s\n", ""),
            "rules.yaml:9:5: steps[3]: find_brightness right after light_on: add a wait so the panel settles",
        ),
        (
            SET.replace("  - wait: 5s\n", ""),
            "rules.yaml:13:5: steps[7]: dark-flats right after light_off: add a wait so the panel's afterglow fades",
        ),
    ],
    ids=["dark-lit", "open-lit", "lit-open", "unsettled", "afterglow"],
)
def test_each_rule_refuses_in_one_line_naming_the_step(steps: str, refusal: str) -> None:
    assert _refusal(steps) == refusal


def test_the_cover_rules_follow_the_cover_and_the_light() -> None:
    plan = load_plan_text(HEAD + SET + "  - open_cover\n", "rules.yaml")  # dark again: the cover may open
    machine = Sequencer(plan)
    machine.trigger("prepare")
    states, covers = [], []
    for step in plan.steps:
        machine.run_step(step)
        states.append(machine.state)
        covers.append(machine.equipment.cover)
    assert states == [
        "moving_cover", "selecting_filter", "light_on", "settling", "finding_brightness", "capturing_flats",
        "light_off", "settling", "capturing_dark_flats", "moving_cover",
    ]  # fmt: skip
    assert covers == ["closed"] * 9 + ["open"]
    assert machine.equipment.cover == "open" and not machine.equipment.light
    assert machine.equipment.flats_done == machine.equipment.dark_flats_done == {"01-Ha-4s"}
    dark = next(step for step in plan.steps if step.kind is StepKind.DARK_FLATS)
    with pytest.raises(StepRefused, match=r"^set 01-Ha-4s already has its dark-flats$") as info:
        machine.run_step(dark)  # a plan the compiler did not build: the machine still says no
    assert info.value.step is dark


def test_a_wait_shorter_than_the_settle_time_is_a_warning_naming_the_wait() -> None:
    plan = load_plan_text(HEAD + SET.replace("wait: 3s", "wait: 2.5s").replace("wait: 5s", "wait: 4s"), "rules.yaml")
    assert plan.warnings[:2] == [
        "rules.yaml:9:5: wait 2.5s after light on is shorter than settle.after_light_on (3s)",
        "rules.yaml:13:5: wait 4s after light off is shorter than settle.after_light_off (5s)",
    ]
    assert not any("shorter" in w for w in load_plan_text(HEAD + SET, "rules.yaml").warnings)


def test_a_finished_machine_refuses_further_steps_and_ends_only_once() -> None:
    plan = load_plan_text(HEAD + SET, "rules.yaml")
    machine = Sequencer(plan)
    with pytest.raises(StepRefused, match=r"^close_cover is not possible while idle: ") as info:
        machine.run_step(plan.steps[0])
    assert info.value.step is plan.steps[0]
    machine.trigger("prepare")
    machine.trigger("fail")
    assert machine.state == "failed"
    with pytest.raises(StepRefused, match=r"^close_cover is not possible while failed: "):
        machine.run_step(plan.steps[0])
    aborted = Sequencer(plan)
    aborted.trigger("abort")
    assert aborted.state == "aborted"
    never_started = Sequencer(plan)
    never_started.trigger("fail")  # a run refused before its first step
    assert never_started.state == "failed"
    whole = Sequencer(plan)
    whole.trigger("prepare")
    for step in plan.steps:
        whole.run_step(step)
    whole.trigger("finish")
    assert whole.state == "finished"
    assert not hasattr(aborted, "to_finished")  # no shortcut to any state: only the rules' transitions


def test_a_filter_change_after_the_search_forgets_the_brightness() -> None:
    """The compiler already refuses such a file; the machine, the last line of defence, refuses the step too."""
    plan = load_plan_text(HEAD + SET, "rules.yaml")
    machine = Sequencer(plan)
    machine.trigger("prepare")
    kinds = [step.kind for step in plan.steps]
    for step in plan.steps[: kinds.index(StepKind.FIND_BRIGHTNESS) + 1]:
        machine.run_step(step)
    machine.run_step(plan.steps[kinds.index(StepKind.SELECT_FILTER)])
    flats = plan.steps[kinds.index(StepKind.FLATS)]
    with pytest.raises(
        StepRefused, match=r"^flats without a brightness: add find_brightness \(or find_exposure\) before them$"
    ) as info:
        machine.run_step(flats)
    assert info.value.step is flats


def test_the_end_of_a_sequence_is_checked_for_the_light_and_for_flats_without_dark_flats() -> None:
    steps = SET.replace("  - light_off\n  - wait: 5s\n  - dark_flats: {count: 3}\n", "")
    plan = load_plan_text(HEAD + steps, "rules.yaml")
    assert plan.warnings == [
        "rules.yaml: the sequence ends with the light on; flatseq switches it off anyway",
        "rules.yaml:10:5: Ha 4s flats have no dark-flats",  # where the set begins: its search
    ]


def test_a_set_told_to_take_no_dark_flats_is_warned_about_once() -> None:
    text = HEAD.replace("steps:\n", "flat_sets:\n  - {filter: Ha, exposure: 4s, count: 3, dark_flats: 0}\n")
    warnings = [w for w in load_plan_text(text, "rules.yaml").warnings if "dark-flats" in w]
    assert len(warnings) == 1 and warnings[0].endswith("will have no matching dark-flats"), warnings


def test_a_wait_of_nothing_is_warned_as_such() -> None:
    plan = load_plan_text(HEAD + SET.replace("wait: 3s", "wait: 0s"), "rules.yaml")
    assert plan.warnings[0] == "rules.yaml:9:5: wait 0s after light on is shorter than settle.after_light_on (3s)"
