"""Faults of an ASCOM Alpaca server in another process (`flatseq sim alpaca --fault ...`), struck in each phase of a
real-time run: the server frozen (SIGSTOP: its sockets open and silent, every call a timeout), killed (SIGKILL:
connections refused), or answering garbage (200 OK, a body that is not JSON).

The bench in that process strikes the fault itself, at the moment it sees (a trial, a flat, a dark-flat), so the
phase is exact although the run is in real time. Whatever the fault, nobody can confirm the light off afterwards:
the run must say so, stop within its bounds, and leave a manifest that lists exactly the files on disk."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from drivers.clock import SystemClock
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from tests.faults.invariants import Ending, check_invariants
from tests.support.alpaca import sim_alpaca

pytestmark = pytest.mark.slow

SEQUENCE = """\
name: one faulted set over Alpaca
equipment:
  camera: {base}/camera/0?{query}
  panel: {base}/covercalibrator/0?{query}
  filter_wheel: {base}/filterwheel/0?{query}
camera: {{gain: 100, offset: 50}}
brightness: {{target: 50%, tolerance: 10%}}
settle: {{after_light_on: 0.1s, after_light_off: 0.1s}}
flat_sets:
  - {{filter: L, exposure: 0.25s, count: 4, dark_flats: 3}}
"""
QUERY = "timeout=1&connect_timeout=2&download_timeout=3"
STRIKES = {  # where the fault strikes, and the step it must stop
    "trial": ("lit_exposure:1", "trial"),
    "flats": ("lit_exposure:4", "flats"),  # a flat: the search takes at most three trials
    "dark-flats": ("dark_exposure:2", "dark-flats"),
}


@pytest.mark.parametrize("phase", STRIKES)
@pytest.mark.parametrize("action", ["freeze", "kill", "garbage"])
def test_a_server_lost_mid_run_ends_the_run_within_bounds_saying_the_light_may_be_on(
    tmp_path: Path, action: str, phase: str
) -> None:
    moment, failing = STRIKES[phase]
    with sim_alpaca("--seed", "4", "--fault", f"{moment}={action}") as (base, process):
        sequence = tmp_path / "alpaca.yaml"
        sequence.write_text(SEQUENCE.format(base=base, query=QUERY))
        context = RunContext(clock=SystemClock(), output_dir=tmp_path / "out", quiet=True, cleanup_limit=3.0)
        report = run_file(sequence, context)
        if action == "kill":
            assert process.wait(timeout=10) == -signal.SIGKILL  # the fault struck
    # a frozen, dead or garbled server cannot be asked what its devices do: the run must not claim to know
    manifest = check_invariants(Ending(report, sequence, light_on=None, exposing=None), failing)
    assert report.exit_code == 3
    assert manifest["light_answer"] == report.light_answer and report.light_answer
