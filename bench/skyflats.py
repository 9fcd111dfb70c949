"""Sky flats at dusk and dawn: usable flats per twilight and the fraction inside the window, ours (predictive,
on a ladder) vs a reactive scaler (next exposure = last × target / measured: N.I.N.A.'s, SGP's, CCDciel's,
ACP's method), on the simulated bench, in one run.

    .venv/bin/python bench/skyflats.py [--date 2026-12-02] [--count 40] [--overhead 3] [--dark-minutes 30] [--verbose]

The suite: dusk and dawn at 30°, 45° and 60° N (2° E) on the date, the Sun from −2° to −10°; filters Ha B G R
L at dusk (the one needing the most light first) and the reverse at dawn, `--count` flats each; the small
simulated sensor on the virtual clock, every frame rendered by the bench's physics through the filter in the
beam (the sky changing during each exposure) and measured by `frame_stats`; `--overhead` seconds after each
frame (a full-frame camera's download and the file write). Both methods get the same trials (the sky's level
unknown at first: a saturated trial is followed by one 8× shorter, a dark one by one 8× longer), the same
exposure range (0.01-60 s) and window (50 % ± 10 %); a filter is given up when the method cannot reach the
window any more (ours: no rung lands before the Sun leaves the window; reactive: the exposure it asks for is
out of the range, on the side the sky moves away from, twice running; on the other side it waits 10 s and
takes one at the range's end, as the others' "wait for the sky" does). A flat is usable when its level is
within the window and the Sun at its mid-exposure within −2° to −10°. The dark-flats each method's flats need
(10 of each distinct exposure) are counted too: a reactive scaler's flats all have their own exposure; and
"calibrated" counts the usable flats whose dark-flats fit in `--dark-minutes` after the twilight (the
exposures with the most flats first), what a user capping the telescope for that long can actually use.

Targets (issue 13): ≥ 95 % of our sky flats in the window, ≥ 1.3× the usable flats of the reactive baseline.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from drivers.base import CameraSettings
from drivers.clock import VirtualClock, wait_until
from sequencer.brightness.skyplan import SkyPlan
from sequencer.brightness.sun import Site, SunPath
from sequencer.brightness.trials import Window
from sequencer.brightness.twilight import DEFAULT_WINDOW, Ladder, TwilightWindow, filter_order, twilight_window
from sequencer.core.stats import frame_stats
from simulators.devices.bench import Bench
from simulators.physics.sky import TwilightSky

LATITUDES = (30.0, 45.0, 60.0)
LONGITUDE = 2.0
SUITES = {
    "LRGB+Ha 7 nm": (("L", "R", "G", "B", "Ha"), {}),
    "3 nm SHO": (
        ("SII", "Ha", "OIII"),
        {"transmission.sii": 0.010, "transmission.ha": 0.012, "transmission.oiii": 0.015},
    ),
}
"""Each suite's filters (taken in `filter_order`: at dusk the one needing the most light first) and its bench
options."""
DARK_FLATS = 10
GAIN, OFFSET = 100, 50
SHORTEST, LONGEST = 0.01, 60.0
WAIT = 10.0
"""The reactive scaler, asked for an exposure the sky will soon allow, waits this long before the next."""


@dataclass
class Tally:
    usable: int = 0
    flats: int = 0
    in_window: int = 0
    exposures: set[float] = field(default_factory=set)
    short: list[str] = field(default_factory=list)
    by_exposure: Counter[float] = field(default_factory=Counter)
    """Usable flats per exposure."""
    covered: int = 0
    """Usable flats whose dark-flats fit in the dark-flat budget after their twilight."""

    def cover(self, budget: float, overhead: float) -> None:
        """Count the usable flats whose exposure's dark-flats fit in `budget` seconds, the exposures with the
        most flats first (what a user capping the telescope for that long can calibrate)."""
        spent = 0.0
        for exposure, flats in self.by_exposure.most_common():
            cost = DARK_FLATS * (exposure + overhead)
            if spent + cost > budget:
                continue
            spent += cost
            self.covered += flats

    def dark_hours(self, overhead: float) -> float:
        """The dark-flats these flats need: DARK_FLATS of each distinct exposure, with the overhead each."""
        return sum(DARK_FLATS * (e + overhead) for e in self.exposures) / 3600

    def row(self, overhead: float) -> str:
        share = self.in_window / max(self.flats, 1)
        dark = f"{DARK_FLATS * len(self.exposures):5d} ({self.dark_hours(overhead):4.2f})"
        return (
            f"{self.usable:6d} {self.flats:5d} {share:9.1%} {len(self.exposures):9d} {dark} {self.covered:7d} | "
            f"{', '.join(self.short) or '-'}"
        )

    def add(self, other: Tally) -> None:
        self.usable += other.usable
        self.flats += other.flats
        self.in_window += other.in_window
        self.exposures |= other.exposures
        self.covered += other.covered


class Rig:
    """The bench looking at the twilight sky: camera and wheel connected, the pedestal from a capped bias."""

    def __init__(self, site: Site, start: float, overhead: float, options: dict[str, float]) -> None:
        self.clock = VirtualClock(start)
        self.bench = Bench(sensor="small", seed=5, clock=self.clock, **options)
        self.camera, self.wheel = self.bench.camera, self.bench.wheel
        self.camera.connect()
        self.wheel.connect()
        self.camera.apply(CameraSettings(gain=GAIN, offset=OFFSET))
        self.pedestal = self.expose(self.camera.info.exposure_min)[0]
        self.bench.sky = TwilightSky(site.latitude, site.longitude, 0.0, start=start - 3600, hours=6)
        self.overhead = overhead
        self.window = Window.from_target(0.5, 0.1, self.camera.info.max_adu)

    def expose(self, seconds: float) -> tuple[float, bool]:
        self.camera.start_exposure(seconds, light=True)
        wait_until(self.clock, self.camera.image_ready, timeout=seconds + 30, poll=0.01)
        stats = frame_stats(self.camera.read_image(), max_adu=self.camera.info.max_adu)
        return stats.mean, stats.saturated_fraction > 0.001

    def select(self, name: str) -> None:
        self.wheel.move_to(self.wheel.names().index(name))
        wait_until(self.clock, lambda: self.wheel.position() is not None, timeout=30)

    def close(self) -> None:
        self.bench.close()


def run_filter(rig: Rig, plan: SkyPlan, count: int, reactive: bool, tally: Tally) -> int:
    """One filter's flats by one method; returns how many were usable."""
    clock, target = rig.clock, rig.window.target_adu - rig.pedestal
    usable, last, misses = 0, None, 0
    while usable < count and clock.now() < plan.window.closes:
        exposure = plan.trial()
        flat = exposure is None
        if exposure is None and not reactive:
            choice = plan.next(clock.now())
            if choice is None:
                break
            clock.sleep(max(choice.start - clock.now(), 0.0))
            exposure = choice.exposure
        elif exposure is None:
            assert last is not None
            wanted = last[0] * target / max(last[1], 1.0)
            waits = wanted < SHORTEST if plan.window.when == "dusk" else wanted > LONGEST
            if waits:  # the sky will come into reach: wait a little, then take another at the range's end
                clock.sleep(WAIT)
            misses = misses + 1 if not (SHORTEST <= wanted <= LONGEST or waits) else 0
            if misses >= 2:
                break
            exposure = float(f"{min(max(wanted, SHORTEST), LONGEST):.3g}")
        start = clock.now()
        mean, saturated = rig.expose(exposure)
        signal = mean - rig.pedestal
        plan.record(start, exposure, signal, saturated=saturated)
        last = (exposure, signal)
        if flat:
            inside = plan.in_window(start, exposure)
            good = rig.window.contains(mean) and not saturated
            tally.flats += 1
            tally.in_window += good
            tally.exposures.add(exposure)
            usable += good and inside
            if good and inside:
                tally.by_exposure[exposure] += 1
        clock.sleep(rig.overhead)
    return usable


