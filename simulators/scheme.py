"""`sim://` URLs → devices on one shared bench.

`sim://camera?sensor=small&seed=3`, `sim://panel?cover=1` (alias `covercalibrator`),
`sim://filterwheel?filters=L,R,G,B,Ha,OIII,SII` (alias `wheel`), `sim://manual` (the person who switches the
bench's light by hand when a dry run of `panel: manual` asks). The first sim device a run opens builds the
bench from the merged options of every `sim://` URL of the run and stores it in the context, so the camera
sees the panel through the wheel. `inject=` puts the bench under faults from the one table of
`simulators.devices.injections` (what a dry run's `--fault` sets). `fault=` belongs to its URL's device
(hang: camera, dead: panel, stuck: wheel); every other option is bench-wide and must not conflict between URLs.

The simulators register this scheme through pyproject's `flatseq.drivers` entry points, as any plug-in
driver would: the sequencer never imports the simulators, it asks the registry for `sim://` devices.
"""

from __future__ import annotations

from drivers.errors import ConfigError
from drivers.registry import OpenContext, SchemeFunctions
from drivers.urls import SIM_SCHEME, DeviceFacts, query_options, scheme_of, split_url, url_shown
from simulators.devices.bench import Bench
from simulators.devices.injections import parse_injections
from simulators.physics.options import FAULTS, KNOWN_OPTIONS, BenchOptions, parse_options, parse_seed
from simulators.physics.sensor import SENSORS

KINDS = {
    "camera": "camera",
    "panel": "panel",
    "covercalibrator": "panel",
    "flatpanel": "panel",
    "filterwheel": "wheel",
    "wheel": "wheel",
    "manual": "manual",
}

_BENCH_KEYS = {"sensor", "seed", "inject"}
_URL_OPTIONS = sorted(
    (KNOWN_OPTIONS - {"transmissions", "camera_fault", "panel_fault", "wheel_fault"})
    | _BENCH_KEYS
    | {"transmission.<filter>"}
)


def sim_kind(url: str) -> str:
    """The device kind a sim URL names (camera, panel or wheel)."""
    host = (split_url(url).hostname or "").lower()
    kind = KINDS.get(host)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"{url_shown(url)}: unknown sim device {host!r} (known: {known})")
    return kind


def sim_options(url: str) -> dict[str, str]:
    """The URL's options, checked, with `fault=` renamed to its device's `<kind>_fault`."""
    return _checked(url)[0]


def _checked(url: str) -> tuple[dict[str, str], BenchOptions]:
    """The URL's options as given (`fault=` renamed) and parsed: a ConfigError names the URL and the option."""
    kind = sim_kind(url)
    options: dict[str, str] = {}
    for key, value in query_options(url).items():
        if key == "fault":
            if FAULTS.get(value.strip().lower()) != kind:
                known = ", ".join(v for v, k in FAULTS.items() if k == kind)
                raise ConfigError(f"{url_shown(url)}: fault={value!r} is not a {kind} fault (known: {known})")
            options[f"{kind}_fault"] = value
        elif key in KNOWN_OPTIONS or key in _BENCH_KEYS or key.startswith("transmission."):
            options[key] = value
        else:
            known = ", ".join(_URL_OPTIONS)
            raise ConfigError(f"{url_shown(url)}: unknown sim option {key!r} (known: {known})")
    try:
        if options.get("sensor", "small").lower() not in SENSORS:
            raise ConfigError(f"unknown sim sensor {options['sensor']!r} (known: {', '.join(SENSORS)})")
        parse_seed(options.get("seed", "0"))
        _check_injections(options.get("inject", ""))
        parsed = parse_options({k: v for k, v in options.items() if k not in _BENCH_KEYS})
    except ConfigError as exc:
        raise ConfigError(f"{url_shown(url)}: {exc}") from None
    return options, parsed


def _check_injections(value: str) -> None:
    """`inject=` (faults from `simulators.devices.injections`, `;`-separated), refused in one line."""
    try:
        parse_injections(value)
    except ValueError as exc:
        raise ConfigError(f"inject: {exc}") from None


def merged_options(urls: list[str]) -> dict[str, str]:
    """Options of several sim URLs merged; the same option with two values is a ConfigError."""
    merged: dict[str, str] = {}
    source: dict[str, str] = {}
    for url in urls:
        for key, value in sim_options(url).items():
            if key in merged and merged[key] != value:
                first, second = url_shown(source[key]), url_shown(url)
                raise ConfigError(f"conflicting sim option {key}: {merged[key]!r} in {first} but {value!r} in {second}")
            merged[key] = value
            source[key] = url
    return merged


def open_sim(url: str, ctx: OpenContext) -> object:
    """Open a sim device (not yet connected), building the run's shared bench on first use."""
    kind = sim_kind(url)
    sim_options(url)  # check this URL even when the bench exists
    if ctx.bench is None:
        urls = [u for u in ctx.urls if _is_sim(u)]
        urls += [] if url in urls else [url]
        try:
            ctx.bench = Bench.from_options(merged_options(urls), ctx.clock)
        except ConfigError as exc:
            text = str(exc)
            raise (exc if "sim://" in text else ConfigError(f"{url_shown(url)}: {text}")) from None
    bench: Bench = ctx.bench
    if kind == "camera":
        return bench.camera
    if kind == "panel":
        return bench.panel
    if kind == "manual":
        return bench.manual_hand
    return bench.wheel


def sim_facts(url: str) -> DeviceFacts:
    """What a sim URL tells without building the bench: the sensor's size and readout, the wheel's filters,
    whether the panel has a cover. Its options are checked as opening the device checks them, so
    `flatseq check` refuses a URL the run would."""
    options, parsed = _checked(url)
    kind = sim_kind(url)
    if kind == "camera":
        sensor = SENSORS[options.get("sensor", "small").lower()]
        readout = parsed.readout if parsed.readout is not None else sensor.readout_time
        return DeviceFacts(simulated=True, sensor=(sensor.width, sensor.height), readout_time=readout)
    if kind == "wheel":
        return DeviceFacts(simulated=True, filter_names=parsed.filters)
    return DeviceFacts(simulated=True, has_cover=parsed.cover)


SIM = SchemeFunctions(open_sim, sim_facts)
"""The `sim` scheme."""


def _is_sim(url: str) -> bool:
    try:
        return scheme_of(url) == SIM_SCHEME
    except ConfigError:
        return False
