"""flatseq's INDI panel driver drives INDI's real Flip-Flat driver (`indi_flipflat`, behind a real indiserver),
which drives flatseq's Alnitak emulator on a pty: the cover closes, the light comes on at a brightness that
reads back through INDI and on the emulated panel, then goes off. (indi_flipflat needs the pty shim of
tests/support/indi.py to open a pty at all.)"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

import drivers
import simulators
from drivers.base import CoverState, LightState
from drivers.clock import SystemClock, wait_until
from drivers.indi.device import IndiDevice
from simulators.alnitak.emulator import AlnitakEmulator
from tests.support.indi import build_shim, indiserver
from tests.support.tools import require

pytestmark = pytest.mark.slow
DEVICE = "Flip Flat"


def test_indi_panel_driver_closes_the_flip_flat_lights_it_and_switches_it_off(tmp_path: Path) -> None:
    require("indi_flipflat")
    shim = build_shim(tmp_path)
    bench = simulators.Bench(sensor="small", seed=0, clock=SystemClock(), cover=True, cover_time=0.5)
    with (
        AlnitakEmulator.on_bench(bench, product=99, firmware=213) as emu,
        indiserver(tmp_path / "home", ["indi_flipflat"], [DEVICE], env={"LD_PRELOAD": str(shim)}) as server,
    ):
        server.set(f"{DEVICE}.DEVICE_PORT.PORT={emu.path}")  # the serial port is INDI configuration
        panel = cast(IndiDevice, drivers.open(server.url(DEVICE)))
        panel.connect()
        try:
            assert panel.has_cover and panel.brightness_range == (0, 255)
            panel.close_cover()
            assert wait_until(SystemClock(), lambda: panel.cover_state() is CoverState.CLOSED, timeout=15, poll=0.1)
            assert emu.state().cover is CoverState.CLOSED

            panel.light_on(77)
            assert wait_until(SystemClock(), lambda: panel.light_state() is LightState.READY, timeout=15, poll=0.1)
            assert panel.brightness() == 77
            assert server.get(f"{DEVICE}.FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE") == "77"
            assert wait_until(SystemClock(), lambda: emu.state().light_on, timeout=10, poll=0.1)
            assert emu.state().brightness == 77 and bench.panel.brightness() == 77

            panel.light_off()
            assert panel.light_state() is LightState.OFF
            assert wait_until(SystemClock(), lambda: not emu.state().light_on, timeout=10, poll=0.1)
            assert bench.panel.light_state() is LightState.OFF
        finally:
            panel.disconnect()
