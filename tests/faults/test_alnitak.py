"""Faults on the serial line of an Alnitak panel (the emulator behind a real pty, driven by the real driver), struck
in each phase of a run: the panel goes silent (a timeout), answers garbage, or its port vanishes (a disconnect).

The panel is needed again only when the light changes: a fault in the search stops the search; one during the
flats shows at light-off; one during the dark-flats shows only when the run ends. Every time the light cannot be
confirmed off, and the run says so loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.clock import VirtualClock
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.wire import Fault, FaultPlan
from simulators.devices.bench import Bench
from simulators.devices.faults import Moment
from tests.faults.invariants import Ending, check_invariants
from tests.faults.test_sim import SEQUENCE

FAULTS = (Fault.SILENT, Fault.GARBAGE, Fault.DISCONNECT)
STRIKES = {
    "trial": ((Moment.LIT_EXPOSURE, 1), "trial"),  # the next trial needs a new brightness
    "flats": ((Moment.LIT_EXPOSURE, 4), "light_off"),  # the second flat; the panel is next asked to switch off
    "dark-flats": ((Moment.DARK_EXPOSURE, 2), None),  # the light is off already: the set completes
}


@pytest.mark.parametrize("phase", STRIKES)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.value)
def test_a_panel_lost_on_the_serial_line_is_reported_as_maybe_still_on(
    tmp_path: Path, fault: Fault, phase: str
) -> None:
    bench = Bench(sensor="small", seed=4, clock=VirtualClock(), curve="gamma")  # a search of three trials
    (moment, nth), failing = STRIKES[phase]
    with AlnitakEmulator.on_bench(bench, product=19) as emu:
        bench.faults.at(moment, nth, lambda: emu.set_fault(FaultPlan(fault)))
        sequence = tmp_path / "alnitak.yaml"
        sequence.write_text(SEQUENCE.replace("sim://panel", f"{emu.url}?timeout=0.2&retries=1"))
        context = RunContext(clock=bench.clock, bench=bench, output_dir=tmp_path / "out", quiet=True)
        report = run_file(sequence, context)
        lit = emu.state().light_on
    ending = Ending(report, sequence, light_on=lit, exposing=bench.camera.exposing)
    manifest = check_invariants(ending, failing)
    assert report.exit_code == 3 and manifest["light_answer"] == report.light_answer
    # garbage replies still reach firmware that obeys: the light went off, though nobody could confirm it
    assert lit is (fault is not Fault.GARBAGE and phase != "dark-flats")
