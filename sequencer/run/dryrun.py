"""Dry runs: every device swapped for its simulator, so a sequence can be rehearsed anywhere in seconds.
A light switched by hand stays one (the run asks, or watches test frames, as for real), and a simulated person
(`sim://manual`) switches the simulated bench's light when asked.

The stand-ins are `sim://` URLs opened through the registry like any other device: the sequencer never
imports the simulators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from drivers.errors import ConfigError
from drivers.registry import Registry
from drivers.urls import SIM_SCHEME, scheme_of, sim_url, url_shown
from sequencer.plan.model import Plan, SkySetup, StepKind
from sequencer.plan.schema import MANUAL_LIGHT, SKY_LIGHT
from sequencer.run.manual import STAND_IN_ROLE

INJECT = "inject"
"""The `sim://` option that puts the simulated bench under faults (the simulators' one table of them)."""


def simulated_equipment(
    plan: Plan, registry: Registry, sensor: str = "small", bench: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The plan's equipment with each real device replaced by a simulator that can play its part; `bench`:
    options of the simulated bench (`bench_options`), given to the camera and replacing any other URL's."""
    eq = dict(plan.equipment)
    if not registry.facts(eq["camera"]).simulated:
        eq["camera"] = sim_url("camera", sensor=sensor)
    options = dict(bench or {})
    sky = _sky_of(plan)
    if sky is not None:  # the simulated sky over the sequence's site, seen while the person has it uncapped
        own = dict(parse_qsl(urlsplit(eq["camera"]).query))
        options.setdefault("sky", own.get("sky", ",".join(f"{v:g}" for v in sky.site)))
        options.setdefault("sky_stars", own.get("sky_stars", str(DRY_RUN_STARS)))
    if eq["panel"] in (MANUAL_LIGHT, SKY_LIGHT):
        eq.setdefault(STAND_IN_ROLE, sim_url("manual"))  # the simulated person who switches the light when asked
    elif not registry.facts(eq["panel"]).simulated:
        covers = (StepKind.CLOSE_COVER, StepKind.OPEN_COVER)
        has_cover_steps = any(s.kind in covers and not s.if_present for s in plan.steps)
        eq["panel"] = sim_url("panel", cover="1") if has_cover_steps else sim_url("panel")
    wheel = eq.get("filter_wheel")
    if wheel and not registry.facts(wheel).simulated:
        filters = list(dict.fromkeys(fs.filter for fs in plan.sets.values() if fs.filter))
        eq["filter_wheel"] = sim_url("filterwheel", filters=",".join(filters))
    return _with_bench_options(eq, options)


DRY_RUN_STARS = 20
"""Faint stars drifting through a sky dry run's frames (tracking off), for the master's rejection to remove."""


def _sky_of(plan: Plan) -> SkySetup | None:
    return next((fs.sky for fs in plan.sets.values() if fs.sky is not None), None)


def site_zone(sky: SkySetup) -> tzinfo:
    """The site's time zone: the sequence's `timezone`, else the zone of its longitude (UTC + lon/15 h)."""
    if sky.timezone:
        from zoneinfo import ZoneInfo

        return ZoneInfo(sky.timezone)
    longitude = sky.site[1] - 360 if sky.site[1] > 180 else sky.site[1]
    return timezone(timedelta(hours=round(longitude / 15)))


def dry_run_start(plan: Plan, at: str | None) -> tuple[float, ...]:
    """The virtual clock's start for a dry run of `plan`: `at` (in the site's zone for sky flats, else UTC).
    Without it, sky flats rehearse now, or, when their twilight is hours away, from `LEAD` before it opens (the
    Sun's altitude depends on the date); other sequences start on the fixed default."""
    from sequencer.run.skyflats import MAX_WAIT, SPAN, find_twilight

    sky = _sky_of(plan)
    if at is not None:
        return (virtual_start(at, site_zone(sky) if sky is not None else UTC),)
    if sky is None:
        return ()
    now = datetime.now(UTC).timestamp()
    opens = find_twilight(sky, now, max_wait=SPAN).window.opens
    return (now if opens - now <= MAX_WAIT else opens - LEAD,)


LEAD = 20 * 60.0
"""A sky dry run without `--at`, its twilight hours away, starts this long before the window opens."""


def bench_options(faults: Sequence[str] = (), seed: int | None = None) -> dict[str, str]:
    """A dry run's bench options from `--fault` and `--seed`."""
    options = {INJECT: ";".join(f.strip() for f in faults)} if faults else {}
    if seed is not None:
        options["seed"] = str(seed)
    return options


def virtual_start(at: str | datetime, zone: tzinfo = UTC) -> float:
    """`--at 2026-03-01T20:00` → the virtual clock's start, in seconds since the epoch; without a zone, `zone`
    (UTC: the same on every CI machine; a sky sequence's site's zone)."""
    text = at if isinstance(at, str) else at.isoformat()
    try:
        when = at if isinstance(at, datetime) else datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ConfigError(f"--at {text!r}: expected an ISO 8601 date and time, e.g. 2026-03-01T20:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    if not 1970 <= when.astimezone(UTC).year <= 9998:
        raise ConfigError(f"--at {text!r}: a date from 1970 on")
    return when.timestamp()


def check_faults(faults: Sequence[str], registry: Registry) -> None:
    """Each `--fault` checked by the simulators themselves (their table), refused in one line naming it."""
    for fault in faults:
        url = sim_url("camera", **{INJECT: fault})
        try:
            registry.facts(url)
        except ConfigError as exc:
            reason = (
                str(exc)
                .removeprefix(f"{url_shown(url)}: ")
                .removeprefix(f"{INJECT}: ")
                .removeprefix(f"{fault.strip()!r}: ")
            )
            raise ConfigError(f"--fault {fault}: {reason}") from None


def _with_bench_options(eq: dict[str, str], options: Mapping[str, str]) -> dict[str, str]:
    """The options on the camera's sim URL, taken out of every other sim URL (where they would conflict);
    faults already in the sequence's own sim URLs are kept, with the new ones after them."""
    if not options:
        return eq
    faults = [options[INJECT]] if INJECT in options else []
    for role, url in eq.items():
        if _is_sim(url):
            query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
            if INJECT in options and INJECT in query:
                faults.insert(0, query[INJECT])
            eq[role] = _with_query(url, {k: v for k, v in query.items() if k not in options})
    camera = eq["camera"]
    if not _is_sim(camera):
        return eq
    query = dict(parse_qsl(urlsplit(camera).query, keep_blank_values=True)) | dict(options)
    if faults:
        query[INJECT] = ";".join(faults)
    eq["camera"] = _with_query(camera, query)
    return eq


def _with_query(url: str, query: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    text = "&".join(f"{quote(k)}={quote(v, safe=',')}" for k, v in query.items())
    return urlunsplit(parts._replace(query=text))


def _is_sim(url: str) -> bool:
    try:
        return scheme_of(url) == SIM_SCHEME
    except ConfigError:
        return False
