"""The sequence file's shape, as pydantic models. Types and ranges live here; ordering rules live in the
state machine (sequencer.plan.machine), which sees the compiled plan.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sequencer.core.units import INT32_MAX, Duration, Exposure, Fraction, parse_duration
from sequencer.output.filenames import DEFAULT_PATTERN
from sequencer.plan.kinds import StepKind

OnError = Literal["skip_set", "abort"]
Colour = Literal["brightest", "mean", "each"]
AUTO = "auto"
"""`exposure: auto`: the exposure is found at run time, the light held at one level."""
MANUAL_LIGHT = "manual"
"""`panel: manual`: a light switched by hand (a tablet, an EL sheet on a switch, a T-shirt at dusk)."""
SKY_LIGHT = "sky"
"""`panel: sky`: sky flats in twilight; the telescope is uncapped and capped by hand (`sky:` says where and when)."""
DeviceInt = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A gain, offset, readout mode or brightness: what ASCOM carries is a 32-bit integer."""


class Strict(BaseModel):
    """Unknown keys refused; numbers finite (NaN and infinity are never a setting)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EquipmentModel(Strict):
    camera: str
    panel: str
    """An equipment URL, or `manual` for a light the user switches when asked."""
    filter_wheel: str | None = None


class CameraModel(Strict):
    """Settings shared by a flat set and its dark-flats; the run reads them back before the dark-flats."""

    gain: DeviceInt
    offset: DeviceInt
    binning: Annotated[int, Field(ge=1, le=16)] = 1
    readout_mode: DeviceInt | str = 0
    temperature: Annotated[float, Field(ge=-60, le=40)] | None = None
    temperature_tolerance: Annotated[float, Field(gt=0, le=10)] = 1.0
    cooling_timeout: Duration = 900.0


def _target_in_range(v: float) -> float:
    if not 0 < v < 1:
        raise ValueError(f"the target must be above 0% and below 100% of full scale, got {v:.0%}")
    return v


def _tolerance_in_range(v: float) -> float:
    if not 0 < v < 1:
        raise ValueError(f"the tolerance (relative to the target) must be above 0% and below 100%, got {v:.0%}")
    return v


Target = Annotated[Fraction, AfterValidator(_target_in_range)]
Tolerance = Annotated[Fraction, AfterValidator(_tolerance_in_range)]


class BrightnessModel(Strict):
    """Target histogram mean as a fraction of full scale, tolerance relative to it (N.I.N.A.'s meaning)."""

    target: Target = 0.5
    tolerance: Tolerance = 0.1
    max_trials: Annotated[int, Field(ge=1, le=50)] = 12
    colour: Colour = "brightest"
    """A colour camera's level: its brightest Bayer channel, the mean of all pixels (N.I.N.A.'s), or each channel
    within a wider window. Mono cameras have one level and ignore it."""

    @model_validator(mode="after")
    def _window_below_full_scale(self) -> BrightnessModel:
        if saturates(self.target, self.tolerance):
            raise ValueError(
                f"target {self.target:.0%} ± {self.tolerance:.0%} reaches full scale: flats would saturate"
            )
        return self


def saturates(target: float, tolerance: float) -> bool:
    """Whether the window target ± tolerance reaches full scale (its flats would saturate)."""
    return target * (1 + tolerance) >= 1


def _exposure_or_auto(value: Any) -> Any:
    """`auto`, or an exposure above 0 s as durations are written."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; or auto, to find the exposure at run time") from None
    if seconds <= 0:
        raise ValueError("the exposure must be above 0 s (or auto)")
    return seconds


ExposureOrAuto = Annotated[float | Literal["auto"], BeforeValidator(_exposure_or_auto)]


class AutoExposureModel(Strict):
    """Defaults for every `exposure: auto` set: the exposures the search may use, and an optional grid."""

    min: Exposure = 0.1
    max: Exposure = 60.0
    step: Exposure | None = None


class SettleModel(Strict):
    after_light_on: Duration = 3.0
    after_light_off: Duration = 3.0


class OutputModel(Strict):
    directory: str = "~/flats/{date}"
    pattern: str = DEFAULT_PATTERN


def _dark_flat_count(value: Any) -> Any:
    """`dark_flats: 30` or `dark_flats: {count: 30}`; an exposure there is the classic mistake, refused."""
    if isinstance(value, dict):
        if "exposure" in value:
            raise ValueError(
                "a dark-flat takes its exposure from its flat set; remove 'exposure' (dark-flats cannot have their own)"
            )
        extra = set(value) - {"count"}
        if extra:
            raise ValueError(f"unknown key {sorted(extra)[0]!r} in dark_flats (only 'count')")
        return value.get("count")
    return value


class RoiModel(Strict):
    """A region of interest in binned pixels, as the lights were read out (XORGSUBF/YORGSUBF, NAXIS1/NAXIS2)."""

    x: Annotated[int, Field(ge=0, le=1_000_000)]
    y: Annotated[int, Field(ge=0, le=1_000_000)]
    width: Annotated[int, Field(ge=1, le=1_000_000)]
    height: Annotated[int, Field(ge=1, le=1_000_000)]


class LightsModel(Strict):
    """The lights a set was planned for (`flatseq plan` writes it): recorded in the manifest and, for rotation
    and focus, on the frames; flatseq moves no rotator or focuser."""

    key: str
    count: Annotated[int, Field(ge=1, le=10_000_000)]
    instrument: str | None = None
    rotation: Annotated[float, Field(ge=0, lt=360)] | None = None
    focus: float | None = None
    """The focuser position of the last of these lights (the state the flats should see)."""
    focus_range: tuple[float, float] | None = None


class SiteModel(Strict):
    """Where the telescope stands (geodetic, east positive), for the Sun's altitude."""

    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=360)]
    elevation: Annotated[float, Field(ge=-500, le=9000)] = 0.0


