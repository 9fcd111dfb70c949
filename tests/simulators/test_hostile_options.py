"""Every sim option is a finite number in a physically sensible range: `sim://camera?readout=1e300` once made
a simulated run spin forever. A URL's scheme refuses it at check time (`facts`) with the message opening the
device gives."""

from __future__ import annotations

import math

import pytest

from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from drivers.registry import OpenContext, default_registry
from simulators.physics.options import RANGES, parse_options
from simulators.scheme import sim_facts

INTEGER_OPTIONS = ("dust", "disconnect_after", "max", "threshold")


def absurd_values(option: str) -> list[str]:
    allowed = RANGES[option]
    return ["nan", "inf", "-inf", "1e300", repr(allowed.high * 10 + 1), repr(allowed.low - 1), "9" * 5000]


@pytest.mark.parametrize("option", sorted(RANGES))
def test_every_option_refuses_absurd_values(option: str) -> None:
    for value in absurd_values(option):
        with pytest.raises(ConfigError, match=f"sim option {option}=") as caught:
            parse_options({option: value})
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize("option", sorted(RANGES))
def test_every_option_takes_the_ends_of_its_range(option: str) -> None:
    allowed = RANGES[option]
    low = math.nextafter(allowed.low, math.inf) if allowed.low_open else allowed.low
    high = math.nextafter(allowed.high, -math.inf) if allowed.high_open else allowed.high
    for end in (low, high):
        value = int(end) if option in INTEGER_OPTIONS else end
        extra = {"max": 65535} if option == "threshold" else {}  # a threshold stays below the panel's max
        assert getattr(parse_options({option: value, **extra}), option) == value


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sim://camera?readout=1e300", "sim option readout='1e300': must be between 0 and 60 s"),
        ("sim://camera?readout=nan", "sim option readout='nan': expected a finite number"),
        ("sim://panel?flux=inf", "sim option flux='inf': expected a finite number"),
        ("sim://filterwheel?move_time=1e9", "sim option move_time='1e9': must be between 0 and 600 s per slot"),
        ("sim://filterwheel?transmission.ha=2", "sim option transmission.ha='2': must be a fraction of L's light"),
        ("sim://camera?seed=-1", "sim option seed='-1': expected an integer from 0 to 4294967295"),
        ("sim://camera?seed=" + "9" * 5000, "sim option seed='9999999999999999999... (5002 characters)"),
        ("sim://camera?sensor=huge", "unknown sim sensor 'huge'"),
        ("sim://camera?dust=1.5", "sim option dust='1.5': expected an integer"),
        ("sim://toaster", "unknown sim device 'toaster'"),
        ("sim://[camera", "is malformed: Invalid IPv6 URL"),
        ("alnitak+emulator://?motor_time=inf", "motor_time='inf' must be a finite number"),
        ("alnitak+emulator://?motor_time=1e9", "motor_time='1e9' must be at most 600"),
        ("alnitak+emulator://?slow_delay=nan", "slow_delay='nan' must be a finite number"),
        ("alnitak+emulator://?fault_after=-1", "fault_after='-1' must be at least 0"),
        ("alnitak+emulator://?product=" + "9" * 5000, "product='9999999999999999999... (5002 characters) is not a int"),
        ("alnitak+emulator://?product=100", "product id must be 00-99"),
        ("alnitak+emulator://?reply_eol=tab", "eol must be one of"),
    ],
)
def test_facts_refuse_what_opening_refuses_with_the_same_message(url: str, message: str) -> None:
    registry = default_registry()  # the simulators' schemes, found as check and the run find them
    with pytest.raises(ConfigError) as at_check:
        registry.facts(url)
    with pytest.raises(ConfigError) as at_open:
        registry.open(url, OpenContext(clock=VirtualClock(), urls=(url,)))
    assert str(at_check.value) == str(at_open.value)
    assert message in str(at_check.value), str(at_check.value)
    assert len(str(at_check.value)) < 300, "a long URL is not quoted whole"


def test_facts_of_good_urls_come_from_the_parsed_options() -> None:
    camera = sim_facts("sim://camera?sensor=imx455&readout=2.5")
    assert camera.simulated and camera.sensor == (9576, 6388) and camera.readout_time == 2.5
    assert sim_facts("sim://filterwheel?filters=L,Ha").filter_names == ("L", "Ha")
    assert sim_facts("sim://panel?cover=1").has_cover and not sim_facts("sim://panel").has_cover
