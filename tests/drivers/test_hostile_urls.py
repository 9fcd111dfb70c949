"""Alpaca and Alnitak URLs are checked by their scheme's `facts` exactly as opening them checks them, so
`flatseq check` refuses a URL the run would, with the same message; numbers are finite and bounded, and a
long URL is not quoted whole."""

from __future__ import annotations

import pytest

from drivers.alnitak.panel import ALNITAK
from drivers.alpaca.url import ALPACA
from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from drivers.registry import OpenContext, SchemeFunctions

CASES: list[tuple[SchemeFunctions, str, str]] = [
    (ALPACA, "alpaca://h:99999/camera/0", "has an invalid port"),
    (ALPACA, "alpaca://h/camera/²", "expected alpaca://host:port/camera/0"),
    (ALPACA, "alpaca://h/camera/99999999999", "expected alpaca://host:port/camera/0"),
    (ALPACA, "alpaca://h/camera/0?timeout=inf", "timeout must be a positive number of seconds (at most 3600)"),
    (ALPACA, "alpaca://h/camera/0?timeout=nan", "timeout must be a positive number of seconds"),
    (ALPACA, "alpaca://h/camera/0?download_timeout=1e9", "download_timeout must be a positive number"),
    (ALPACA, "alpaca://h/camera/0?client_id=²", "client_id must be a whole number 0..4294967295"),
    (ALPACA, "alpaca://h/camera/0?client_id=" + "9" * 5000, "client_id must be a whole number"),
    (ALPACA, "alpaca://[h/camera/0", "is malformed"),
    (ALNITAK, "alnitak:///dev/ttyACM0?timeout=nan", "timeout='nan' must be a finite number"),
    (ALNITAK, "alnitak:///dev/ttyACM0?timeout=inf", "timeout='inf' must be a finite number"),
    (ALNITAK, "alnitak:///dev/ttyACM0?settle=1e300", "settle='1e300' must be at most 60"),
    (ALNITAK, "alnitak:///dev/ttyACM0?retries=1000000", "retries='1000000' must be at most 100"),
    (ALNITAK, "alnitak:///dev/ttyACM0?baud=" + "9" * 5000, "9... (5002 characters) is not a int"),
    (ALNITAK, "alnitak+socket://[h:5000", "is malformed"),
]


@pytest.mark.parametrize(("scheme", "url", "message"), CASES, ids=[c[1][:40] for c in CASES])
def test_facts_refuse_what_opening_refuses(scheme: SchemeFunctions, url: str, message: str) -> None:
    with pytest.raises(ConfigError) as at_check:
        scheme.facts(url)
    with pytest.raises(ConfigError) as at_open:
        scheme.open(url, OpenContext(clock=VirtualClock()))
    assert str(at_check.value) == str(at_open.value)
    assert message in str(at_check.value), str(at_check.value)
    assert "\n" not in str(at_check.value) and len(str(at_check.value)) < 300


def test_good_urls_say_the_device_is_real() -> None:
    assert not ALPACA.facts("alpaca://192.168.1.20:11111/covercalibrator/0?timeout=10").simulated
    assert not ALNITAK.facts("alnitak:///dev/ttyACM0?baud=9600&timeout=2").simulated
