"""The state machine: one trigger per step kind, guards from the field notes, strictly one step at a time.

Run over a plan with no executor, it is the validator (`flatseq check`); run with an executor, it drives
the equipment. Either way the same rules refuse flats with the light off, dark-flats with the light on,
dark-flats with no flat set before them, and dark-flats during the panel's afterglow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, assert_never

from transitions import EventData, Machine, MachineError

from drivers.errors import FlatseqError
from sequencer.plan.kinds import StepKind
from sequencer.plan.model import Plan, Step, plan_error

STEP_STATES: dict[StepKind, str] = {
    StepKind.CLOSE_COVER: "moving_cover",
    StepKind.OPEN_COVER: "moving_cover",
    StepKind.SELECT_FILTER: "selecting_filter",
    StepKind.LIGHT_ON: "light_on",
    StepKind.WAIT: "settling",
    StepKind.FIND_BRIGHTNESS: "finding_brightness",
    StepKind.FIND_EXPOSURE: "finding_exposure",
    StepKind.FLATS: "capturing_flats",
    StepKind.LIGHT_OFF: "light_off",
    StepKind.DARK_FLATS: "capturing_dark_flats",
}
"""The state each step kind puts the machine in: what the equipment is doing meanwhile."""
TERMINAL: list[Any] = ["finished", "aborted", "failed"]
ACTIVE: list[Any] = ["preparing", *dict.fromkeys(STEP_STATES.values())]
STATES: list[Any] = ["idle", *ACTIVE, *TERMINAL]


class StepRefused(FlatseqError):
    """A step breaks a rule of the sequence (e.g. flats with the light off)."""

    def __init__(self, step: Step, message: str) -> None:
        self.step = step
        super().__init__(message)


class StepExecutor(Protocol):
    """Does a step's device work. Raises to stop the step; the runner decides what happens to the set."""

    def execute(self, step: Step) -> None: ...


@dataclass
class EquipmentState:
    """What the rules need to know: the light, whether it has settled since it changed, the flat sets done."""

    light: bool = False
    settled: bool = True
    brightness_known: bool = False
    cover: str | None = None
    filter: str | None = None
    flats_done: set[str] = field(default_factory=set)
    dark_flats_done: set[str] = field(default_factory=set)
    last_wait: float = 0.0


