"""Dead time between frames on the real clock: IMX455 frames from the simulator, FITS writing on.

Dead time = from the moment an image has been read to the start of the next exposure. Overhead = the run's
time inside each series beyond Σ(exposure + readout), where readout is the camera's nominal readout plus its
download (`read_image`) time, as a fraction of Σ(exposure + readout). The baseline in the same run is the
naive loop most capture scripts use: read, measure, write the FITS, then start the next exposure.

Target: median dead time under 50 ms, overhead under 2 %.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from astropy.io import fits

from drivers.base import Equipment
from drivers.clock import SystemClock
from sequencer.brightness.trained import TrainedTable
from sequencer.core.stats import frame_stats
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench

SEQUENCE = """\
name: dead time bench
equipment:
  camera: sim://camera?sensor=imx455
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {{gain: 100, offset: 50}}
settle: {{after_light_on: 0.5s, after_light_off: 0.5s}}
flat_sets:
  - {{filter: G, exposure: {exposure}s, count: {count}}}
"""


class TimedCamera:
    """Passes every call through, noting when exposures start and when images have been read."""

    def __init__(self, camera: Any) -> None:
        self._camera = camera
        self.events: list[tuple[str, float, float, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._camera, name)

    def start_exposure(self, seconds: float, light: bool) -> None:
        t = time.monotonic()
        self._camera.start_exposure(seconds, light)
        self.events.append(("start", t, seconds, light))

    def read_image(self) -> Any:
        t0 = time.monotonic()
        frame = self._camera.read_image()
        self.events.append(("read", time.monotonic(), time.monotonic() - t0, None))
        return frame


def series_figures(events: list[tuple[str, float, float, Any]], readout: float) -> tuple[list[float], float, float]:
    """Dead times, Σ(exposure + readout) and the overhead inside back-to-back series of real exposures."""
    dead: list[float] = []
    busy = 0.0
    overhead = 0.0
    for i in range(len(events) - 2):
        kind, t_start, seconds, light = events[i]
        if kind != "start" or seconds < 0.01:
            continue
        read_kind, t_read, download, _ = events[i + 1]
        next_kind, t_next, next_seconds, next_light = events[i + 2]
        if read_kind != "read" or next_kind != "start" or next_seconds != seconds or next_light != light:
            continue
        # the next exposure may start before this image is read (pipelined): dead time is then zero
        dead.append(max(0.0, t_next - t_read))
        frame_time = seconds + readout + download
        busy += frame_time
        overhead += max(0.0, (t_next - t_start) - frame_time)
    return dead, busy, overhead


def naive_baseline(bench: Bench, exposure: float, count: int, out: Path) -> list[float]:
    """Read, measure, write, then expose again: the dead time a sequential loop pays per frame."""
    camera = bench.camera
    clock = bench.clock
    dead = []
    camera.start_exposure(exposure, True)
    for n in range(count):
        clock.sleep(exposure)
        while not camera.image_ready():
            clock.sleep(0.01)
        frame = camera.read_image()
        t_read = time.monotonic()
        frame_stats(frame)
        fits.PrimaryHDU(frame).writeto(out / f"naive_{n}.fits")
        if n + 1 < count:
            camera.start_exposure(exposure, True)
            dead.append(time.monotonic() - t_read)
    return dead


def main() -> int:
    exposure, count = 1.0, int(sys.argv[1]) if len(sys.argv) > 1 else 8
    with tempfile.TemporaryDirectory(prefix="flatseq-deadtime-") as tmp:
        out = Path(tmp)
        seq = out / "deadtime.yaml"
        seq.write_text(SEQUENCE.format(exposure=exposure, count=count))
        clock = SystemClock()
        bench = Bench(sensor="imx455", seed=1, clock=clock)
        camera = TimedCamera(bench.camera)
        equipment = Equipment(camera=camera, panel=bench.panel, wheel=bench.wheel)
        started = time.monotonic()
        report = run_file(
            seq, RunContext(clock=clock, output_dir=out / "run", equipment=equipment, quiet=True,
            trained=TrainedTable.load(out / "trained.json")))  # fmt: skip
        wall = time.monotonic() - started
        if report.exit_code != 0:
            print("\n".join(report.summary()))
            return 1
        readout = bench.camera.info.readout_time
        dead, busy, overhead = series_figures(camera.events, readout)
        bench.camera.connect()
        baseline = naive_baseline(bench, exposure, min(count, 5), out)
    med, base = statistics.median(dead), statistics.median(baseline)
    print(f"IMX455 9576x6388, {exposure:g} s exposures, readout {readout:g} s, FITS writing on, {wall:.0f} s run")
    print(f"  back-to-back frame pairs measured: {len(dead)} (flats and dark-flats, {count} each)")
    print(f"  median dead time: ours {med * 1000:.2f} ms, naive read-measure-write loop {base * 1000:.0f} ms"
          f"  -> ratio ours/naive {med / base:.4f}")  # fmt: skip
    print(f"  max dead time: {max(dead) * 1000:.1f} ms")
    print(f"  overhead: {overhead:.3f} s over {busy:.1f} s of exposure + readout = {overhead / busy:.2%}"
          "  (target < 2 %)")  # fmt: skip
    print(
        f"  targets: median dead time < 50 ms: {'met' if med < 0.05 else 'NOT met'}; "
        f"overhead < 2 %: {'met' if overhead / busy < 0.02 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