class LadderModel(Strict):
    """The exposures sky flats may use: shortest × ratio^k up to the longest."""

    min: Exposure = 0.5
    max: Exposure = 30.0
    ratio: Annotated[float, Field(ge=1.01, le=4)] = 1.25

    @model_validator(mode="after")
    def _not_empty(self) -> LadderModel:
        if self.min > self.max:
            raise ValueError(f"min {self.min:g}s is above max {self.max:g}s: the ladder is empty")
        return self


def _sun_window(value: Any) -> Any:
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        high, low = max(value), min(value)
        if not (-18 <= low < high <= 5):
            raise ValueError(
                f"the window [{value[0]:g}, {value[1]:g}] must lie within 5° and -18°, two altitudes apart"
            )
    return value


class SkyFlatsModel(Strict):
    """Sky flats: the site, which twilight, the Sun's altitudes between which flats are taken, the ladder."""

    site: SiteModel
    when: Literal["dusk", "dawn"] = "dusk"
    sun_altitude: Annotated[tuple[float, float], BeforeValidator(_sun_window)] = (-2.0, -10.0)
    timezone: str | None = None
    """The site's IANA time zone (Europe/Rome): how `--at` without an offset is read; default the zone of the
    site's longitude (UTC + longitude / 15 h, rounded)."""
    exposures: LadderModel = LadderModel()
    dark_flats_per_exposure: Annotated[int, Field(ge=0, le=10000)] = 10

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Europe/Rome)") from None
        return v


class FlatSetModel(Strict):
    filter: str | None = None
    exposure: ExposureOrAuto | None = None
    """Required, but for sky flats (`panel: sky`), whose exposures come from the ladder."""
    count: Annotated[int, Field(gt=0, le=10000)]
    dark_flats: Annotated[int, Field(ge=0, le=10000)] | None = None
    on_error: OnError | None = None
    gain: DeviceInt | None = None
    offset: DeviceInt | None = None
    binning: Annotated[int, Field(ge=1, le=16)] | None = None
    readout_mode: DeviceInt | str | None = None
    brightness: DeviceInt | None = None
    """With `exposure: auto`: the panel's brightness held during the search (default: its top)."""
    min_exposure: Exposure | None = None
    max_exposure: Exposure | None = None
    exposure_step: Exposure | None = None
    roi: RoiModel | None = None
    lights: LightsModel | None = None

    @field_validator("dark_flats", mode="before")
    @classmethod
    def _dark_flats(cls, v: Any) -> Any:
        return _dark_flat_count(v)


