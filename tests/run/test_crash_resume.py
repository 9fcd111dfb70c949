"""SIGKILL a real-time run at 20 seeded moments, then resume it: every run ends complete, every dark-flat
matching its flats, no frame number taken twice, no unfinished file left, and the panel off.

The devices live in another process (`flatseq sim alpaca`), as real equipment does: a killed run leaves the
panel on and the camera exposing there, and only the resume's recovery can put them right.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from drivers.alpaca.panel import AlpacaCoverCalibrator
from drivers.alpaca.url import open_alpaca
from drivers.base import LightState
from drivers.clock import SystemClock, wait_until
from drivers.registry import OpenContext
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from tests.support.alpaca import sim_alpaca
from tests.support.runs import manifest_of

MOMENTS = 20
SEED = 2026
MATCH = ("EXPTIME", "GAIN", "OFFSET", "XBINNING", "YBINNING", "READOUTM", "FLATSET")

SEQUENCE = """\
name: crash and resume
equipment:
  camera: {base}/camera/0
  panel: {base}/covercalibrator/0
  filter_wheel: {base}/filterwheel/0
camera: {{gain: 100, offset: 50}}
settle: {{after_light_on: 0.1s, after_light_off: 0.1s}}
flat_sets:
  - {{filter: L, exposure: 0.25s, count: 2, dark_flats: 2}}
  - {{filter: R, exposure: 0.25s, count: 2, dark_flats: 2}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`flatseq sim alpaca` on a free 127.0.0.1 port, real time, with a panel that settles and a wheel that turns
    quickly (the waits are not what is tested); its base URL (alpaca://127.0.0.1:PORT)."""
    with sim_alpaca("--seed", "7") as (base, _):
        yield base


def _killed_run(sequence: Path, out: Path, delay: float) -> Path:
    """Start a real run, wait until it has a run directory, let it go on `delay` seconds, SIGKILL it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "run", str(sequence), "--output", str(out), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        clock = SystemClock()
        assert wait_until(clock, lambda: any(out.glob("*/manifest.json")), timeout=60, poll=0.02)
        clock.sleep(delay)
    finally:
        process.kill()
        process.wait(30)
    (run_dir,) = (p.parent for p in out.glob("*/manifest.json"))
    return run_dir


def _panel_state(base: str) -> LightState:
    panel = open_alpaca(f"{base}/covercalibrator/0", OpenContext(clock=SystemClock()))
    assert isinstance(panel, AlpacaCoverCalibrator)
    panel.connect()
    try:
        return panel.light_state()
    finally:
        panel.disconnect()


def _check_complete(run_dir: Path, manifest: dict[str, Any]) -> None:
    assert manifest["status"] == "finished", manifest.get("reason")
    for flat_set in manifest["sets"]:
        assert flat_set["status"] == "ok", flat_set
        flats = [f for f in flat_set["flats"] if not f["rejected"]]
        darks = [f for f in flat_set["dark_flats"] if not f["rejected"]]
        assert len(flats) == 2 and len(darks) == 2, flat_set["id"]
        for kind in ("flats", "dark_flats"):
            numbers = [f["frame_no"] for f in flat_set[kind]]
            assert len(numbers) == len(set(numbers)), f"{flat_set['id']} {kind}: a number taken twice: {numbers}"
        flat = fits.getheader(run_dir / flats[0]["file"])
        for dark in darks:
            header = fits.getheader(run_dir / dark["file"])
            assert all(header[key] == flat[key] for key in MATCH), (flat_set["id"], dark["file"])
            assert abs(header["CCD-TEMP"] - flat["CCD-TEMP"]) <= 1.0
    on_disk = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.fits"))
    assert on_disk == sorted(f["file"] for f in manifest["files"])
    assert not list(run_dir.rglob(".*.part"))


@pytest.mark.slow
def test_twenty_sigkilled_runs_all_complete_on_resume(server: str, tmp_path: Path) -> None:
    sequence = tmp_path / "crash.yaml"
    sequence.write_text(SEQUENCE.format(base=server))
    moments = random.Random(SEED)
    for moment in range(MOMENTS):
        out = tmp_path / f"run-{moment:02d}"
        run_dir = _killed_run(sequence, out, delay=moments.uniform(0.0, 3.0))
        report = run_file(sequence, RunContext(clock=SystemClock(), resume=run_dir, quiet=True))
        assert report.exit_code == 0, (moment, report.summary())
        manifest = manifest_of(run_dir)
        _check_complete(run_dir, manifest)
        assert manifest["resumes"], "the resume is recorded"
        assert _panel_state(server) is LightState.OFF
