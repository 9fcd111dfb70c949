"""The rules' state when the runner switches the light off outside the plan (a set failed mid-flats)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer.plan.compile import load_plan
from sequencer.plan.kinds import StepKind
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
