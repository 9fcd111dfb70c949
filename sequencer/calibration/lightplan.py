"""`flatseq plan`: the end-of-session flats for exactly the configurations in tonight's lights.

One flat set per light key (`sequencer.calibration.lightkeys`), each with its dark-flats, in one compact
sequence per camera. Sets are ordered so the equipment changes least: the rotation the system is in now (the
last light's) first, then by filter with the filter in the wheel now first, so each filter is selected once
per rotation. flatseq moves no rotator and no focuser, so a set whose lights were at another rotation or
focus than the last lights' is reported: "the flats correct the actual state of the system" (the field
notes), so that state must be restored before that set. Each set carries `lights:` (its key, count, rotation,
focus), which the run records in the manifest and, for rotation and focus, on the frames.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sequencer.calibration.lightkeys import LightGroup, LightKey
from sequencer.calibration.lights import LightFrame
from sequencer.plan.profiles import PlanDefaults, ProfileModel

SIM_EQUIPMENT = {"camera": "sim://camera?sensor=small", "panel": "sim://panel"}
"""Without a profile: the simulated bench, so the sequence checks and dry-runs (replace with your devices)."""


@dataclass
class PlannedSet:
    group: LightGroup
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> LightKey:
        return self.group.key


@dataclass
class PlannedSequence:
    """One camera's sequence: the sets in the order taken, the YAML, and what the user must know."""

    instrument: str | None
    sets: list[PlannedSet]
    text: str
    notes: list[str]
    skipped: list[tuple[LightGroup, str]]


def _last(lights: Sequence[LightFrame]) -> LightFrame:
    return max(lights, key=lambda light: (light.date_obs or "", str(light.path)))


def order_groups(groups: Sequence[LightGroup]) -> list[LightGroup]:
    """Fewest changes: the current rotation first, then each filter once (the one in the wheel now first),
    within a filter the current settings first; otherwise in the order they were shot."""
    last = _last([light for g in groups for light in g.lights])
    rotations = {g.key.rotation: i for i, g in reversed(list(enumerate(groups)))}
    filters = {g.key.filter: i for i, g in reversed(list(enumerate(groups)))}
    current = next(g for g in groups if last in g.lights)

    def rank(g: LightGroup) -> tuple[int, int, int, int]:
        rotation = -1 if g.key.rotation == current.key.rotation else rotations[g.key.rotation]
        filt = -1 if g.key.filter == current.key.filter else filters[g.key.filter]
        return (rotation, filt, 0 if g is current else 1, groups.index(g))

    return sorted(groups, key=rank)


def _state_notes(ordered: Sequence[PlannedSet], index_base: int = 1) -> list[str]:
    """Rotation and focus the lights had that the system no longer has (after the last light)."""
    lights = [light for s in ordered for light in s.group.lights]
    if not lights:
        return []
    last = _last(lights)
    now = next(s.key for s in ordered if last in s.group.lights)
    notes = []
    for n, planned in enumerate(ordered, index_base):
        g, key = planned.group, planned.key
        if key.rotation is not None and now.rotation is not None and key.rotation != now.rotation:
            planned.notes.append(f"rotator to {key.rotation:g}° (the last lights were at {now.rotation:g}°)")
        mine = _last(g.lights).focus
        if mine is not None and last.focus is not None and mine != last.focus:
            planned.notes.append(f"focuser to {mine:g} (the last lights were at {last.focus:g})")
        spread = g.focus_range()
        if spread is not None and spread[0] != spread[1]:
            planned.notes.append(f"its lights were focused from {spread[0]:g} to {spread[1]:g}")
        if planned.notes:
            notes.append(f"set {n} ({key.describe()}): " + "; ".join(planned.notes))
    if notes:
        notes.append("flatseq moves no rotator or focuser: restore each set's state before it is taken")
    return notes


def _flow(mapping: dict[str, object]) -> str:
    """A YAML flow mapping; strings are JSON strings (valid YAML double-quoted scalars)."""
    items = []
    for k, v in mapping.items():
        if isinstance(v, dict):
            items.append(f"{k}: {_flow(v)}")
        elif isinstance(v, list | tuple):
            items.append(f"{k}: [{', '.join(json.dumps(x, ensure_ascii=False) for x in v)}]")
        else:
            items.append(
                f"{k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) or k != 'exposure' else v}"
            )
    return "{" + ", ".join(items) + "}"


