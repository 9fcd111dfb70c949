"""Ctrl-C and SIGTERM during a real-time run on the simulators: a safe stop, exit 130 / 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SEQUENCE = """\
name: signals
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel?warmup=0.1
  filter_wheel: sim://filterwheel?move_time=0.1
camera: {gain: 100, offset: 50}
settle: {after_light_on: 0.3s, after_light_off: 0.3s}
flat_sets:
  - {filter: L, exposure: 0.5s, count: 40}
"""


def _files_listed(run_root: Path) -> int:
    manifests = list(run_root.glob("*/manifest.json"))
    if not manifests:
        return 0
    try:
        return len(json.loads(manifests[0].read_text())["files"])
    except (ValueError, KeyError):
        return 0


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_run_safely(tmp_path: Path, signum: int, code: int) -> None:
    seq = tmp_path / "signals.yaml"
    seq.write_text(SEQUENCE)
    out = tmp_path / "out"
    env = {**os.environ, "FLATSEQ_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "run", str(seq), "--output", str(out), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while _files_listed(out) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.05)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, (stdout, stderr)
    assert "Traceback" not in stderr + stdout
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    listed = {f["file"] for f in manifest["files"]}
    assert listed == {p.relative_to(run).as_posix() for p in run.rglob("*.fits")}
    assert not [p for p in run.rglob("*") if p.name.startswith(".")], "temporary files left"
    journal = [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines()]
    panel_calls = [e["call"] for e in journal if e["event"] == "device" and e.get("call", "").startswith("light")]
    assert panel_calls[-1] == "light_off"
    assert "interrupted" in stdout
