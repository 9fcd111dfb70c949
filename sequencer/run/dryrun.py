"""Dry runs: every device swapped for its simulator, so a sequence can be rehearsed anywhere in seconds."""

from __future__ import annotations

from sequencer.plan.compile import Plan, is_simulated


def simulated_equipment(plan: Plan, sensor: str = "small") -> dict[str, str]:
    """The plan's equipment with each real device replaced by a simulator that can play its part."""
    eq = dict(plan.equipment)
    camera = eq["camera"]
    if not is_simulated(camera):
        eq["camera"] = f"sim://camera?sensor={sensor}"
    if not is_simulated(eq["panel"]):
        has_cover_steps = any(s.kind in ("close_cover", "open_cover") and not s.if_present for s in plan.steps)
        eq["panel"] = "sim://panel?cover=1" if has_cover_steps else "sim://panel"
    wheel = eq.get("filter_wheel")
    if wheel and not is_simulated(wheel):
        filters = list(dict.fromkeys(fs.filter for fs in plan.sets.values() if fs.filter))
        eq["filter_wheel"] = "sim://filterwheel?filters=" + ",".join(filters)
    return eq
