"""What a run is given from outside: its clock, where its devices and files come from, how it reports.

Everything is injected: tests hand in a virtual clock, a bench or recording devices; the CLI hands in
nothing but the options the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from drivers.base import Equipment
from drivers.clock import Clock
from drivers.registry import Registry
from sequencer.brightness.trained import TrainedTable
from sequencer.run.cleanup import DEVICE_ACTION_SECONDS
from sequencer.run.stop import StopToken
from sequencer.run.terminal import Terminal

LIGHT_TIMEOUT = 600.0
"""Seconds a light switched by hand may take to be confirmed on or off (`--light-timeout`)."""


@dataclass
class RunContext:
    """The run's surroundings; every field has a working default.

    `clock`: the run's time (a `SystemClock`, or a `VirtualClock` for dry runs). `dry_run`: every device swapped
    for its simulator. `output_dir`: overrides the sequence's output directory (a temporary one for dry runs).
    `equipment` / `bench` / `registry`: devices given ready-made, a simulated bench the `sim://` devices
    share, the registry URLs are opened with. `trained`: the trained brightness table (default: the user's).
    `stop`: set to stop the run safely; `handle_signals` routes Ctrl-C and SIGTERM to it. `stream` / `quiet`:
    where progress goes. `sequence_file`: recorded in the manifest. `cleanup_limit`: seconds each device action
    of the cleanup may take before it is given up (a frozen server). `resume`: a run directory whose crashed
    run this one finishes (`flatseq run FILE --resume RUN_DIR`). `terminal`: where to ask the user to switch a
    light by hand (`panel: manual`); None: nobody to ask, test frames tell. `light_timeout`: how long a switch by
    hand may take to be confirmed. `simulator`: a dry run's bench options (`dryrun.bench_options`: `--fault`,
    `--seed`).
    """

    clock: Clock | None = None
    dry_run: bool = False
    output_dir: str | Path | None = None
    equipment: Equipment | None = None
    bench: Any = None
    registry: Registry | None = None
    trained: TrainedTable | None = None
    stop: StopToken = field(default_factory=StopToken)
    handle_signals: bool = False
    stream: TextIO | None = None
    quiet: bool = False
    sequence_file: Path | None = None
    cleanup_limit: float = DEVICE_ACTION_SECONDS
    resume: Path | None = None
    terminal: Terminal | None = None
    light_timeout: float = LIGHT_TIMEOUT
    simulator: dict[str, str] = field(default_factory=dict)
    at: str | None = None
    """A dry run's start (`--at`) when no clock is given: an ISO date and time, without a zone in the site's
    local time for sky flats (UTC otherwise). Without it a sky dry run starts now, others on 2026-01-01."""
