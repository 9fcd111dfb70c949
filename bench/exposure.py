"""Exposure search at a fixed light: trials per search, ours vs N.I.N.A.'s Auto Exposure Flat, on the simulated
bench, in one run.

    .venv/bin/python bench/exposure.py [--seeds 2] [--verbose] [--min 0.05] [--max 30]

The suite: lights held at one level (a switch-only panel, a PWM panel at a few fixed brightnesses, an EL panel
with a gamma curve at one brightness, a flickering PWM panel, a light switched by hand) × cameras (linear, and
one whose low end is not: a 30 ms shutter travel adds light to every exposure) × filters (L R G B, then Ha OIII
SII, each in order as a sequence), on the small simulated sensor and the virtual clock, every frame rendered by
the bench's physics and measured by `frame_stats`. Each search starts with the light on and settled, and the
pedestal from one bias (light off, the camera's shortest exposure), as the sequencer measures it. Both searches
get the same range (--min/--max, N.I.N.A.'s Min/Max Exposure) and the same window (50 % ± 10 %).

- cold: each search alone, nothing known (N.I.N.A.'s situation every time: its search always starts from the
  middle of the range);
- in a run: a sequence's sets in order, each starting where the sequencer starts it (`start_from`: the previous
  set's exposure and the camera's response learnt so far); the first set of a sequence is cold;
- trained: a second run of the same sequences, from the trained table the first left.

Figures count every search (unreachable targets too: both methods spend trials on them) and the reachable ones
alone. Targets (issue 12): mean trials at most N.I.N.A.'s, max 3, trained first trial in the window at least 95 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.base import CameraSettings
from drivers.clock import VirtualClock, wait_until
from sequencer.brightness.autoexposure import nina_exposure_search
from sequencer.brightness.exposure import find_exposure
from sequencer.brightness.exposuretrials import ExposureRange, ExposureResult, LightLevel
from sequencer.brightness.trainedexposure import ExposureTable, LastSearch, start_from
from sequencer.brightness.trials import Window
from sequencer.core.stats import FrameStats, frame_stats
from simulators.devices.bench import Bench

SEQUENCES = (("L", "R", "G", "B"), ("Ha", "OIII", "SII"))
GAIN, OFFSET = 100, 50


@dataclass(frozen=True)
class Light:
    name: str
    options: dict[str, Any]
    brightness: int | None
    """The brightness held (None: a light switched by hand)."""


LIGHTS = (
    Light("switch-only", {"dimmable": False, "pwm_hz": 0}, 255),
    Light("PWM at 96", {"curve": "linear", "pwm_hz": 100}, 96),
    Light("PWM at 24", {"curve": "linear", "pwm_hz": 100}, 24),
    Light("PWM at 6", {"curve": "linear", "pwm_hz": 100}, 6),
    Light("EL gamma 128", {"curve": "gamma", "gamma": 2.2, "pwm_hz": 0}, 128),
    Light("flicker 64", {"curve": "linear", "pwm_hz": 60, "pwm_jitter": 0.3}, 64),
    Light("by hand", {"manual_flux": 20_000.0}, None),
)
CAMERAS: tuple[tuple[str, dict[str, Any]], ...] = (("linear", {}), ("shutter 30ms", {"exposure_offset": 0.03}))


class Rig:
    """One simulated bench with its devices connected, measured the way the sequencer measures."""

    def __init__(self, light: Light, camera: dict[str, Any], seed: int) -> None:
        self.clock = VirtualClock()
        self.bench = Bench(sensor="small", seed=seed, clock=self.clock, **light.options, **camera)
        self.light = light
        self.camera, self.panel, self.wheel = self.bench.camera, self.bench.panel, self.bench.wheel
        for device in (self.camera, self.panel, self.wheel):
            device.connect()
        self.camera.apply(CameraSettings(gain=GAIN, offset=OFFSET))

    def expose(self, seconds: float) -> FrameStats:
        self.camera.start_exposure(seconds, light=True)
        wait_until(self.clock, self.camera.image_ready, timeout=seconds + 30, poll=0.01)
        return frame_stats(self.camera.read_image(), max_adu=self.camera.info.max_adu)

    def pedestal(self) -> float:
        """One bias, the light off, as the run takes it: the frame's median."""
        self.switch(False)
        self.clock.sleep(3.0)
        return self.expose(self.camera.info.exposure_min).median

    def select(self, filter_name: str) -> None:
        self.wheel.move_to(self.wheel.names().index(filter_name))
        wait_until(self.clock, lambda: self.wheel.position() is not None, timeout=30)

    def switch(self, on: bool) -> None:
        if self.light.brightness is None:
            self.bench.manual_light.switch(on)
        elif on:
            self.panel.light_on(self.light.brightness)
        else:
            self.panel.light_off()
        if on:
            self.clock.sleep(5.0)

    def measure(self) -> Callable[[float], FrameStats]:
        return self.expose


