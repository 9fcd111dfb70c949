"""The plan: what the state machine runs. Flat sets, the steps that take them, and the plan that holds both.

Nothing here reads YAML (`sequencer.plan.compile` builds a plan from a sequence file) or touches a device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import assert_never

from sequencer.brightness.twilight import Ladder
from sequencer.core.units import format_duration
from sequencer.plan.kinds import StepKind
from sequencer.plan.loader import SequenceFileError, dotted
from sequencer.plan.schema import CameraModel, LightsModel, OnError, OutputModel

__all__ = ["AutoExposure", "FlatSet", "Plan", "SkySetup", "Step", "StepKind", "describe_plan", "plan_error"]


@dataclass(frozen=True)
class SkySetup:
    """Sky flats (`panel: sky`): the site (latitude, longitude in degrees east, elevation in m), the twilight,
    the Sun's altitudes between which flats count (first, last), the exposure ladder, and how many dark-flats
    each exposure the flats used gets."""

    site: tuple[float, float, float]
    when: str
    altitudes: tuple[float, float]
    shortest: float
    longest: float
    ratio: float
    dark_per_exposure: int
    timezone: str | None = None

    @property
    def ladder(self) -> Ladder:
        return Ladder(self.shortest, self.longest, self.ratio)

    def window_text(self) -> str:
        first, last = self.altitudes
        return f"the Sun from {first:g}° to {last:g}° at {self.when}"


@dataclass(frozen=True)
class AutoExposure:
    """An exposure found at run time: the exposures the search may use (within the camera's), an optional
    grid, and the panel brightness held during it (None: the panel's top, or a light switched by hand)."""

    min: float
    max: float
    step: float | None = None
    brightness: int | None = None

    def bounds(self) -> str:
        """ "0.1s-30s", with the grid if any."""
        grid = f" in steps of {format_duration(self.step)}" if self.step is not None else ""
        return f"{format_duration(self.min)}-{format_duration(self.max)}{grid}"

    def describe(self) -> str:
        return f"found at run time ({self.bounds()})"


@dataclass(frozen=True)
class FlatSet:
    """Flats and their dark-flats: one exposure, one filter, one set of camera settings.

    `exposure` is None when it is found at run time (`auto`): the flats and their dark-flats then share the
    exposure the search found, whatever it is.
    """

    id: str
    index: int
    filter: str | None
    exposure: float | None
    count: int
    dark_count: int
    gain: int
    offset: int
    binning: int
    readout_mode: int | str
    temperature: float | None
    temperature_tolerance: float
    target: float
    tolerance: float
    max_trials: int
    on_error: OnError
    fixed_brightness: int | None = None
    auto: AutoExposure | None = None
    colour: str = "brightest"
    """How a colour camera's flats are levelled (`brightness.colour`): brightest, mean or each."""
    line: int = 0
    column: int = 0
    roi: tuple[int, int, int, int] | None = None
    """The region of interest (x, y, width, height in binned pixels) its flats and dark-flats are read out in;
    None: the full frame."""
    lights: LightsModel | None = None
    """The lights this set was planned for (`flatseq plan`), recorded in the manifest."""
    sky: SkySetup | None = None
    """Sky flats: each flat's exposure is a rung of the ladder, chosen as the sky fades or brightens; `auto`
    then holds the ladder's bounds, and `dark_count` is per exposure used."""

    @property
    def label(self) -> str:
        exposure = format_duration(self.exposure) if self.exposure is not None else "sky" if self.sky else "auto"
        return f"{self.filter or 'no filter'} {exposure}"

    def exposure_text(self) -> str:
        """The set's exposure as the plan shows it: "4s", or "the exposure found at run time (0.1s-30s)"."""
        if self.exposure is not None:
            return format_duration(self.exposure)
        if self.sky is not None:
            return "exposures from the ladder " + _ladder_text(self.sky)
        assert self.auto is not None
        return "the exposure " + self.auto.describe()


@dataclass(frozen=True)
class Step:
    """One thing the equipment does. `set_id` ties set work (and, in the compact form, its light and waits)
    to a flat set so a failure can skip exactly the rest of that set."""

    kind: StepKind
    set_id: str | None = None
    filter: str | None = None
    seconds: float | None = None
    brightness: int | None = None
    count: int | None = None
    if_present: bool = False  # cover steps of the compact form: only when the panel has a cover
    purpose: str = ""  # for waits: "settle after light on" / "settle after light off"
    path: tuple[str | int, ...] = ()
    line: int = 0
    column: int = 0
    auto: AutoExposure | None = None
    """For find_exposure, and for the flats and dark-flats of a set whose exposure it finds."""
    sky: SkySetup | None = None
    """For the steps of a sky set: the level is the sky's, each flat's exposure a rung of the ladder."""

    def _seconds(self) -> str:
        if self.seconds is None and self.auto is not None:
            return "the exposure " + self.auto.describe()
        return format_duration(self.seconds or 0)

    def describe(self) -> str:
        """The step as `flatseq check` lists it."""
        match self.kind:
            case StepKind.SELECT_FILTER:
                return f"select filter {self.filter}"
            case StepKind.WAIT:
                return f"wait {format_duration(self.seconds or 0)}" + (f" ({self.purpose})" if self.purpose else "")
            case StepKind.LIGHT_ON if self.sky is not None:
                return "uncap the telescope: the twilight sky is the light (tracking off)"
            case StepKind.LIGHT_ON:
                return "light on" + (f" at brightness {self.brightness}" if self.brightness is not None else "")
            case StepKind.FIND_BRIGHTNESS:
                return f"find brightness at {format_duration(self.seconds or 0)}"
            case StepKind.FIND_EXPOSURE if self.sky is not None:
                return f"find the sky's level (trials on the ladder {_ladder_text(self.sky)})"
            case StepKind.FIND_EXPOSURE:
                assert self.auto is not None
                light = f" at brightness {self.brightness}" if self.brightness is not None else ""
                return f"find the exposure{light} ({self.auto.bounds()})"
            case StepKind.FLATS if self.sky is not None:
                return f"{self.count} sky flats, each exposure from the ladder, while {self.sky.window_text()}"
            case StepKind.FLATS:
                return f"{self.count} flats at {self._seconds()}"
            case StepKind.DARK_FLATS if self.sky is not None:
                return f"{self.count} dark-flats at each exposure its flats used (settings of set {self.set_id})"
            case StepKind.DARK_FLATS:
                seconds = "the exposure found for their flats" if self.auto is not None else self._seconds()
                return f"{self.count} dark-flats at {seconds} (settings of set {self.set_id})"
            case StepKind.CLOSE_COVER | StepKind.OPEN_COVER:
                return self.kind.replace("_", " ") + (" (if the panel has one)" if self.if_present else "")
            case StepKind.LIGHT_OFF if self.sky is not None:
                return "cap the telescope"
            case StepKind.LIGHT_OFF:
                return "light off"
            case _:
                assert_never(self.kind)


@dataclass
class Plan:
    """A compiled sequence: its flat sets and, in order, the steps that take them."""

    name: str
    file: str
    equipment: dict[str, str]
    camera: CameraModel
    output: OutputModel
    sets: dict[str, FlatSet]
    steps: list[Step]
    settle_on: float
    settle_off: float
    warnings: list[str] = field(default_factory=list)
    text: str = ""

    def steps_of(self, set_id: str) -> Iterator[Step]:
        return (s for s in self.steps if s.set_id == set_id)

    def with_equipment(self, equipment: dict[str, str]) -> Plan:
        return replace(self, equipment=dict(equipment))


def _ladder_text(sky: SkySetup) -> str:
    return f"{format_duration(sky.shortest)}-{format_duration(sky.longest)} ×{sky.ratio:g}"


def describe_plan(plan: Plan) -> list[str]:
    """The expanded plan, one line per step, for `flatseq check`."""
    return [f"{i:3d}. {step.describe()}" for i, step in enumerate(plan.steps, 1)]


def plan_error(plan: Plan, step: Step, message: str) -> SequenceFileError:
    """A broken rule, pointed at the step's place in the sequence file."""
    return SequenceFileError(plan.file, step.line, step.column, f"{dotted(step.path)}: {message}")
