"""Flat sets from a sequence file: the file's defaults resolved, filters checked against the wheel, duplicated
sets refused and very short flats warned about. Both forms of sequence file build their sets here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from drivers.errors import ConfigError
from sequencer.brightness.exposuretrials import ExposureRange
from sequencer.plan.loader import Located, SequenceFileError, dotted
from sequencer.plan.model import AutoExposure, FlatSet, SkySetup
from sequencer.plan.schema import MANUAL_LIGHT, SKY_LIGHT, FlatSetModel, OnError, SequenceModel, saturates

SHORT_FLAT_SECONDS = 0.2  # field notes: below this a bias may do; from 0.2 s on, dark-flats
PWM_BANDING_SECONDS = 0.5  # a PWM-dimmed panel integrates too few duty cycles below this

Path = tuple[str | int, ...]


class Pos(TypedDict):
    line: int
    column: int


@dataclass(frozen=True)
class SetRequest:
    """What one place in the file asks of a flat set; unset values come from the file's defaults."""

    filter_name: str | None
    exposure: float | None
    count: int
    dark_count: int
    on_error: OnError | None
    overrides: FlatSetModel | None = None
    target: float | None = None
    tolerance: float | None = None
    fixed_brightness: int | None = None
    auto: AutoExposure | None = None
    """For `exposure: auto` (with `exposure` None): the search's bounds, grid and brightness."""
    sky: SkySetup | None = None
    """For sky flats: the site, the twilight, the ladder (and `auto` the ladder's bounds)."""


class SetBuilder:
    """The flat sets of one sequence file, in file order, and the warnings found while building them."""

    def __init__(self, located: Located, model: SequenceModel, wheel_names: tuple[str, ...] | None) -> None:
        self.located = located
        self.model = model
        self.wheel_names = wheel_names
        self.sets: dict[str, FlatSet] = {}
        self.warnings: list[str] = []
        self._seen: dict[tuple[Any, ...], FlatSet] = {}

    @property
    def manual_light(self) -> bool:
        """`panel: manual`: a light switched by hand, which has neither a brightness nor a cover."""
        return self.model.equipment.panel.strip().lower() in (MANUAL_LIGHT, SKY_LIGHT)

    @property
    def sky_light(self) -> bool:
        """`panel: sky`: sky flats, the telescope uncapped and capped by hand."""
        return self.model.equipment.panel.strip().lower() == SKY_LIGHT

    def pos(self, path: Path) -> Pos:
        line, col = self.located.where(path)
        return {"line": line, "column": col}

    def error(self, path: Path, message: str) -> SequenceFileError:
        return self.located.error(path, message)

    def new_set(self, path: Path, request: SetRequest) -> FlatSet:
        """A new flat set at `path`; refuses a set the file already has and an unknown filter."""
        if request.filter_name is not None:
            self.check_filter(path, request.filter_name)
        elif self.model.equipment.filter_wheel:
            raise self.error(path, f"{dotted(path)}: filter: required when there is a filter wheel")
        if request.auto is not None:
            self._check_auto(path, request.auto)
        fs = self._resolve(path, request)
        if saturates(fs.target, fs.tolerance):  # a step's own target with the file's tolerance, or vice versa
            raise self.error(
                path,
                f"{dotted(path)}: target {fs.target:.0%} ± {fs.tolerance:.0%} reaches full scale: flats would saturate",
            )
        exposure = fs.exposure if fs.auto is None else ("auto", fs.auto.brightness)
        rotation = fs.lights.rotation if fs.lights is not None else None
        key = (fs.filter, exposure, fs.gain, fs.offset, fs.binning, fs.readout_mode, fs.roi, rotation)
        if key in self._seen:
            raise self.error(
                path,
                f"{dotted(path)}: duplicated set: {fs.label} with the same camera settings is already at line "
                f"{self._seen[key].line} (merge the counts instead)",
            )
        self._seen[key] = fs
        self.sets[fs.id] = fs
        self._warn_short(fs)
        return fs

    def _resolve(self, path: Path, request: SetRequest) -> FlatSet:
        cam, bright, over = self.model.camera, self.model.brightness, request.overrides
        line, col = self.located.where(path)
        index = len(self.sets) + 1

        def pick(name: str, default: Any) -> Any:
            value = getattr(over, name) if over is not None else None
            return default if value is None else value

        exposure = f"{request.exposure:g}s" if request.exposure is not None else "sky" if request.sky else "auto"
        return FlatSet(
            id=f"{index:02d}-{request.filter_name or 'nofilter'}-{exposure}",
            index=index,
            filter=request.filter_name,
            exposure=request.exposure,
            count=request.count,
            dark_count=request.dark_count,
            gain=pick("gain", cam.gain),
            offset=pick("offset", cam.offset),
            binning=pick("binning", cam.binning),
            readout_mode=pick("readout_mode", cam.readout_mode),
            temperature=cam.temperature,
            temperature_tolerance=cam.temperature_tolerance,
            target=request.target if request.target is not None else bright.target,
            tolerance=request.tolerance if request.tolerance is not None else bright.tolerance,
            max_trials=bright.max_trials,
            on_error=request.on_error or self.model.on_error,
            fixed_brightness=request.fixed_brightness,
            auto=request.auto,
            colour=bright.colour,
            line=line,
            column=col,
            roi=None if over is None or over.roi is None else (over.roi.x, over.roi.y, over.roi.width, over.roi.height),
            lights=None if over is None else over.lights,
            sky=request.sky,
        )

    def check_filter(self, path: Path, name: str) -> None:
        if not self.model.equipment.filter_wheel:
            raise self.error(path, f"{dotted(path)}: filter {name!r} given but there is no filter_wheel")
        if self.wheel_names is not None and name not in self.wheel_names:
            raise self.error(
                path, f"{dotted(path)}: unknown filter {name!r} for the wheel (it has: {', '.join(self.wheel_names)})"
            )

    def _check_auto(self, path: Path, auto: AutoExposure) -> None:
        """The bounds and grid of an exposure found at run time: a range with a grid point in it."""
        names = ("min", "max", "step") if path[-1] == "find_exposure" else ("min_exposure", "max_exposure")
        if auto.min > auto.max:
            raise self.error(
                path, f"{dotted(path)}: {names[0]} {auto.min:g}s is above {names[1]} {auto.max:g}s: no exposure fits"
            )
        try:
            ExposureRange(auto.min, auto.max, auto.step)
        except ConfigError as exc:
            step = "step" if path[-1] == "find_exposure" else "exposure_step"
            raise self.error(path, f"{dotted(path)}: {step}: {exc}") from None
        if self.manual_light and auto.brightness is not None:
            raise self.error(path, f"{dotted(path)}: brightness: a manual light (panel: manual) has no brightness")

    def _warn_short(self, fs: FlatSet) -> None:
        where = f"{self.located.file}:{fs.line}:{fs.column}"
        if fs.exposure is None:
            return  # found at run time (or sky flats on the ladder): the run notes a short one
        if fs.exposure < SHORT_FLAT_SECONDS:
            self.warnings.append(
                f"{where}: {fs.label} flats are shorter than {SHORT_FLAT_SECONDS:g} s: dark current is negligible "
                "there and a bias may do (the dark-flats are taken anyway)"
            )
        if fs.exposure < PWM_BANDING_SECONDS:
            self.warnings.append(
                f"{where}: {fs.label} is very short for a dimmable (PWM) panel: frames may show banding and "
                "uneven levels; prefer a longer exposure at a lower brightness"
            )
