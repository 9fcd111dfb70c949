"""The compact form (`flat_sets:`) expanded into steps: per set, filter, light on, settle, find the brightness
(or, with `exposure: auto`, the exposure), flats, light off, settle, dark-flats; the cover closed first and left
as `cover_at_end` says."""

from __future__ import annotations

from sequencer.plan.kinds import StepKind
from sequencer.plan.loader import dotted
from sequencer.plan.model import AutoExposure, Step
from sequencer.plan.schema import AUTO, FlatSetModel
from sequencer.plan.sets import Path, SetBuilder, SetRequest
from sequencer.plan.skysteps import sky_steps


def compact_steps(builder: SetBuilder) -> list[Step]:
    m = builder.model
    assert m.flat_sets is not None
    if m.sky is not None:
        return sky_steps(builder, m.sky)
    steps = [Step(StepKind.CLOSE_COVER, if_present=True, path=("flat_sets",), **builder.pos(("flat_sets",)))]
    for i, fsm in enumerate(m.flat_sets):
        path: Path = ("flat_sets", i)
        pos = builder.pos(path)
        dark_count = fsm.count if fsm.dark_flats is None else fsm.dark_flats
        auto = _auto(builder, path, fsm)
        exposure = None if auto is not None or fsm.exposure is None else float(fsm.exposure)
        request = SetRequest(fsm.filter, exposure, fsm.count, dark_count, fsm.on_error, overrides=fsm, auto=auto)
        fs = builder.new_set(path, request)
        sid = fs.id
        if fs.filter is not None:
            steps.append(Step(StepKind.SELECT_FILTER, sid, filter=fs.filter, path=path, **pos))
        on, off = m.settle.after_light_on, m.settle.after_light_off
        brightness = auto.brightness if auto is not None else None
        search = (
            Step(StepKind.FIND_BRIGHTNESS, sid, seconds=fs.exposure, path=path, **pos)
            if auto is None
            else Step(StepKind.FIND_EXPOSURE, sid, brightness=brightness, auto=auto, path=path, **pos)
        )
        steps += [
            Step(StepKind.LIGHT_ON, sid, brightness=brightness, path=path, **pos),
            Step(StepKind.WAIT, sid, seconds=on, purpose="settle after light on", path=path, **pos),
            search,
            Step(StepKind.FLATS, sid, seconds=fs.exposure, count=fs.count, auto=auto, path=path, **pos),
            Step(StepKind.LIGHT_OFF, sid, path=path, **pos),
            Step(StepKind.WAIT, sid, seconds=off, purpose="settle after light off", path=path, **pos),
        ]
        if dark_count:
            steps.append(
                Step(StepKind.DARK_FLATS, sid, seconds=fs.exposure, count=dark_count, auto=auto, path=path, **pos)
            )
        else:
            builder.warnings.append(
                f"{builder.located.file}:{pos['line']}:{pos['column']}: {fs.label}: dark_flats: 0 — these flats "
                "will have no matching dark-flats"
            )
    if m.cover_at_end == "open":
        at_end = builder.pos(("cover_at_end",))
        steps.append(Step(StepKind.OPEN_COVER, if_present=True, path=("cover_at_end",), **at_end))
    return steps


def _auto(builder: SetBuilder, path: Path, fsm: FlatSetModel) -> AutoExposure | None:
    """The set's exposure search (`exposure: auto`, bounds from the set or the file's `auto_exposure`), or None
    for a set with its own exposure (whose brightness is searched), refusing what belongs to the other kind."""
    defaults = builder.model.auto_exposure
    if fsm.exposure is None:
        where = (*path, "exposure")
        raise builder.error(path, f"{dotted(where)}: required: a duration (4s), or auto to find it at run time")
    if fsm.exposure != AUTO:
        for key in ("brightness", "min_exposure", "max_exposure", "exposure_step"):
            if getattr(fsm, key) is not None:
                where = (*path, key)
                raise builder.error(
                    where,
                    f"{dotted(where)}: only with exposure: auto (at a fixed exposure flatseq finds the brightness)",
                )
        if builder.manual_light:
            where = (*path, "exposure")
            raise builder.error(
                where,
                f"{dotted(where)}: a manual light (panel: manual) cannot be dimmed: give exposure: auto and flatseq "
                "finds the exposure",
            )
        return None
    return AutoExposure(
        min=fsm.min_exposure if fsm.min_exposure is not None else defaults.min,
        max=fsm.max_exposure if fsm.max_exposure is not None else defaults.max,
        step=fsm.exposure_step if fsm.exposure_step is not None else defaults.step,
        brightness=fsm.brightness,
    )
