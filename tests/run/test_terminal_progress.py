"""Progress on a real terminal: a real-time run (the system clock) with a cooled camera, its output read from a
pseudo-terminal and replayed on a small screen model (carriage return, erase line, newline): the cooling line
with its temperatures is on screen before the first trial, and the trial lines are still there after the flats
have started (the live line is redrawn; history is not)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

SEQUENCE = """name: cooled, in real time
equipment:
  camera: sim://camera?sensor=small&cool_rate=8&ambient=2&readout=0.05
  panel: sim://panel?warmup=0.05&afterglow=0.05
camera: {gain: 100, offset: 50, temperature: -10, cooling_timeout: 1min}
settle: {after_light_on: 0.2s, after_light_off: 0.2s}
flat_sets:
  - {exposure: 0.2s, count: 4, dark_flats: 2}
"""


def screen(output: str) -> list[str]:
    """What a terminal shows after `output`: lines, with \\r going back to the start and ESC[K erasing."""
    lines, row, col = [""], 0, 0
    i = 0
    while i < len(output):
        ch = output[i]
        if output.startswith("\033[K", i):
            lines[row] = lines[row][:col]
            i += 3
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1 :]
            col += 1
        i += 1
    return lines


def test_cooling_and_trials_stay_on_a_real_terminal(tmp_path: Path) -> None:
    sequence = tmp_path / "cooled.yaml"
    sequence.write_text(SEQUENCE)
    master, slave = pty.openpty()
    env = dict(os.environ, FLATSEQ_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    process = subprocess.Popen(
        [sys.executable, "-m", "sequencer.cli", "run", str(sequence), "--output", str(tmp_path / "out"), "--no-prompt"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break  # bounded: the assertions below say what was missing
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        code = process.wait(timeout=60)
        os.close(master)
    raw = b"".join(chunks).decode("utf-8", "replace")
    shown = screen(raw.replace("\r\n", "\n"))
    assert code == 0, raw
    cooling = [n for n, line in enumerate(shown) if "cooling the sensor to -10 °C, now 2.0 °C" in line]
    cooled = [n for n, line in enumerate(shown) if "cooled: sensor" in line and "set-point -10 °C" in line]
    trials = [n for n, line in enumerate(shown) if " trial #" in line]
    flats = [n for n, line in enumerate(shown) if " flat " in line and "/4 " in line]
    assert cooling and cooled and trials and flats, "\n".join(shown)
    assert cooling[0] < cooled[0] < trials[0] < flats[0]
    assert "\r\033[K" in raw and "cooling: sensor" in raw  # the live cooling line was redrawn in place
    assert len([line for line in shown if " flat " in line and "/4 " in line]) == 1  # one live line, redrawn
    assert all(" trial #" in shown[n] for n in trials)