class Sequencer:
    """The model `transitions` drives; `state` is what the equipment is doing."""

    state: str
    trigger: Callable[..., bool]  # added by transitions

    def __init__(self, plan: Plan, executor: StepExecutor | None = None) -> None:
        self.plan = plan
        self.executor = executor
        self.equipment = EquipmentState()
        self.warnings: list[str] = []
        self.machine = Machine(
            model=self,
            states=STATES,
            initial="idle",
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        self.machine.add_transition("prepare", "idle", "preparing")
        for kind, dest in STEP_STATES.items():
            self.machine.add_transition(kind.value, ACTIVE, dest, before="check_rules", after="do_step")
        self.machine.add_transition("finish", ACTIVE, "finished")
        self.machine.add_transition("abort", ["idle", *ACTIVE], "aborted")
        self.machine.add_transition("fail", ["idle", *ACTIVE], "failed")

    # ---- driving ----

    def run_step(self, step: Step) -> None:
        try:
            self.trigger(step.kind.value, step=step)
        except MachineError as exc:
            raise StepRefused(step, f"{step.kind} is not possible while {self.state}: {exc.value}") from None

    def light_forced_off(self) -> None:
        """The runner switched the light off outside the plan (a set failed): the rules must know."""
        self.equipment.light = False
        self.equipment.settled = False
        self.equipment.brightness_known = False

    # ---- callbacks (transitions calls them by name) ----

    def check_rules(self, event: EventData) -> None:
        step: Step = event.kwargs["step"]
        eq = self.equipment
        match step.kind:
            case StepKind.OPEN_COVER:
                if eq.light:
                    self._refuse(step, "open_cover with the light on: add light_off before it")
            case StepKind.LIGHT_ON:
                if eq.cover == "open":
                    self._refuse(
                        step, "light_on with the cover open: a flip-flat would light the sky; close_cover first"
                    )
            case StepKind.FIND_BRIGHTNESS | StepKind.FIND_EXPOSURE | StepKind.FLATS:
                self._check_lit(step)
            case StepKind.DARK_FLATS:
                self._check_dark(step)
            case StepKind.CLOSE_COVER | StepKind.SELECT_FILTER | StepKind.WAIT | StepKind.LIGHT_OFF:
                pass  # always allowed
            case _:
                assert_never(step.kind)

    def _check_lit(self, step: Step) -> None:
        eq, what = self.equipment, step.kind.value
        if not eq.light:
            self._refuse(step, f"{what} with the light off: add light_on (and a wait) before them")
        if not eq.settled:
            self._refuse(step, f"{what} right after light_on: add a wait so the panel settles")
        if step.kind is StepKind.FLATS and not eq.brightness_known:
            self._refuse(step, "flats without a brightness: add find_brightness (or find_exposure) before them")

    def _check_dark(self, step: Step) -> None:
        eq = self.equipment
        if step.set_id is None:
            self._refuse(step, "dark-flats with no flat set before them: dark-flats copy their flats' settings")
        if eq.light:
            self._refuse(step, "dark-flats with the light on: add light_off and a wait before them")
        if not eq.settled:
            self._refuse(step, "dark-flats right after light_off: add a wait so the panel's afterglow fades")
        if step.set_id in eq.dark_flats_done:
            self._refuse(step, f"set {step.set_id} already has its dark-flats")

    def do_step(self, event: EventData) -> None:
        step: Step = event.kwargs["step"]
        if self.executor is not None:
            self.executor.execute(step)
        self._after(step)

    # ---- effects on the rules' state ----

    def _after(self, step: Step) -> None:
        eq = self.equipment
        match step.kind:
            case StepKind.LIGHT_ON:
                eq.light, eq.settled, eq.brightness_known = True, False, step.brightness is not None
            case StepKind.LIGHT_OFF:
                eq.light, eq.settled, eq.brightness_known = False, False, False
            case StepKind.WAIT:
                self._check_settle(step)
                eq.settled = True
            case StepKind.FIND_BRIGHTNESS | StepKind.FIND_EXPOSURE:
                eq.brightness_known = True  # the level of the flats is known: by its brightness, or its exposure
            case StepKind.FLATS:
                assert step.set_id is not None
                eq.flats_done.add(step.set_id)
            case StepKind.DARK_FLATS:
                assert step.set_id is not None
                eq.dark_flats_done.add(step.set_id)
            case StepKind.SELECT_FILTER:
                eq.filter, eq.brightness_known = step.filter, False
            case StepKind.CLOSE_COVER:
                eq.cover = "closed"
            case StepKind.OPEN_COVER:
                eq.cover = "open"
            case _:
                assert_never(step.kind)

    def _check_settle(self, step: Step) -> None:
        if self.equipment.settled:
            return
        wanted = self.plan.settle_on if self.equipment.light else self.plan.settle_off
        seconds = step.seconds or 0.0
        if seconds < wanted:
            which = "on" if self.equipment.light else "off"
            self.warnings.append(
                f"{self.plan.file}:{step.line}:{step.column}: wait {seconds:g}s after light {which} is shorter than "
                f"settle.after_light_{which} ({wanted:g}s)"
            )

    def _refuse(self, step: Step, message: str) -> None:
        raise StepRefused(step, message)


def validate_plan(plan: Plan) -> list[str]:
    """Run the plan through the machine with no devices. Raises SequenceFileError at the first broken rule;
    adds the machine's warnings to the plan's."""
    machine = Sequencer(plan)
    machine.trigger("prepare")
    for step in plan.steps:
        try:
            machine.run_step(step)
        except StepRefused as exc:
            raise plan_error(plan, exc.step, str(exc)) from None
    eq = machine.equipment
    if eq.light:
        machine.warnings.append(f"{plan.file}: the sequence ends with the light on; flatseq switches it off anyway")
    for set_id, fs in plan.sets.items():
        if (
            set_id not in eq.dark_flats_done
            and fs.dark_count == 0
            and not any(w.endswith("will have no matching dark-flats") and fs.label in w for w in plan.warnings)
        ):
            machine.warnings.append(f"{plan.file}:{fs.line}:{fs.column}: {fs.label} flats have no dark-flats")
    machine.trigger("finish")
    plan.warnings.extend(machine.warnings)
    return machine.warnings


def state_names() -> list[str]:
    return list(STATES)