def run_twilight(
    site: Site, when: str, day: datetime, suite: str, args: argparse.Namespace, reactive: bool
) -> Tally:  # fmt: skip
    noon = day.replace(hour=12, tzinfo=UTC).timestamp() - LONGITUDE / 15 * 3600
    span = (noon, noon + 12 * 3600) if when == "dusk" else (noon - 12 * 3600, noon)
    path = SunPath(site, *span)
    window: TwilightWindow = twilight_window(path, "dusk" if when == "dusk" else "dawn", DEFAULT_WINDOW, span[0])
    dusk_order, options = SUITES[suite]
    rig = Rig(site, window.opens - 120, args.overhead, options)
    tally = Tally()
    filters = filter_order(dusk_order, "dusk" if when == "dusk" else "dawn")
    ladder = Ladder(SHORTEST, LONGEST)
    try:
        rig.clock.sleep(max(window.opens - rig.clock.now(), 0.0))
        for name in filters:
            rig.select(name)
            plan = SkyPlan(path, window, ladder, target=rig.window.target_adu - rig.pedestal, tolerance=0.1)
            began = rig.clock.now()
            got = run_filter(rig, plan, args.count, reactive, tally)
            if args.verbose:
                alt = (path.altitude(began), path.altitude(rig.clock.now()))
                print(f"    {name:3s} {got:3d} usable, Sun {alt[0]:6.2f}° → {alt[1]:6.2f}°")
            tally.usable += got
            if got < args.count:
                tally.short.append(f"{name} {got}/{args.count}")
    finally:
        rig.close()
    tally.cover(args.dark_minutes * 60, args.overhead)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", default="2026-12-02")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--overhead", type=float, default=3.0)
    parser.add_argument("--dark-minutes", type=float, default=30.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    day = datetime.fromisoformat(args.date)
    totals = {"ours": Tally(), "reactive": Tally()}
    print(f"{args.date}, Sun −2° to −10°, {args.count} flats per filter, window 50 % ± 10 %")
    print(f"dark-flats: {DARK_FLATS} per distinct exposure, {args.overhead:g} s overhead each")
    print(f"calibrated: usable flats whose dark-flats fit in {args.dark_minutes:g} min after the twilight")
    print("suite         twilight    method   | usable flats in-window exposures dark-flats (h) calibrated | short")
    for suite in SUITES:
        for latitude in LATITUDES:
            for when in ("dusk", "dawn"):
                for method in ("ours", "reactive"):
                    site = Site(latitude, LONGITUDE)
                    tally = run_twilight(site, when, day, suite, args, reactive=method == "reactive")
                    totals[method].add(tally)
                    print(f"{suite:13s} {latitude:3.0f}° N {when:5s} {method:8s} | {tally.row(args.overhead)}")
    ours, theirs = totals["ours"], totals["reactive"]
    share = ours.in_window / max(ours.flats, 1)
    ratio = ours.usable / max(theirs.usable, 1)
    print()
    print(f"ours: {ours.usable} usable, {share:.1%} of {ours.flats} sky flats in the window")
    print(f"reactive: {theirs.usable} usable, {theirs.in_window / max(theirs.flats, 1):.1%} in the window")
    print(f"usable flats, ours / reactive: {ratio:.2f}×")
    calibrated = ours.covered / max(theirs.covered, 1)
    print(f"usable flats with their dark-flats in {args.dark_minutes:g} min, ours / reactive: {calibrated:.2f}×")
    print(
        f"dark-flats: ours {DARK_FLATS * len(ours.exposures)} ({ours.dark_hours(args.overhead):.2f} h), reactive "
        f"{DARK_FLATS * len(theirs.exposures)} ({theirs.dark_hours(args.overhead):.2f} h)"
    )
    ok = share >= 0.95 and ratio >= 1.3
    print("targets (≥ 95 % in the window, ≥ 1.3× the reactive usable flats):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
