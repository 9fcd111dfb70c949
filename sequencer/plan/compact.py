"""The compact form (`flat_sets:`) expanded into steps: per set, filter, light on, settle, find the brightness,
flats, light off, settle, dark-flats; the cover closed first and left as `cover_at_end` says."""

from __future__ import annotations

from sequencer.plan.kinds import StepKind
from sequencer.plan.model import Step
from sequencer.plan.sets import Path, SetBuilder, SetRequest


def compact_steps(builder: SetBuilder) -> list[Step]:
    m = builder.model
    assert m.flat_sets is not None
    steps = [Step(StepKind.CLOSE_COVER, if_present=True, path=("flat_sets",), **builder.pos(("flat_sets",)))]
    for i, fsm in enumerate(m.flat_sets):
        path: Path = ("flat_sets", i)
        pos = builder.pos(path)
        dark_count = fsm.count if fsm.dark_flats is None else fsm.dark_flats
        request = SetRequest(fsm.filter, fsm.exposure, fsm.count, dark_count, fsm.on_error, overrides=fsm)
        fs = builder.new_set(path, request)
        sid = fs.id
        if fs.filter is not None:
            steps.append(Step(StepKind.SELECT_FILTER, sid, filter=fs.filter, path=path, **pos))
        on, off = m.settle.after_light_on, m.settle.after_light_off
        steps += [
            Step(StepKind.LIGHT_ON, sid, path=path, **pos),
            Step(StepKind.WAIT, sid, seconds=on, purpose="settle after light on", path=path, **pos),
            Step(StepKind.FIND_BRIGHTNESS, sid, seconds=fs.exposure, path=path, **pos),
            Step(StepKind.FLATS, sid, seconds=fs.exposure, count=fs.count, path=path, **pos),
            Step(StepKind.LIGHT_OFF, sid, path=path, **pos),
            Step(StepKind.WAIT, sid, seconds=off, purpose="settle after light off", path=path, **pos),
        ]
        if dark_count:
            steps.append(Step(StepKind.DARK_FLATS, sid, seconds=fs.exposure, count=dark_count, path=path, **pos))
        else:
            builder.warnings.append(
                f"{builder.located.file}:{pos['line']}:{pos['column']}: {fs.label}: dark_flats: 0 — these flats "
                "will have no matching dark-flats"
            )
    if m.cover_at_end == "open":
        at_end = builder.pos(("cover_at_end",))
        steps.append(Step(StepKind.OPEN_COVER, if_present=True, path=("cover_at_end",), **at_end))
    return steps