def _set_entry(planned: PlannedSet, defaults: PlanDefaults, wheel: bool) -> dict[str, object]:
    key, g = planned.key, planned.group
    exposure = defaults.exposure
    entry: dict[str, object] = {}
    if key.filter is not None and wheel:
        entry["filter"] = key.filter
    entry["exposure"] = "auto" if exposure == "auto" else f"{exposure:g}s"
    entry["count"] = defaults.count
    if defaults.dark_flats is not None:
        entry["dark_flats"] = defaults.dark_flats
    for name, value in (("gain", key.gain), ("offset", key.offset), ("binning", key.xbinning)):
        if value is not None:
            entry[name] = value
    if key.readout is not None:
        entry["readout_mode"] = key.readout
    if key.roi is not None:
        entry["roi"] = {"x": key.roi.x, "y": key.roi.y, "width": key.roi.width, "height": key.roi.height}
    lights: dict[str, object] = {"key": key.describe(), "count": len(g.lights)}
    if key.instrument is not None:
        lights["instrument"] = key.instrument
    if key.rotation is not None:
        lights["rotation"] = key.rotation
    focus = _last(g.lights).focus
    if focus is not None:
        lights["focus"] = focus
        spread = g.focus_range()
        if spread is not None and spread[0] != spread[1]:
            lights["focus_range"] = list(spread)
    entry["lights"] = lights
    return entry


def _unplannable(g: LightGroup, wheel: bool) -> str | None:
    if g.key.xbinning != g.key.ybinning:
        return f"binning {g.key.binning_text}: flatseq bins both axes alike"
    if g.key.filter is None and wheel:
        return "no FILTER on lights from a camera with a filter wheel (the profile has one): which slot is unknown"
    return None


def plan_sequence(
    groups: Sequence[LightGroup], *, profile_name: str | None, profile: ProfileModel | None, name: str
) -> PlannedSequence:
    """One camera's groups → its sequence text, the sets in order and the notes."""
    wheel = bool(profile.equipment.filter_wheel) if profile is not None else any(g.key.filter for g in groups)
    skipped = [(g, why) for g in groups if (why := _unplannable(g, wheel)) is not None]
    kept = [g for g in groups if all(g is not s for s, _ in skipped)]
    ordered = [PlannedSet(g) for g in order_groups(kept)] if kept else []
    notes = _state_notes(ordered)
    defaults = profile.defaults if profile is not None else PlanDefaults()
    temps = Counter(t for s in ordered for light in s.group.lights if (t := light.set_temp) is not None)
    lines = [f"# Planned by flatseq plan from {sum(len(s.group.lights) for s in ordered)} lights."]
    lines.append(f"name: {json.dumps(name)}")
    if profile_name is not None:
        lines.append(f"profile: {json.dumps(profile_name)}")
    else:
        lines.append("# No profile: the simulated bench. Replace it with your devices, or `flatseq profile add`.")
        eq = dict(SIM_EQUIPMENT)
        filters = list(dict.fromkeys(s.key.filter for s in ordered if s.key.filter))
        if filters:
            eq["filter_wheel"] = "sim://filterwheel?filters=" + ",".join(filters)
        lines.append(f"equipment: {_flow(dict(eq))}")
    camera: dict[str, object] = {} if profile is not None else {"gain": 0, "offset": 0}
    if temps:
        camera["temperature"] = temps.most_common(1)[0][0]
        if len(temps) > 1:
            notes.append(f"lights at cooler set-points {', '.join(f'{t:g}' for t in sorted(temps))} °C: "
                         f"the flats are taken at {camera['temperature']:g} °C, the most used")  # fmt: skip
    if camera:
        lines.append(f"camera: {_flow(camera)}")
    b, st = defaults.brightness, defaults.settle
    lines.append(f"brightness: {_flow({'target': b.target, 'tolerance': b.tolerance})}")
    lines.append(f"settle: {_flow({'after_light_on': st.after_light_on, 'after_light_off': st.after_light_off})}")
    if defaults.output is not None:
        lines.append(f"output: {_flow({'directory': defaults.output})}")
    lines.append("flat_sets:")
    for n, planned in enumerate(ordered, 1):
        if planned.notes:
            lines.append(f"  # set {n}: " + "; ".join(planned.notes))
        lines.append(f"  - {_flow(_set_entry(planned, defaults, wheel))}")
    instrument = groups[0].key.instrument if groups else None
    return PlannedSequence(instrument, ordered, "\n".join(lines) + "\n", notes, skipped)


def render_table(seq: PlannedSequence) -> list[str]:
    """configuration | lights | flat set, one row per set (and the configurations not planned)."""
    rows = [("configuration", "lights", "flat set")]
    for n, planned in enumerate(seq.sets, 1):
        rows.append((planned.key.describe(), str(len(planned.group.lights)), f"set {n}"))
    for g, why in seq.skipped:
        rows.append((g.key.describe(), str(len(g.lights)), f"none: {why}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
