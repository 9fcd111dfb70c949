"""A run for the stacker tests: a dry run (simulated bench, virtual clock) of one set in which the panel dims
for a moment, so some flats are REJECTED (and land in rejected/), then its masters; plus the helpers the
tests that drive Siril and Chromium share."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from drivers.clock import VirtualClock
from sequencer.cli import main
from simulators.devices.bench import Bench
from tests.support.runs import recorded_run, write_sequence

SET = "01-Ha-4s"


def run_with_rejected_flats(tmp: Path, *, count: int = 12, dark_flats: int = 12, formats: str = "both") -> Path:
    """The run directory of a dry run whose 8th exposure finds the panel at 60 %: a few flats rejected, a new
    search, `count` good flats; then `flatseq master RUN --format formats`."""
    clock = VirtualClock()
    bench = Bench(sensor="small", seed=4, clock=clock)
    original = bench.camera.start_exposure
    started = {"n": 0}

    def expose(seconds: float, light: bool) -> None:
        started["n"] += 1
        if started["n"] == 8:
            bench.panel.set_brightness(int(bench.panel.brightness() * 0.6))
        original(seconds, light)

    bench.camera.start_exposure = expose  # type: ignore[method-assign]
    sequence = write_sequence(tmp, f"  - {{filter: Ha, exposure: 4s, count: {count}, dark_flats: {dark_flats}}}\n")
    report, _, _ = recorded_run(sequence, tmp / "out", bench=bench)
    assert report.exit_code == 0 and report.run_dir is not None, report.summary()
    assert main(["master", str(report.run_dir), "--format", formats]) == 0
    return report.run_dir


def siril(folder: Path, script: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`siril-cli -d FOLDER -s SCRIPT` with a throwaway HOME (Siril writes its settings there)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    return subprocess.run(
        ["siril-cli", "-d", str(folder), "-s", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel())[0, 1])
