"""The explicit form (`steps:`) compiled into steps: each item parsed and validated by its kind, flats bound to
the flat set their find_brightness or find_exposure (or fixed light_on brightness) opened, dark-flats bound to
the flats above."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, assert_never

from sequencer.plan.kinds import StepKind
from sequencer.plan.loader import dotted
from sequencer.plan.model import AutoExposure, FlatSet, Step
from sequencer.plan.schema import SHORTHAND, STEP_KINDS
from sequencer.plan.sets import Path, Pos, SetBuilder, SetRequest
from sequencer.plan.validation import validate


@dataclass
class _Context:
    """What the steps so far leave for the next one."""

    filter: str | None = None
    pending: FlatSet | None = None  # set opened by find_brightness or find_exposure, waiting for its flats
    fixed_brightness: int | None = None
    last_flats: FlatSet | None = None


class ExplicitCompiler:
    def __init__(self, builder: SetBuilder) -> None:
        self.builder = builder
        self.context = _Context()

    def steps(self) -> list[Step]:
        items = self.builder.model.steps
        assert items is not None
        steps = [self._step(("steps", i), item) for i, item in enumerate(items)]
        for fs in self.builder.sets.values():
            if fs.count == 0:
                search = "find_exposure" if fs.auto is not None else "find_brightness"
                raise self.builder.error(
                    ("steps",), f"steps: {search} for {fs.label} (line {fs.line}) is not followed by flats"
                )
        return steps

    def _step(self, path: Path, item: Any) -> Step:
        kind, args = self._parse(path, item)
        apath, pos, ctx = (*path, kind), self.builder.pos(path), self.context
        match kind:
            case StepKind.SELECT_FILTER:
                self.builder.check_filter(apath, args.filter)
                ctx.filter, ctx.pending = args.filter, None
                return Step(kind, filter=args.filter, path=path, **pos)
            case StepKind.WAIT:
                return Step(kind, seconds=args.seconds, path=path, **pos)
            case StepKind.LIGHT_ON:
                self._no_brightness_for_manual(apath, args.brightness)
                ctx.fixed_brightness = args.brightness
                return Step(kind, brightness=args.brightness, path=path, **pos)
            case StepKind.LIGHT_OFF:
                ctx.fixed_brightness = None
                return Step(kind, path=path, **pos)
            case StepKind.CLOSE_COVER | StepKind.OPEN_COVER:
                return Step(kind, path=path, **pos)
            case StepKind.FIND_BRIGHTNESS:
                if self.builder.manual_light:
                    raise self.builder.error(
                        apath,
                        f"{dotted(apath)}: a manual light (panel: manual) cannot be dimmed: use find_exposure",
                    )
                request = SetRequest(
                    ctx.filter, args.exposure, 0, 0, None, target=args.target, tolerance=args.tolerance
                )
                ctx.pending = self.builder.new_set(apath, request)
                return Step(kind, ctx.pending.id, seconds=args.exposure, path=path, **pos)
            case StepKind.FIND_EXPOSURE:
                return self._find_exposure(path, pos, args)
            case StepKind.FLATS:
                return self._flats(path, pos, args)
            case StepKind.DARK_FLATS:
                return self._dark_flats(path, pos, args)
            case _:
                assert_never(kind)

    def _no_brightness_for_manual(self, apath: Path, brightness: int | None) -> None:
        if brightness is not None and self.builder.manual_light:
            where = (*apath, "brightness")
            raise self.builder.error(where, f"{dotted(where)}: a manual light (panel: manual) has no brightness")

    def _find_exposure(self, path: Path, pos: Pos, args: Any) -> Step:
        """A set whose exposure is found at run time, the light held at `brightness` (or as light_on left it)."""
        ctx, apath = self.context, (*path, StepKind.FIND_EXPOSURE.value)
        self._no_brightness_for_manual(apath, args.brightness)
        defaults = self.builder.model.auto_exposure
        auto = AutoExposure(
            min=args.min if args.min is not None else defaults.min,
            max=args.max if args.max is not None else defaults.max,
            step=args.step if args.step is not None else defaults.step,
            brightness=args.brightness if args.brightness is not None else ctx.fixed_brightness,
        )
        request = SetRequest(ctx.filter, None, 0, 0, None, target=args.target, tolerance=args.tolerance, auto=auto)
        ctx.pending = self.builder.new_set(apath, request)
        return Step(StepKind.FIND_EXPOSURE, ctx.pending.id, brightness=auto.brightness, auto=auto, path=path, **pos)

    def _flats(self, path: Path, pos: Pos, args: Any) -> Step:
        ctx, apath = self.context, (*path, StepKind.FLATS.value)
        if ctx.pending is not None:
            if args.exposure is not None and ctx.pending.auto is not None:
                raise self.builder.error(
                    (*apath, "exposure"),
                    f"{dotted((*apath, 'exposure'))}: the exposure is found by find_exposure above; remove it",
                )
            if args.exposure is not None and args.exposure != ctx.pending.exposure:
                raise self.builder.error(
                    (*apath, "exposure"),
                    f"{dotted((*apath, 'exposure'))}: {args.exposure:g}s differs from find_brightness' "
                    f"{ctx.pending.exposure:g}s above",
                )
            fs = replace(ctx.pending, count=args.count, on_error=args.on_error or ctx.pending.on_error)
        elif args.exposure is not None and ctx.fixed_brightness is not None:
            request = SetRequest(
                ctx.filter, args.exposure, args.count, 0, args.on_error, fixed_brightness=ctx.fixed_brightness
            )
            fs = self.builder.new_set(apath, request)
        else:
            raise self.builder.error(
                apath,
                f"{dotted(apath)}: flats need a brightness: put find_brightness (or find_exposure) before them, "
                "or give light_on a brightness and the flats an exposure",
            )
        self.builder.sets[fs.id] = fs
        ctx.pending, ctx.last_flats = None, fs
        return Step(StepKind.FLATS, fs.id, seconds=fs.exposure, count=args.count, auto=fs.auto, path=path, **pos)

    def _dark_flats(self, path: Path, pos: Pos, args: Any) -> Step:
        bound, sets = self.context.last_flats, self.builder.sets
        if bound is not None:
            sets[bound.id] = replace(sets[bound.id], dark_count=args.count)
            self.context.last_flats = None
        set_id, seconds, auto = (bound.id, bound.exposure, bound.auto) if bound else (None, None, None)
        return Step(StepKind.DARK_FLATS, set_id, seconds=seconds, count=args.count, auto=auto, path=path, **pos)

    def _parse(self, path: Path, item: Any) -> tuple[StepKind, Any]:
        """A step is a bare name (`light_off`) or one key with its arguments (`wait: 3s`, `flats: {count: 30}`)."""
        raw: Any
        if isinstance(item, str):
            name, raw = item, None
        elif isinstance(item, dict) and len(item) == 1:
            name, raw = next(iter(item.items()))
        else:
            raise self.builder.error(
                path, f"{dotted(path)}: a step is a name (light_off) or one key with its arguments (wait: 3s)"
            )
        if name not in STEP_KINDS:
            raise self.builder.error(
                (*path, name) if isinstance(item, dict) else path,
                f"{dotted(path)}: unknown step {name!r} (expected one of: {', '.join(STEP_KINDS)})",
            )
        kind = StepKind(name)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            short = SHORTHAND.get(kind)
            if short is None:
                raise self.builder.error((*path, kind), f"{dotted((*path, kind))}: {kind} takes no arguments")
            raw = {short: raw}
        return kind, validate(self.builder.located, STEP_KINDS[kind], raw, (*path, kind))
