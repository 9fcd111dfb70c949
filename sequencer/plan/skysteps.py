"""The compact form (`flat_sets:`) of sky flats expanded into steps: uncap once, then per filter in twilight
order (at dusk the filter that needs the most light first) select it, find the sky's level, take the flats;
then cap once and take each set's dark-flats, at every exposure its flats used.

The sky cannot be switched off between filters, and the twilight does not wait: all dark-flats come after all
flats (the cap on, or at the end of the night), each still bound to its own set.
"""

from __future__ import annotations

from sequencer.brightness.twilight import filter_order
from sequencer.plan.kinds import StepKind
from sequencer.plan.loader import dotted
from sequencer.plan.model import AutoExposure, FlatSet, SkySetup, Step
from sequencer.plan.schema import SkyFlatsModel
from sequencer.plan.sets import Path, SetBuilder, SetRequest

NOT_FOR_SKY = ("exposure", "brightness", "min_exposure", "max_exposure", "exposure_step")


def sky_setup(sky: SkyFlatsModel) -> SkySetup:
    first, last = sky.sun_altitude
    if sky.when == "dusk":
        first, last = max(first, last), min(first, last)
    else:
        first, last = min(first, last), max(first, last)
    site = (sky.site.latitude, sky.site.longitude, sky.site.elevation)
    ladder = sky.exposures
    return SkySetup(
        site, sky.when, (first, last), ladder.min, ladder.max, ladder.ratio, sky.dark_flats_per_exposure, sky.timezone
    )


def sky_steps(builder: SetBuilder, sky: SkyFlatsModel) -> list[Step]:
    m = builder.model
    assert m.flat_sets is not None
    setup = sky_setup(sky)
    ladder = AutoExposure(min=setup.shortest, max=setup.longest)
    sets: list[tuple[FlatSet, Path]] = []
    for i, fsm in enumerate(m.flat_sets):
        path: Path = ("flat_sets", i)
        for key in NOT_FOR_SKY:
            if getattr(fsm, key) is not None:
                where = (*path, key)
                raise builder.error(
                    where,
                    f"{dotted(where)}: sky flats take their exposures from the ladder (sky.exposures) and have no "
                    "brightness: remove it",
                )
        dark_count = setup.dark_per_exposure if fsm.dark_flats is None else fsm.dark_flats
        request = SetRequest(
            fsm.filter, None, fsm.count, dark_count, fsm.on_error, overrides=fsm, auto=ladder, sky=setup
        )
        sets.append((builder.new_set(path, request), path))
    order = filter_order([fs.filter or "" for fs, _ in sets], "dusk" if setup.when == "dusk" else "dawn")
    ordered = sorted(sets, key=lambda item: order.index(item[0].filter or ""))
    top: Path = ("flat_sets",)
    at = builder.pos(top)
    steps = [
        Step(StepKind.LIGHT_ON, path=top, sky=setup, **at),
        Step(
            StepKind.WAIT, seconds=m.settle.after_light_on, purpose="settle after uncapping", path=top, sky=setup, **at
        ),
    ]
    for fs, path in ordered:
        pos = builder.pos(path)
        if fs.filter is not None:
            steps.append(Step(StepKind.SELECT_FILTER, fs.id, filter=fs.filter, path=path, **pos))
        steps += [
            Step(StepKind.FIND_EXPOSURE, fs.id, auto=ladder, sky=setup, path=path, **pos),
            Step(StepKind.FLATS, fs.id, count=fs.count, auto=ladder, sky=setup, path=path, **pos),
        ]
    steps += [
        Step(StepKind.LIGHT_OFF, path=top, sky=setup, **at),
        Step(StepKind.WAIT, seconds=m.settle.after_light_off, purpose="settle after capping", path=top, **at),
    ]
    for fs, path in ordered:
        pos = builder.pos(path)
        if fs.dark_count:
            steps.append(
                Step(StepKind.DARK_FLATS, fs.id, count=fs.dark_count, auto=ladder, sky=setup, path=path, **pos)
            )
        else:
            builder.warnings.append(
                f"{builder.located.file}:{pos['line']}:{pos['column']}: {fs.label}: dark_flats: 0 — these flats "
                "will have no matching dark-flats"
            )
    return steps