class SequenceModel(Strict):
    name: str = "flats"
    equipment: EquipmentModel
    camera: CameraModel
    profile: str | None = None
    """The equipment profile `equipment` and `camera` came from (`sequencer.plan.profiles`), if any."""
    brightness: BrightnessModel = BrightnessModel()
    auto_exposure: AutoExposureModel = AutoExposureModel()
    settle: SettleModel = SettleModel()
    sky: SkyFlatsModel | None = None
    """With `panel: sky`: where and when the sky flats are taken."""
    output: OutputModel = OutputModel()
    on_error: OnError = "skip_set"
    cover_at_end: Literal["closed", "open"] = "closed"
    flat_sets: list[FlatSetModel] | None = None
    steps: list[Any] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SequenceModel:
        if self.flat_sets is None and self.steps is None:
            raise ValueError("give either flat_sets (compact form) or steps (explicit form)")
        if self.flat_sets is not None and self.steps is not None:
            raise ValueError("give flat_sets or steps, not both")
        if self.flat_sets is not None and not self.flat_sets:
            raise ValueError("flat_sets is empty")
        if self.steps is not None and not self.steps:
            raise ValueError("steps is empty")
        return self


# ---- explicit steps: each item is a bare name or a one-key mapping; arguments validated per kind ----


class NoArgs(Strict):
    pass


class LightOnArgs(Strict):
    brightness: DeviceInt | None = None


class FindBrightnessArgs(Strict):
    exposure: Exposure
    target: Target | None = None
    tolerance: Tolerance | None = None


class FindExposureArgs(Strict):
    brightness: DeviceInt | None = None
    min: Exposure | None = None
    max: Exposure | None = None
    step: Exposure | None = None
    target: Target | None = None
    tolerance: Tolerance | None = None


class FlatsArgs(Strict):
    count: Annotated[int, Field(gt=0, le=10000)]
    exposure: Exposure | None = None
    on_error: OnError | None = None


class DarkFlatsArgs(Strict):
    count: Annotated[int, Field(gt=0, le=10000)]

    @model_validator(mode="before")
    @classmethod
    def _no_exposure(cls, v: Any) -> Any:
        if isinstance(v, dict) and "exposure" in v:
            raise ValueError(
                "a dark-flat takes its exposure from its flat set; remove 'exposure' (dark-flats cannot have their own)"
            )
        return v


class SelectFilterArgs(Strict):
    filter: str


class WaitArgs(Strict):
    seconds: Duration


STEP_KINDS: dict[StepKind, type[Strict]] = {
    StepKind.CLOSE_COVER: NoArgs,
    StepKind.OPEN_COVER: NoArgs,
    StepKind.LIGHT_ON: LightOnArgs,
    StepKind.LIGHT_OFF: NoArgs,
    StepKind.SELECT_FILTER: SelectFilterArgs,
    StepKind.WAIT: WaitArgs,
    StepKind.FIND_BRIGHTNESS: FindBrightnessArgs,
    StepKind.FIND_EXPOSURE: FindExposureArgs,
    StepKind.FLATS: FlatsArgs,
    StepKind.DARK_FLATS: DarkFlatsArgs,
}
"""Each step kind's arguments; a new `StepKind` without an entry here fails `tests/plan` at once."""

# A step given a bare value (`wait: 3s`, `select_filter: Ha`, `flats: 30`) fills this argument.
SHORTHAND: dict[StepKind, str] = {
    StepKind.WAIT: "seconds",
    StepKind.SELECT_FILTER: "filter",
    StepKind.FLATS: "count",
    StepKind.DARK_FLATS: "count",
    StepKind.LIGHT_ON: "brightness",
    StepKind.FIND_BRIGHTNESS: "exposure",
}
