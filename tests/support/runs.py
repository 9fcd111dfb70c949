"""Helpers for run tests: write a sequence file, run it on a bench with a recording wrapper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drivers.base import Equipment
from drivers.clock import VirtualClock
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from tests.support.recording import CallLog, Recording

SEQUENCE = """\
name: {name}
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {{gain: 100, offset: 50, temperature: -10}}
brightness: {{target: 50%, tolerance: 10%}}
settle: {{after_light_on: 3s, after_light_off: 3s}}
flat_sets:
{sets}
"""


def write_sequence(tmp: Path, sets: str, name: str = "test", extra: str = "") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(SEQUENCE.format(name=name, sets=sets) + extra)
    return path


def recorded_run(path: Path, out: Path, bench: Bench | None = None, **kwargs: Any) -> tuple[RunReport, Bench, CallLog]:
    clock = kwargs.pop("clock", None) or (bench.clock if bench else VirtualClock())
    bench = bench or Bench(sensor="small", seed=1, clock=clock)
    log = CallLog(clock)
    equipment = Equipment(
        camera=Recording(bench.camera, "camera", log),
        panel=Recording(bench.panel, "panel", log),
        wheel=Recording(bench.wheel, "wheel", log),
    )
    report = run_file(path, RunContext(clock=clock, output_dir=out, equipment=equipment, quiet=True, **kwargs))
    return report, bench, log


def manifest_of(run_dir: Path) -> dict[str, Any]:
    """A run directory's manifest, as JSON."""
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    return data


def dry_run_directory(tmp: Path, sets: str = "  - {filter: Ha, exposure: 2s, count: 3}") -> Path:
    """The run directory of a small dry run (its manifest, frames and journal), for tests that damage one."""
    report = run_file(
        write_sequence(tmp, sets, name="small"), RunContext(dry_run=True, output_dir=tmp / "out", quiet=True)
    )
    assert report.exit_code == 0 and report.run_dir is not None, report.error
    return report.run_dir
