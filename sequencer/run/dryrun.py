"""Dry runs: every device swapped for its simulator, so a sequence can be rehearsed anywhere in seconds.
A light switched by hand stays one (the run asks, or watches test frames, as for real), and a simulated person
(`sim://manual`) switches the simulated bench's light when asked.

The stand-ins are `sim://` URLs opened through the registry like any other device: the sequencer never
imports the simulators.
"""

from __future__ import annotations

from drivers.registry import Registry
from drivers.urls import sim_url
from sequencer.plan.model import Plan, StepKind
from sequencer.plan.schema import MANUAL_LIGHT
from sequencer.run.manual import STAND_IN_ROLE


def simulated_equipment(plan: Plan, registry: Registry, sensor: str = "small") -> dict[str, str]:
    """The plan's equipment with each real device replaced by a simulator that can play its part."""
    eq = dict(plan.equipment)
    if not registry.facts(eq["camera"]).simulated:
        eq["camera"] = sim_url("camera", sensor=sensor)
    if eq["panel"] == MANUAL_LIGHT:
        eq.setdefault(STAND_IN_ROLE, sim_url("manual"))  # the simulated person who switches the light when asked
    elif not registry.facts(eq["panel"]).simulated:
        covers = (StepKind.CLOSE_COVER, StepKind.OPEN_COVER)
        has_cover_steps = any(s.kind in covers and not s.if_present for s in plan.steps)
        eq["panel"] = sim_url("panel", cover="1") if has_cover_steps else sim_url("panel")
    wheel = eq.get("filter_wheel")
    if wheel and not registry.facts(wheel).simulated:
        filters = list(dict.fromkeys(fs.filter for fs in plan.sets.values() if fs.filter))
        eq["filter_wheel"] = sim_url("filterwheel", filters=",".join(filters))
    return eq
