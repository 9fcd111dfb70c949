"""Faults of an INDI server, struck in each phase of a run: indiserver frozen (SIGSTOP: connected and silent) or
killed (SIGKILL: the connection drops). The devices behind it (`flatseq sim indi`'s server, on this process's
bench) live on, as real hardware does when the server in front of it dies: the bench shows the light still on
whenever the run could not switch it off, and the run must say so."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.base import LightState
from drivers.clock import VirtualClock
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from simulators.devices.faults import Moment
from simulators.indi.server import IndiServer
from tests.faults.invariants import Ending, check_invariants
from tests.support.indi import IndiServer as IndiServerProcess
from tests.support.indi import indiserver

pytestmark = pytest.mark.slow

SEQUENCE = """\
name: one faulted set over INDI
equipment: {{camera: "{camera}", panel: "{panel}", filter_wheel: "{wheel}"}}
camera: {{gain: 100, offset: 50}}
brightness: {{target: 50%, tolerance: 10%}}
settle: {{after_light_on: 1s, after_light_off: 1s}}
flat_sets:
  - {{filter: L, exposure: 1s, count: 5, dark_flats: 3}}
"""
QUERY = "?timeout=1&download_timeout=2"
STRIKES = {
    "trial": ((Moment.LIT_EXPOSURE, 1), "trial"),
    "flats": ((Moment.LIT_EXPOSURE, 5), "flats"),  # a flat, whether the search took one trial or five
    "dark-flats": ((Moment.DARK_EXPOSURE, 2), "dark-flats"),
}


@pytest.mark.parametrize("phase", STRIKES)
@pytest.mark.parametrize("action", ["freeze", "kill"])
def test_an_indiserver_lost_mid_run_ends_the_run_saying_the_light_may_be_on(
    tmp_path: Path, action: str, phase: str
) -> None:
    bench = Bench(sensor="small", seed=6, clock=VirtualClock(), warmup=0.1, move_time=0.2)
    (moment, nth), failing = STRIKES[phase]
    with (
        IndiServer.for_bench(bench, port=0) as ours,
        indiserver(tmp_path / "home", [f"@127.0.0.1:{ours.port}"], ["flatseq Camera"]) as server,
    ):
        strike = {"freeze": server.freeze, "kill": server.kill}[action]
        bench.faults.at(moment, nth, strike)
        sequence = tmp_path / "indi.yaml"
        urls = {role: server.url(f"flatseq {role.title()}") + QUERY for role in ("camera", "panel", "wheel")}
        sequence.write_text(SEQUENCE.format(**urls))
        report = run_file(
            sequence, RunContext(clock=bench.clock, output_dir=tmp_path / "out", quiet=True, cleanup_limit=3.0)
        )
        _check_struck(server, action)
        light = bench.light.light_state(bench.clock.now())
    ending = Ending(report, sequence, light_on=light is not LightState.OFF, exposing=None)
    check_invariants(ending, failing)
    assert report.exit_code == 3 and report.light_answer


def _check_struck(server: IndiServerProcess, action: str) -> None:
    if action == "kill":
        assert server.process.poll() is not None
    else:  # stopped by the kernel: state T in /proc
        assert Path(f"/proc/{server.process.pid}/stat").read_text().split(") ")[1].startswith("T")