@dataclass
class Tally:
    trials: list[int] = field(default_factory=list)
    reachable: list[int] = field(default_factory=list)
    failed: int = 0

    def add(self, result: ExposureResult, reachable: bool) -> None:
        self.trials.append(len(result.trials))
        if reachable:
            self.reachable.append(len(result.trials))
        if not result.ok:
            self.failed += 1

    def merge(self, other: Tally) -> None:
        self.trials += other.trials
        self.reachable += other.reachable
        self.failed += other.failed

    def row(self) -> str:
        def fmt(values: list[int]) -> str:
            return f"{statistics.mean(values):5.2f} {max(values):3d}" if values else "    -   -"

        return f"{fmt(self.trials)} | {fmt(self.reachable)} | {len(self.trials):4d} {self.failed:4d}"


def run_rig(
    rig: Rig, exposures: ExposureRange, verbose: bool
) -> tuple[dict[str, Tally], list[bool]]:  # fmt: skip
    """The suite's sequences on one rig: each set cold, by N.I.N.A., in a run; then the trained second run."""
    tallies = {name: Tally() for name in ("nina", "cold", "in a run", "trained")}
    window = Window.from_target(0.5, 0.1, rig.camera.info.max_adu)
    table = ExposureTable()
    light = None if rig.light.brightness is None else LightLevel(rig.light.brightness, 0, 255)
    trained: list[str] = []
    for sequence in SEQUENCES:
        last: LastSearch | None = None
        for filter_name in sequence:
            rig.select(filter_name)
            pedestal = rig.pedestal()
            rig.switch(True)
            key = ("sim camera", filter_name, GAIN, OFFSET, 1, rig.light.brightness)

            def ours(start: float | None = None, prior: Any = None, p: float = pedestal) -> ExposureResult:
                return find_exposure(rig.measure(), window, exposures, pedestal_adu=p, start=start, prior=prior,
                                     light=light)  # fmt: skip

            nina = nina_exposure_search(rig.measure(), window, exposures)
            cold = ours()
            start, prior = start_from(None, key, window, pedestal, last)
            in_run = ours(start, prior)
            reachable = nina.ok or cold.ok or in_run.ok
            for name, result in (("nina", nina), ("cold", cold), ("in a run", in_run)):
                tallies[name].add(result, reachable)
            if in_run.ok and in_run.exposure is not None and in_run.response is not None:
                last = LastSearch(in_run.response, in_run.exposure, rig.light.brightness)
                flat = in_run.flat
                table.record(key, in_run.exposure, response=in_run.response, mean_adu=flat.mean if flat else None)
                trained.append(filter_name)
            if verbose:
                path = ",".join(f"{t.exposure:g}" for t in in_run.trials)
                print(
                    f"  {rig.light.name:12s} {filter_name:4s} nina {len(nina.trials):2d}{'' if nina.ok else '!'} "
                    f"cold {len(cold.trials)}{'' if cold.ok else '!'} run {len(in_run.trials)}"
                    f"{'' if in_run.ok else '!'} [{path}] {in_run.reason or ''}"
                )
    hits: list[bool] = []
    for filter_name in trained:  # the second run: each set that succeeded starts from the trained table
        rig.select(filter_name)
        pedestal = rig.pedestal()
        rig.switch(True)
        key = ("sim camera", filter_name, GAIN, OFFSET, 1, rig.light.brightness)
        start, prior = start_from(table, key, window, pedestal, None)
        result = find_exposure(
            rig.measure(), window, exposures, pedestal_adu=pedestal, start=start, prior=prior, light=light
        )
        tallies["trained"].add(result, True)
        hits.append(result.trials[0].in_window)
        if verbose and not result.trials[0].in_window:
            print(f"  trained miss {rig.light.name} {filter_name} start {start} [{result.trials[0].mean:.0f} ADU]")
    return tallies, hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2, help="bench seeds per light and camera (default 2)")
    parser.add_argument("--verbose", action="store_true", help="one line per search")
    parser.add_argument("--min", type=float, default=0.05, help="shortest exposure both searches may use (s)")
    parser.add_argument("--max", type=float, default=30.0, help="longest exposure both searches may use (s)")
    args = parser.parse_args(argv)
    exposures = ExposureRange(args.min, args.max)
    totals = {name: Tally() for name in ("nina", "cold", "in a run", "trained")}
    hits: list[bool] = []
    print(f"exposures {exposures.describe()}; window 50 % ± 10 %")
    print("light        camera        method    | all: mean max | reachable: mean max | searches failed")
    for light in LIGHTS:
        for camera_name, camera in CAMERAS:
            per_rig = {name: Tally() for name in totals}
            for seed in range(args.seeds):
                tallies, rig_hits = run_rig(Rig(light, camera, seed), exposures, args.verbose)
                hits += rig_hits
                for name, tally in tallies.items():
                    per_rig[name].merge(tally)
                    totals[name].merge(tally)
            for name, tally in per_rig.items():
                print(f"{light.name:12s} {camera_name:13s} {name:9s} | {tally.row()}")
    print()
    for name, tally in totals.items():
        print(f"{'everything':26s} {name:9s} | {tally.row()}")
    return report(totals, hits)


