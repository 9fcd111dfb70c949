"""What a sky sequence can expect of a twilight, before it runs (`flatseq check --at`, the dry run's opening
lines): the window on that date at the site, the ladder, and the flats each filter may get in turn.

The count is an estimate on the published law alone (log flux linear in the Sun's altitude, 0.4 dex per degree:
`twilight.DEFAULT_SLOPE`) and one assumption, said with it: each filter's sky reaches the ladder's shortest
exposure when its turn comes (at dawn, its longest), so exposures then grow (shrink) with the Sun's altitude.
The run itself measures the sky and predicts each flat from what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drivers.errors import ConfigError
from sequencer.brightness.twilight import DEFAULT_SLOPE
from sequencer.core.units import format_duration
from sequencer.plan.model import FlatSet, Plan, SkySetup
from sequencer.run.dryrun import site_zone
from sequencer.run.skyflats import SkyTwilight, find_twilight

READOUT = 1.0
"""Seconds a flat costs beyond its exposure in the estimate (readout, download)."""
TRIALS = 3
"""Trials each filter is counted to take in the estimate."""


@dataclass(frozen=True)
class SetForecast:
    fs: FlatSet
    flats: int
    shortest: float | None
    longest: float | None


def sky_sets(plan: Plan) -> list[FlatSet]:
    """The plan's sky sets in the order it takes them."""
    order = [s.set_id for s in plan.steps if s.sky is not None and s.set_id is not None]
    return [plan.sets[i] for i in dict.fromkeys(order)]


def forecast(sets: list[FlatSet], twilight: SkyTwilight) -> list[SetForecast]:
    """The flats each sky set may get in turn through `twilight` (see the module docstring)."""
    window, path, rungs = twilight.window, twilight.path, twilight.ladder.rungs
    base = rungs[0] if window.when == "dusk" else rungs[-1]
    t = window.opens
    out: list[SetForecast] = []
    for fs in sets:
        used: list[float] = []
        set_start = t
        t += TRIALS * (rungs[0] + READOUT)
        while len(used) < fs.count and t < window.closes:
            exposure = base * 10 ** (DEFAULT_SLOPE * (path.altitude(set_start) - path.altitude(t)))
            rung = min(rungs, key=lambda r: abs(r - exposure))
            if not (rungs[0] * 0.8 <= exposure <= rungs[-1] * 1.25) or t + rung / 2 > window.closes:
                break
            used.append(rung)
            t += rung + READOUT
        out.append(SetForecast(fs, len(used), min(used) if used else None, max(used) if used else None))
    return out


def forecast_lines(plan: Plan, start: float) -> list[str]:
    """The lines `check` prints for a sky sequence (a window passed or far off among them); [] for others."""
    sets = sky_sets(plan)
    if not sets:
        return []
    assert sets[0].sky is not None
    try:
        twilight = find_twilight(sets[0].sky, start)
    except ConfigError as exc:
        return [f"sky flats: {str(exc).removeprefix('sky flats: ')}"]
    return _lines(sets, twilight)


def sky_window_lines(plan: Plan, now: float, *, dry_run: bool) -> list[str]:
    """Before a run opens anything: its twilight window must be under way or near (a ConfigError, one line,
    otherwise); a dry run shows the forecast."""
    sets = sky_sets(plan)
    if not sets:
        return []
    assert sets[0].sky is not None
    twilight = find_twilight(sets[0].sky, now)
    return _lines(sets, twilight) if dry_run else []


def _lines(sets: list[FlatSet], twilight: SkyTwilight) -> list[str]:
    sky = sets[0].sky
    assert sky is not None
    w = twilight.window
    zone = site_zone(sky)

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M %Z")

    rungs = twilight.ladder.rungs
    lines = [
        f"sky flats at {_site(sky)}: the {w.when} window (Sun {w.altitudes[0]:g}° to {w.altitudes[1]:g}°) "
        f"from {local(w.opens)} to {local(w.closes)} ({format_duration(w.closes - w.opens)})",
        f"  exposure ladder ({len(rungs)} rungs, ×{twilight.ladder.ratio:g}): "
        + ", ".join(f"{r:g}" for r in rungs)
        + " s",
        f"  expected flats (estimate: {DEFAULT_SLOPE:g} dex/°, each filter's sky at the ladder's "
        f"{'shortest' if w.when == 'dusk' else 'longest'} exposure when its turn comes):",
    ]
    for s in forecast(sets, twilight):
        span = f", {s.shortest:g}-{s.longest:g} s" if s.shortest is not None else ""
        short = "" if s.flats >= s.fs.count else "  (the window closes first)"
        lines.append(f"  {s.fs.filter or 'no filter':<8} {s.flats} of {s.fs.count}{span}{short}")
    return lines


def _site(sky: SkySetup) -> str:
    lat, lon, elev = sky.site
    return f"{abs(lat):g}° {'N' if lat >= 0 else 'S'}, {abs(lon):g}° {'E' if lon >= 0 else 'W'}, {elev:g} m"
