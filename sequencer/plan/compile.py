"""Compile a sequence file into the plan: a flat list of Steps, defaults resolved, every dark-flat step bound
to its flat set. Nothing below the plan reads YAML; nothing here touches a device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from drivers.registry import default_registry, query_options, scheme_of
from sequencer.core.units import format_duration
from sequencer.plan.loader import Located, SequenceFileError, dotted, load_file, load_text
from sequencer.plan.schema import SHORTHAND, STEP_KINDS, CameraModel, FlatSetModel, OnError, OutputModel, SequenceModel

_M = TypeVar("_M", bound=BaseModel)


class _Pos(TypedDict):
    line: int
    column: int


SIM_DEFAULT_FILTERS = ("L", "R", "G", "B", "Ha", "OIII", "SII")
SHORT_FLAT_SECONDS = 0.2  # field notes: below this a bias may do; from 0.2 s on, dark-flats
PWM_BANDING_SECONDS = 0.5  # a PWM-dimmed panel integrates too few duty cycles below this


@dataclass(frozen=True)
class FlatSet:
    """Flats and their dark-flats: one exposure, one filter, one set of camera settings."""

    id: str
    index: int
    filter: str | None
    exposure: float
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
    line: int = 0
    column: int = 0

    @property
    def label(self) -> str:
        return f"{self.filter or 'no filter'} {format_duration(self.exposure)}"


@dataclass(frozen=True)
class Step:
    """One thing the equipment does. `set_id` ties set work (and, in the compact form, its light and waits)
    to a flat set so a failure can skip exactly the rest of that set."""

    kind: str
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

    def describe(self) -> str:
        match self.kind:
            case "select_filter":
                return f"select filter {self.filter}"
            case "wait":
                return f"wait {format_duration(self.seconds or 0)}" + (f" ({self.purpose})" if self.purpose else "")
            case "light_on":
                return "light on" + (f" at brightness {self.brightness}" if self.brightness is not None else "")
            case "find_brightness":
                return f"find brightness at {format_duration(self.seconds or 0)}"
            case "flats":
                return f"{self.count} flats at {format_duration(self.seconds or 0)}"
            case "dark_flats":
                seconds = format_duration(self.seconds or 0)
                return f"{self.count} dark-flats at {seconds} (settings of set {self.set_id})"
            case "close_cover" | "open_cover":
                return self.kind.replace("_", " ") + (" (if the panel has one)" if self.if_present else "")
            case _:
                return self.kind.replace("_", " ")


@dataclass
class Plan:
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


def load_plan(path: str | Path) -> Plan:
    """Read, validate and compile a sequence file; every error names file:line:column and the field."""
    located = load_file(path)
    return compile_located(located, Path(path).read_text(encoding="utf-8"))


def load_plan_text(text: str, file: str = "<string>") -> Plan:
    return compile_located(load_text(text, file), text)


def compile_located(located: Located, text: str = "") -> Plan:
    if not isinstance(located.data, dict):
        raise located.error((), "a sequence file must be a mapping of keys (name, equipment, camera, ...)")
    model = validate(located, SequenceModel, located.data, ())
    _check_equipment(located, model)
    compiler = _Compiler(located, model)
    steps = compiler.compile()
    plan = Plan(
        name=model.name,
        file=located.file,
        equipment={k: v for k, v in model.equipment.model_dump().items() if v},
        camera=model.camera,
        output=model.output,
        sets=compiler.sets,
        steps=steps,
        settle_on=model.settle.after_light_on,
        settle_off=model.settle.after_light_off,
        warnings=compiler.warnings,
        text=text,
    )
    from sequencer.plan.machine import validate_plan  # the machine imports plan types

    validate_plan(plan)
    return plan


def validate(located: Located, model: type[_M], data: Any, base: tuple[str | int, ...]) -> _M:
    """pydantic validation with the first error turned into file:line:column: field: message."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _first_error(located, exc, base) from None