def report(totals: dict[str, Tally], hits: list[bool]) -> int:
    nina = totals["nina"]
    hit_rate = sum(hits) / len(hits) if hits else 0.0

    def ratio(ours: list[int], theirs: list[int]) -> float:
        return statistics.mean(ours) / statistics.mean(theirs)

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print()
    print("targets: mean trials at most N.I.N.A.'s, max 3 (reachable searches; all searches in brackets)")
    met: dict[str, bool] = {}
    for name in ("cold", "in a run"):
        tally = totals[name]
        r_reach, r_all = ratio(tally.reachable, nina.reachable), ratio(tally.trials, nina.trials)
        worst, worst_all = max(tally.reachable), max(tally.trials)
        print(
            f"  {name:9s} mean {r_reach:4.0%} of N.I.N.A.'s ({r_all:.0%}): {verdict(r_reach <= 1.0)};"
            f"  max {worst} ({worst_all}): {verdict(worst_all <= 3)}"
        )
        met[f"{name} mean"], met[f"{name} max"] = r_reach <= 1.0 and r_all <= 1.0, worst_all <= 3
    trained = totals["trained"]
    print(
        f"  trained   first trial in the window {hit_rate:.1%} of {len(hits)} searches: {verdict(hit_rate >= 0.95)};"
        f"  mean {ratio(trained.trials, nina.reachable):.0%} of N.I.N.A.'s, max {max(trained.trials)}"
    )
    met["trained hits"] = hit_rate >= 0.95
    missed = [name for name, good in met.items() if not good]
    print("PASS" if not missed else f"MISS: {', '.join(missed)}")
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
