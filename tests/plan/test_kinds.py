"""Every step kind is known everywhere a step kind is looked up by name."""

from __future__ import annotations

from sequencer.plan.kinds import StepKind
from sequencer.plan.machine import STEP_STATES
from sequencer.plan.schema import STEP_KINDS


def test_every_step_kind_has_arguments_and_a_state() -> None:
    assert set(STEP_KINDS) == set(StepKind)
    assert set(STEP_STATES) == set(StepKind)


def test_step_kinds_are_the_names_sequence_files_use() -> None:
    assert [kind.value for kind in StepKind] == [
        "close_cover", "open_cover", "select_filter", "light_on", "wait",
        "find_brightness", "find_exposure", "flats", "light_off", "dark_flats",
    ]  # fmt: skip
