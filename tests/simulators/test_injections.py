"""The one table of faults a dry run can be put under (`simulators.devices.injections`), read by `inject=` on a
`sim://` URL: every effect the bench knows is in it, each entry parses, and a fault bounded by two moments
strikes and ends when the bench sees them."""

from __future__ import annotations

import pytest

from drivers.base import LightState
from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from simulators.devices.bench import Bench
from simulators.devices.faults import EFFECTS, Moment
from simulators.devices.injections import FAULTS_TABLE, parse_injection
from simulators.scheme import sim_facts


def test_every_effect_the_bench_knows_is_in_the_table() -> None:
    for device, effects in EFFECTS.items():
        for effect in effects:
            assert f"{device}={effect}" in FAULTS_TABLE
    for name in FAULTS_TABLE:
        parse_injection(name.replace(":N", ":3"))


def test_moments_and_arguments_parse() -> None:
    fault = parse_injection("panel=dead@switch_on:2..switch_on:3")
    assert (fault.device, fault.fault, fault.at, fault.until) == (
        "panel",
        "dead",
        (Moment.SWITCH_ON, 2),
        (Moment.SWITCH_ON, 3),
    )
    assert parse_injection("camera=disconnect_after:12").argument == 12
    assert parse_injection("CAMERA=hang@lit_exposure").at == (Moment.LIT_EXPOSURE, 1)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("panel", "expected DEVICE=FAULT"),
        ("lamp=dead", "no device 'lamp'"),
        ("panel=hang", "no panel fault 'hang' (known: dead, unplugged, stuck_on)"),
        ("camera=disconnect_after:many", "needs a whole number"),
        ("panel=dead:3", "takes no argument"),
        ("cooler=stuck@light_on", "takes no @MOMENT"),
        ("panel=dead@soon", "no moment 'soon'"),
        ("panel=dead@light_on:0", "whole number from 1"),
        ("panel=dead@light_on:3..light_on:3", "must end after it strikes"),
    ],
)
def test_bad_faults_are_refused_in_the_url_in_one_line(text: str, says: str) -> None:
    from urllib.parse import quote

    with pytest.raises(ConfigError) as refused:
        sim_facts(f"sim://camera?inject={quote(text)}")
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_fault_between_two_moments_strikes_then_ends() -> None:
    clock = VirtualClock()
    bench = Bench.from_options({"inject": "panel=dead@switch_on:2..switch_on:3"}, clock)
    panel = bench.panel
    panel.connect()
    states = []
    for _ in range(3):
        panel.light_on(100)
        panel.light_on(120)  # a brightness change is no switch-on
        clock.sleep(5)
        states.append(panel.light_state())
        panel.light_off()
    assert states == [LightState.READY, LightState.ERROR, LightState.READY]
    assert bench.faults.count(Moment.SWITCH_ON) == 3
    assert bench.faults.count(Moment.LIGHT_ON) == 6


def test_option_faults_set_the_bench_options() -> None:
    bench = Bench.from_options({"inject": "camera=disconnect_after:4;cooler=stuck;wheel=stuck"}, VirtualClock())
    assert bench.options.disconnect_after == 4
    assert bench.options.cooler == "stuck"
    assert bench.faults.has("wheel", "stuck")


def test_the_readme_shows_the_table() -> None:
    from pathlib import Path

    readme = Path("README.md").read_text()
    for name, meaning in FAULTS_TABLE.items():
        assert f"| `{name}` | {meaning} |" in readme
