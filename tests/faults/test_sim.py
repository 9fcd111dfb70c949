"""Faults on the simulated bench, struck in each phase of a run: the camera hanging (a timeout) or unplugged (a
disconnect), the panel unplugged or its light stuck on, the filter wheel stuck, the disk refusing a frame. The
bench sees the phase itself (`bench.faults`): no sequencer code is told a fault is coming."""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.base import LightState
from drivers.clock import VirtualClock
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from simulators.devices.faults import Moment
from tests.faults.invariants import Ending, check_invariants

SEQUENCE = """\
name: one faulted set
equipment: {camera: "sim://camera?sensor=small", panel: "sim://panel", filter_wheel: "sim://filterwheel"}
camera: {gain: 100, offset: 50, temperature: -10}
brightness: {target: 50%, tolerance: 10%}
settle: {after_light_on: 3s, after_light_off: 3s}
flat_sets:
  - {filter: Ha, exposure: 2s, count: 4, dark_flats: 3}
"""
FRAME_LIMIT = 64 * 1024
"""Bytes: a file may not grow past this once the disk "fills" (a small-sensor frame is 137 kB; the journal and
the manifest of one set stay well below)."""


@dataclass(frozen=True)
class Counts:
    """Lit and dark exposures of the healthy run: where each phase's last exposure falls."""

    lit: int
    dark: int


def _bench() -> Bench:
    return Bench(sensor="small", seed=4, clock=VirtualClock())


def _run(tmp_path: Path, bench: Bench) -> Ending:
    sequence = tmp_path / "one.yaml"
    sequence.write_text(SEQUENCE)
    report = run_file(sequence, RunContext(clock=bench.clock, bench=bench, output_dir=tmp_path / "out", quiet=True))
    light = bench.light.light_state(bench.clock.now())
    return Ending(report, sequence, light_on=light is not LightState.OFF, exposing=bench.camera.exposing)


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> Counts:
    bench = _bench()
    ending = _run(tmp_path_factory.mktemp("healthy"), bench)
    assert ending.report.exit_code == 0, ending.report.error
    assert bench.faults.count(Moment.DARK_EXPOSURE) == 3  # the dark-flats, and nothing else, run dark
    return Counts(bench.faults.count(Moment.LIT_EXPOSURE), bench.faults.count(Moment.DARK_EXPOSURE))


@pytest.fixture
def full_disk() -> Iterator[Callable[[], None]]:
    """An action that makes the kernel refuse frame writes from now on (EFBIG past RLIMIT_FSIZE, the error path
    of a full disk), undone after the test."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (FRAME_LIMIT, old_limit[1]))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def _moment(phase: str, counts: Counts) -> tuple[Moment, int]:
    return {
        "trial": (Moment.LIT_EXPOSURE, 1),
        "flats": (Moment.LIT_EXPOSURE, counts.lit),  # the last flat
        "dark-flats": (Moment.DARK_EXPOSURE, 2),
    }[phase]


PHASES = ("trial", "flats", "dark-flats")


@pytest.mark.parametrize("phase", PHASES)
def test_a_camera_that_hangs_is_given_up_its_exposure_aborted_and_the_light_switched_off(
    tmp_path: Path, counts: Counts, phase: str
) -> None:
    bench = _bench()
    moment, nth = _moment(phase, counts)
    bench.faults.at(moment, nth, lambda: bench.faults.inject("camera", "hang"))
    ending = _run(tmp_path, bench)
    check_invariants(ending, phase)
    assert ending.report.exit_code == 1 and ending.light_on is False
    assert "exposure was not ready 32 s after it started" in (ending.report.sets[0].reason or "")


@pytest.mark.parametrize("phase", PHASES)
def test_a_camera_unplugged_fails_the_set_and_the_light_still_goes_off(
    tmp_path: Path, counts: Counts, phase: str
) -> None:
    bench = _bench()
    moment, nth = _moment(phase, counts)
    bench.faults.at(moment, nth, lambda: bench.faults.inject("camera", "unplugged"))
    ending = _run(tmp_path, bench)
    manifest = check_invariants(ending, phase)
    assert ending.report.exit_code == 1 and ending.light_on is False
    assert "the camera is gone from the bus (unplugged)" in (ending.report.sets[0].reason or "")
    if phase != "trial":
        assert manifest["sets"][0]["flats"], "the flats taken before the fault are kept"


@pytest.mark.parametrize("phase", PHASES)
def test_a_panel_unplugged_is_reported_as_maybe_still_on(tmp_path: Path, counts: Counts, phase: str) -> None:
    bench = _bench()
    moment, nth = _moment(phase, counts)
    bench.faults.at(moment, nth, lambda: bench.faults.inject("panel", "unplugged"))
    ending = _run(tmp_path, bench)
    # in the flats the panel is next needed to switch off; once off, the set goes on and only the end shows it
    check_invariants(ending, {"trial": "trial", "flats": "light_off", "dark-flats": None}[phase])
    assert ending.report.exit_code == 3
    assert "the panel is gone from the bus (unplugged)" in (ending.report.light_answer or "")
    # lit when it went, the light is still on; gone during the dark-flats, it is off but nobody can confirm it
    assert ending.light_on is (phase != "dark-flats")


def test_a_light_that_stays_on_after_light_off_stops_the_dark_flats_and_is_reported(tmp_path: Path) -> None:
    bench = _bench()
    bench.faults.at(Moment.LIGHT_OFF, 1, lambda: bench.faults.inject("panel", "stuck_on"))
    ending = _run(tmp_path, bench)
    manifest = check_invariants(ending, "light_off")
    assert ending.report.exit_code == 3 and ending.light_on is True
    assert manifest["sets"][0]["dark_flats"] == []  # no dark-flat was taken with the light on
    assert "the light did not switch off" in (ending.report.sets[0].reason or "")


def test_a_stuck_filter_wheel_fails_the_set_before_any_light(tmp_path: Path) -> None:
    bench = _bench()
    bench.faults.at(Moment.FILTER_MOVE, 1, lambda: bench.faults.inject("wheel", "stuck"))
    ending = _run(tmp_path, bench)
    check_invariants(ending, "filter")
    assert ending.report.exit_code == 1 and ending.light_on is False
    assert bench.faults.count(Moment.LIGHT_ON) == 0  # the light never went on for a filter not in place
    assert "stuck moving to slot" in (ending.report.sets[0].reason or "")


@pytest.mark.parametrize("phase", PHASES)
def test_a_disk_that_refuses_a_frame_fails_the_set_naming_the_file_and_leaves_nothing_half_written(
    tmp_path: Path, counts: Counts, phase: str, full_disk: Callable[[], None]
) -> None:
    bench = _bench()
    moment, nth = _moment(phase, counts)
    bench.faults.at(moment, nth, full_disk)
    ending = _run(tmp_path, bench)
    check_invariants(ending, "write")
    assert ending.report.exit_code == 1 and ending.light_on is False
    assert ".fits" in (ending.report.sets[0].reason or "")