def _first_error(located: Located, exc: ValidationError, base: tuple[str | int, ...]) -> SequenceFileError:
    err = exc.errors(include_url=False)[0]
    loc = (*base, *err["loc"])
    known = _known_prefix(located, loc)
    kind = err["type"]
    message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        key = loc[len(known)] if len(loc) > len(known) else loc[-1]
        line, col = located.where((*known, key)) if (*known, key) in located.marks else located.where(known)
        allowed = _allowed_keys(model_at(exc), loc)
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return SequenceFileError(located.file, line, col, f"{dotted(loc)}: unknown key{hint}")
    if kind == "missing":
        line, col = located.where(known)
        return SequenceFileError(located.file, line, col, f"{dotted(loc)}: missing required key")
    line, col = located.where(known, value=True)
    value = err.get("input")
    shown = f" (got {value!r})" if kind.endswith(("_type", "_parsing")) and not isinstance(value, dict | list) else ""
    return SequenceFileError(located.file, line, col, f"{dotted(known) if known else dotted(loc)}: {message}{shown}")


def model_at(exc: ValidationError) -> str:
    return exc.title


def _allowed_keys(title: str, loc: Sequence[str | int]) -> list[str]:
    """Keys the model at `loc` accepts, for "unknown key" hints."""
    candidates: list[type[BaseModel]] = [SequenceModel, FlatSetModel, *STEP_KINDS.values()]
    model: Any = {m.__name__: m for m in candidates}.get(title)
    if model is None:
        return []
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fld = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if fld is None:
            return []
        ann = fld.annotation
        inner = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not inner:
            # list[FlatSetModel] | None
            for a in getattr(ann, "__args__", ()):
                inner += [b for b in getattr(a, "__args__", ()) if isinstance(b, type) and issubclass(b, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _known_prefix(located: Located, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    key = tuple(loc)
    while key and key not in located.marks:
        key = key[:-1]
    return key


def _check_equipment(located: Located, model: SequenceModel) -> None:
    registry = default_registry()
    for role, url in model.equipment.model_dump().items():
        if not url:
            continue
        path = ("equipment", role)
        try:
            scheme = scheme_of(url)
        except Exception as exc:  # ConfigError: no scheme
            raise located.error(path, f"equipment.{role}: {exc}") from None
        if scheme not in registry.schemes():
            raise located.error(
                path,
                f"equipment.{role}: unknown equipment scheme {scheme!r} in {url!r} "
                f"(known: {', '.join(registry.schemes())})",
            )


def static_filter_names(url: str | None) -> list[str] | None:
    """A wheel's filter names when they are known without touching it (simulated wheels)."""
    if not url or scheme_of(url) != "sim":
        return None
    filters = query_options(url).get("filters")
    return [f.strip() for f in filters.split(",") if f.strip()] if filters else list(SIM_DEFAULT_FILTERS)


def is_simulated(url: str) -> bool:
    """sim:// devices and in-run protocol emulators (alnitak+emulator://) need no hardware."""
    return scheme_of(url) == "sim" or url.split("://", 1)[0].lower().endswith("+emulator")


def panel_may_have_cover(url: str) -> bool:
    host = urlsplit(url).netloc
    return scheme_of(url) != "sim" or query_options(url).get("cover", "0") not in ("0", "", "false") or not host


class _Compiler:
    def __init__(self, located: Located, model: SequenceModel) -> None:
        self.located = located
        self.model = model
        self.sets: dict[str, FlatSet] = {}
        self.warnings: list[str] = []
        self.wheel_names = static_filter_names(model.equipment.filter_wheel)
        self._seen: dict[tuple[Any, ...], FlatSet] = {}

    def compile(self) -> list[Step]:
        return self._compact() if self.model.flat_sets is not None else self._explicit()

    # ---- shared ----

    def _new_set(
        self,
        path: tuple[str | int, ...],
        *,
        filter_name: str | None,
        exposure: float,
        count: int,
        dark_count: int,
        on_error: OnError | None,
        overrides: FlatSetModel | None = None,
        target: float | None = None,
        tolerance: float | None = None,
        fixed_brightness: int | None = None,
    ) -> FlatSet:
        cam, bright = self.model.camera, self.model.brightness
        if filter_name is not None:
            self._check_filter(path, filter_name)
        elif self.model.equipment.filter_wheel:
            raise self.located.error(path, f"{dotted(path)}: filter: required when there is a filter wheel")
        line, col = self.located.where(path)
        index = len(self.sets) + 1
        fs = FlatSet(
            id=f"{index:02d}-{filter_name or 'nofilter'}-{exposure:g}s",
            index=index,
            filter=filter_name,
            exposure=exposure,
            count=count,
            dark_count=dark_count,
            gain=overrides.gain if overrides and overrides.gain is not None else cam.gain,
            offset=overrides.offset if overrides and overrides.offset is not None else cam.offset,
            binning=overrides.binning if overrides and overrides.binning is not None else cam.binning,
            readout_mode=(
                overrides.readout_mode if overrides and overrides.readout_mode is not None else cam.readout_mode
            ),
            temperature=cam.temperature,
            temperature_tolerance=cam.temperature_tolerance,
            target=target if target is not None else bright.target,
            tolerance=tolerance if tolerance is not None else bright.tolerance,
            max_trials=bright.max_trials,
            on_error=on_error or self.model.on_error,
            fixed_brightness=fixed_brightness,
            line=line,
            column=col,
        )
        key = (fs.filter, fs.exposure, fs.gain, fs.offset, fs.binning, fs.readout_mode)
        if key in self._seen:
            first = self._seen[key]
            raise self.located.error(
                path,
                f"{dotted(path)}: duplicated set: {fs.label} with the same camera settings is already at line "
                f"{first.line} (merge the counts instead)",
            )
        self._seen[key] = fs
        self.sets[fs.id] = fs
        self._warn_short(fs)
        return fs

    def _check_filter(self, path: tuple[str | int, ...], name: str) -> None:
        if not self.model.equipment.filter_wheel:
            raise self.located.error(path, f"{dotted(path)}: filter {name!r} given but there is no filter_wheel")
        if self.wheel_names is not None and name not in self.wheel_names:
            raise self.located.error(
                path, f"{dotted(path)}: unknown filter {name!r} for the wheel (it has: {', '.join(self.wheel_names)})"
            )

    def _warn_short(self, fs: FlatSet) -> None:
        where = f"{self.located.file}:{fs.line}:{fs.column}"
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

    # ---- compact form ----

    def _compact(self) -> list[Step]:
        m = self.model
        assert m.flat_sets is not None
        steps = [Step("close_cover", if_present=True, path=("flat_sets",), **self._pos(("flat_sets",)))]
        for i, fsm in enumerate(m.flat_sets):
            path: tuple[str | int, ...] = ("flat_sets", i)
            pos = self._pos(path)
            dark_count = fsm.count if fsm.dark_flats is None else fsm.dark_flats
            fs = self._new_set(
                path,
                filter_name=fsm.filter,
                exposure=fsm.exposure,
                count=fsm.count,
                dark_count=dark_count,
                on_error=fsm.on_error,
                overrides=fsm,
            )
            sid = fs.id
            if fs.filter is not None:
                steps.append(Step("select_filter", sid, filter=fs.filter, path=path, **pos))
            steps += [
                Step("light_on", sid, path=path, **pos),
                Step("wait", sid, seconds=m.settle.after_light_on, purpose="settle after light on", path=path, **pos),
                Step("find_brightness", sid, seconds=fs.exposure, path=path, **pos),
                Step("flats", sid, seconds=fs.exposure, count=fs.count, path=path, **pos),
                Step("light_off", sid, path=path, **pos),
                Step("wait", sid, seconds=m.settle.after_light_off, purpose="settle after light off", path=path, **pos),
            ]
            if dark_count:
                steps.append(Step("dark_flats", sid, seconds=fs.exposure, count=dark_count, path=path, **pos))
            else:
                self.warnings.append(
                    f"{self.located.file}:{pos['line']}:{pos['column']}: {fs.label}: dark_flats: 0 — these flats "
                    "will have no matching dark-flats"
                )
        if m.cover_at_end == "open":
            steps.append(Step("open_cover", if_present=True, path=("cover_at_end",), **self._pos(("cover_at_end",))))
        return steps

    def _pos(self, path: tuple[str | int, ...]) -> _Pos:
        line, col = self.located.where(path)
        return {"line": line, "column": col}

    # ---- explicit form ----

    def _explicit(self) -> list[Step]:
        assert self.model.steps is not None
        steps: list[Step] = []
        current_filter: str | None = None
        pending: FlatSet | None = None  # set opened by find_brightness, waiting for its flats
        fixed_brightness: int | None = None
        last_flats: FlatSet | None = None
        for i, item in enumerate(self.model.steps):
            path: tuple[str | int, ...] = ("steps", i)
            kind, args = self._parse_step(path, item)
            apath = (*path, kind)
            pos = self._pos(path)
            if kind == "select_filter":
                self._check_filter(apath, args.filter)
                current_filter = args.filter
                pending = None
                steps.append(Step(kind, filter=args.filter, path=path, **pos))
            elif kind == "wait":
                steps.append(Step(kind, seconds=args.seconds, path=path, **pos))
            elif kind == "light_on":
                fixed_brightness = args.brightness
                steps.append(Step(kind, brightness=args.brightness, path=path, **pos))
            elif kind == "light_off":
                fixed_brightness = None
                steps.append(Step(kind, path=path, **pos))
            elif kind in ("close_cover", "open_cover"):
                steps.append(Step(kind, path=path, **pos))
            elif kind == "find_brightness":
                pending = self._new_set(
                    apath,
                    filter_name=current_filter,
                    exposure=args.exposure,
                    count=0,
                    dark_count=0,
                    on_error=None,
                    target=args.target,
                    tolerance=args.tolerance,
                )
                steps.append(Step(kind, pending.id, seconds=args.exposure, path=path, **pos))
            elif kind == "flats":
                if pending is not None:
                    if args.exposure is not None and args.exposure != pending.exposure:
                        raise self.located.error(
                            (*apath, "exposure"),
                            f"{dotted((*apath, 'exposure'))}: {args.exposure:g}s differs from find_brightness' "
                            f"{pending.exposure:g}s above",
                        )
                    fs = replace(pending, count=args.count, on_error=args.on_error or pending.on_error)
                elif args.exposure is not None and fixed_brightness is not None:
                    fs = self._new_set(
                        apath,
                        filter_name=current_filter,
                        exposure=args.exposure,
                        count=args.count,
                        dark_count=0,
                        on_error=args.on_error,
                        fixed_brightness=fixed_brightness,
                    )
                else:
                    raise self.located.error(
                        apath,
                        f"{dotted(apath)}: flats need a brightness: put find_brightness before them, or give "
                        "light_on a brightness and the flats an exposure",
                    )
                self.sets[fs.id] = fs
                pending = None
                last_flats = fs
                steps.append(Step(kind, fs.id, seconds=fs.exposure, count=args.count, path=path, **pos))
            elif kind == "dark_flats":
                bound = last_flats
                if bound is not None:
                    self.sets[bound.id] = replace(self.sets[bound.id], dark_count=args.count)
                    last_flats = None
                steps.append(
                    Step(
                        kind,
                        bound.id if bound else None,
                        seconds=bound.exposure if bound else None,
                        count=args.count,
                        path=path,
                        **pos,
                    )
                )
        for fs in self.sets.values():
            if fs.count == 0:
                raise self.located.error(
                    ("steps",), f"steps: find_brightness for {fs.label} (line {fs.line}) is not followed by flats"
                )
        return steps

    def _parse_step(self, path: tuple[str | int, ...], item: Any) -> tuple[str, Any]:
        raw: Any
        if isinstance(item, str):
            kind, raw = item, None
        elif isinstance(item, dict) and len(item) == 1:
            kind, raw = next(iter(item.items()))
        else:
            raise self.located.error(
                path, f"{dotted(path)}: a step is a name (light_off) or one key with its arguments (wait: 3s)"
            )
        if kind not in STEP_KINDS:
            raise self.located.error(
                (*path, kind) if isinstance(item, dict) else path,
                f"{dotted(path)}: unknown step {kind!r} (expected one of: {', '.join(STEP_KINDS)})",
            )
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            short = SHORTHAND.get(kind)
            if short is None:
                raise self.located.error((*path, kind), f"{dotted((*path, kind))}: {kind} takes no arguments")
            raw = {short: raw}
        return kind, validate(self.located, STEP_KINDS[kind], raw, (*path, kind))


def describe_plan(plan: Plan) -> list[str]:
    """The expanded plan, one line per step, for `flatseq check`."""
    return [f"{i:3d}. {step.describe()}" for i, step in enumerate(plan.steps, 1)]


def plan_error(plan: Plan, step: Step, message: str) -> SequenceFileError:
    return SequenceFileError(plan.file, step.line, step.column, f"{dotted(step.path)}: {message}")
