"""INDI's own Alnitak driver (`indi_flipflat`, Debian's indi-bin) drives the emulator unchanged.

One catch, which is INDI's and not the protocol's: its handshake drops RTS with `ioctl(TIOCMBIC)`, and
Linux pseudo-terminals have no modem lines, so the kernel answers ENOTTY and INDI refuses the port
(any pty: ours, socat's). The test therefore preloads a 10-line shim that gives ptys the modem-line
ioctls every UART has; the INDI binary, its bytes and its parsing are untouched. Fails (never skips)
where indi-bin or a C compiler is missing: `.ci/run` installs both.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import simulators
from drivers.base import CoverState, LightState
from drivers.clock import SystemClock, wait_until
from simulators.alnitak.emulator import AlnitakEmulator
from tests.support.indi import build_shim, free_port
from tests.support.tools import require

TOOLS = ("indiserver", "indi_flipflat", "indi_getprop", "indi_setprop", "cc")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _third_party_programs() -> None:
    require(*TOOLS)


DEVICE = "Flip Flat"


@pytest.fixture
def indi(tmp_path: Path) -> Iterator[Callable[..., str | None]]:
    shim = build_shim(tmp_path)
    port = str(free_port())
    env = dict(os.environ, HOME=str(tmp_path), LD_PRELOAD=str(shim))
    server = subprocess.Popen(
        ["indiserver", "-p", port, "-u", str(tmp_path / "indiserver.sock"), "indi_flipflat"],  # own local socket
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def prop(name: str, value: str | None = None) -> str | None:
        """indi_getprop (value None) or indi_setprop of `Flip Flat.<name>`."""
        if value is not None:
            subprocess.run(["indi_setprop", "-p", port, f"{DEVICE}.{name}={value}"], env=env, check=True)
            return value
        got = subprocess.run(
            ["indi_getprop", "-p", port, "-t", "1", "-1", f"{DEVICE}.{name}"],
            env=env,
            capture_output=True,
            text=True,
        )
        return got.stdout.strip() if got.returncode == 0 else None

    try:
        assert wait_until(SystemClock(), lambda: prop("CONNECTION.CONNECT") is not None, timeout=15, poll=0.2)
        yield prop
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def eventually(check: Callable[[], bool]) -> bool:
    return wait_until(SystemClock(), check, timeout=15, poll=0.2)


def test_indi_flipflat_connects_parks_and_lights_the_emulated_flip_flat(indi: Callable[..., str | None]) -> None:
    bench = simulators.Bench(sensor="small", seed=0, clock=SystemClock(), cover=True, cover_time=0.5)
    with AlnitakEmulator.on_bench(bench, product=99, firmware=213) as emu:
        indi("DEVICE_PORT.PORT", emu.path)
        indi("CONNECTION.CONNECT", "On")
        assert eventually(lambda: indi("Firmware.Version") == "213")
        assert emu.received[:2] == [">P000", ">V000"]
        assert eventually(lambda: indi("Status.Cover") == "Open")  # the bench's cover starts open

        indi("CAP_PARK.PARK", "On")  # INDI's "park" closes the cover
        assert eventually(lambda: indi("Status.Cover") == "Closed")
        assert emu.state().cover is CoverState.CLOSED

        indi("FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE", "77")
        indi("FLAT_LIGHT_CONTROL.FLAT_LIGHT_ON", "On")
        assert eventually(lambda: emu.state().light_on and indi("Status.Light") == "On")
        assert emu.state().brightness == 77
        assert bench.panel.brightness() == 77
        assert ">B077" in emu.received and ">L000" in emu.received

        indi("FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF", "On")
        assert eventually(lambda: not emu.state().light_on and indi("Status.Light") == "Off")
        assert bench.panel.light_state() is LightState.OFF
