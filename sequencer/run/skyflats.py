"""Sky flats on the equipment: the twilight window found for the run's clock, trials until the sky's level is
known, each flat's exposure predicted (`brightness.skyplan`) and taken from the ladder, and the dark-flats of
every exposure the flats used, each series bound to its flats exactly as a panel set's.

The sky does not wait: a filter that cannot get its flats before the window closes keeps those it got (the set
says how many), and the sets after it get none. A window that has passed, or opens later than `MAX_WAIT`, is
one clear message before anything is exposed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import CameraSettings
from drivers.errors import ConfigError
from sequencer.brightness.skyplan import DARK, SkyPlan
from sequencer.brightness.sun import Site, SunPath
from sequencer.brightness.twilight import Ladder, TwilightWindow, When, twilight_window
from sequencer.core.stats import FrameStats
from sequencer.core.units import format_duration
from sequencer.plan.model import FlatSet, SkySetup
from sequencer.run.capture import Measured, Recorder, SetFailed, Tally, capture_dark_flats, flat_verdict, measure_frame
from sequencer.run.darkflats import FlatSample, FlatsTaken, refusal_before, sample_of
from sequencer.run.operator import Operator
from sequencer.run.setstate import SetState

__all__ = ["MAX_WAIT", "SkyFlats", "SkyTwilight", "find_twilight"]

MAX_WAIT = 3 * 3600.0
"""A run waits this long at most for its window to open; later, it says when to start instead of waiting."""
SPAN = 30 * 3600.0
"""The Sun's path is sampled this far ahead of the run's start: the next twilight of either kind is on it."""
TRIALS_PER_SET = 12
"""Trials a sky set may take before its level must be known (each is a few seconds of twilight)."""
REACH_WAIT = 30.0
"""Seconds between trials while the sky is beyond the ladder (too bright for its shortest exposure at dusk, too
dark for its longest at dawn): the Sun moves about a tenth of a degree, the sky's brightness some 10 %."""
SATURATED = 0.98
"""A trial whose level is this near full scale counts as saturated (it only says "brighter than this")."""

Progress = Callable[[str, int, int, Measured, int | None], None]


@dataclass(frozen=True)
class SkyTwilight:
    """The run's twilight: the Sun's path at the site and the window on it."""

    path: SunPath
    window: TwilightWindow
    ladder: Ladder


def find_twilight(sky: SkySetup, now: float, *, max_wait: float = MAX_WAIT) -> SkyTwilight:
    """The window of `sky.when` under way at `now` or next; a ConfigError (one line) when it has passed or does
    not open within `max_wait`."""
    site = Site(*sky.site)
    path = SunPath(site, now, now + SPAN)
    when: When = "dusk" if sky.when == "dusk" else "dawn"
    try:
        window = twilight_window(path, when, sky.altitudes, now)
    except ConfigError as exc:
        raise ConfigError(f"sky flats: {exc}") from None
    if window.opens - now > max_wait:
        raise ConfigError(
            f"sky flats: the {sky.when} window ({sky.window_text()}) opens in "
            f"{format_duration(window.opens - now)}, Sun now at {path.altitude(now):.1f}°: too late for this "
            f"{sky.when}, or start the run within {format_duration(max_wait)} of it"
        )
    return SkyTwilight(path, window, sky.ladder)


class SkyFlats:
    """The sky sets of one run (the executor hands their find_exposure, flats and dark-flats steps here)."""

    def __init__(
        self,
        op: Operator,
        recorder: Recorder,
        pedestal: Callable[[CameraSettings], float],
        progress: Progress,
    ) -> None:
        self.op = op
        self.recorder = recorder
        self.pedestal = pedestal
        self.progress = progress
        self.twilight: SkyTwilight | None = None
        self.plans: dict[str, SkyPlan] = {}
        """Each sky set's plan: what its trials and flats taught it of the sky."""

    def _twilight(self, fs: FlatSet, sky: SkySetup) -> SkyTwilight:
        if self.twilight is None:
            try:
                self.twilight = find_twilight(sky, self.op.clock.now())
            except ConfigError as exc:  # a resumed run after its twilight: this set cannot get flats now
                raise SetFailed(fs.id, str(exc)) from None
            w = self.twilight.window
            self.op.journal("sky", window_opens=w.opens, window_closes=w.closes, when=w.when, altitudes=w.altitudes)
        return self.twilight

    def _plan(self, fs: FlatSet, state: SetState) -> SkyPlan:
        assert fs.sky is not None
        if fs.id not in self.plans:
            twilight = self._twilight(fs, fs.sky)
            pedestal = self.pedestal(state.settings)
            target = state.window.target_adu - pedestal
            band = fs.tolerance * state.window.target_adu / target if target > 0 else fs.tolerance
            self.plans[fs.id] = SkyPlan(twilight.path, twilight.window, twilight.ladder, target, band)
        return self.plans[fs.id]

    def _wait_until(self, when: float, what: str) -> None:
        wait = when - self.op.clock.now()
        if wait > 0:
            self.op.waits.waiting(f"{what} ({format_duration(wait)})", None)
            self.op.stop.sleep(self.op.clock, wait, chunk=1.0)

    def _frame(self, fs: FlatSet, state: SetState, exposure: float, category: str) -> tuple[Measured, float, bool]:
        """One exposure of the sky: the frame, its signal above the pedestal, whether it saturated."""
        op, info = self.op, self.op.eq.camera.info
        op.start_exposure(exposure, light=True)
        exp = op.finish_exposure(category)
        stats: FrameStats = measure_frame(op, fs, exp.frame, info.max_adu)
        twilight = self.twilight
        assert twilight is not None
        middle = exp.actual_start + exp.actual / 2
        m = Measured(exp, stats, sun_altitude=twilight.path.altitude(middle))
        saturated = stats.saturated_fraction > 0 or stats.level >= SATURATED * info.max_adu
        return m, stats.level - self.pedestal(state.settings), saturated

    def find_level(self, fs: FlatSet, state: SetState) -> None:
        """Trials until the sky's flux is known (the plan's model); waits for the window to open first."""
        plan = self._plan(fs, state)
        window = plan.window
        now = self.op.clock.now()
        if now > window.closes:
            raise SetFailed(fs.id, f"the {window.when} window closed before this set began: no flats")
        self._wait_until(window.opens, f"the {window.when} window to open")
        rungs = plan.ladder.rungs
        out_of_reach = 0
        while (exposure := plan.trial()) is not None:
            if state.trials - out_of_reach >= TRIALS_PER_SET:
                raise SetFailed(fs.id, f"the sky's level is still unknown after {state.trials} trials")
            if self.op.clock.now() > window.closes:
                raise SetFailed(fs.id, f"the {window.when} window closed during the trials: no flats")
            m, signal, saturated = self._frame(fs, state, exposure, "trials")
            state.trials += 1
            self.progress("trial", state.trials, 0, m, None)
            plan.record(m.exposure.actual_start, m.exposure.exposure, signal, saturated=saturated)
            too_bright = saturated and exposure <= rungs[0] and window.when == "dusk"
            too_dark = not saturated and signal < DARK * plan.target and exposure >= rungs[-1]
            if too_bright or too_dark:  # beyond the ladder's reach for now: the sky changes, wait for it
                out_of_reach += 1
                what = "darken" if too_bright else "brighten"
                self._wait_until(self.op.clock.now() + REACH_WAIT, f"the sky to {what} into the ladder's reach")

    def flats(self, fs: FlatSet, state: SetState) -> None:
        """Flats until the count is reached or no rung lands before the window closes."""
        plan = self._plan(fs, state)
        tally = state.flat_tally or Tally(fs.count, fs.count)
        counted, taken = 0, 0
        budget = max(5, fs.count)
        while counted < tally.wanted:
            choice = plan.next(self.op.clock.now())
            if choice is None:
                break
            self._wait_until(choice.start, f"the sky to reach the level of a {choice.exposure:g} s flat")
            m, signal, saturated = self._frame(fs, state, choice.exposure, "flats")
            taken += 1
            reason = flat_verdict(m.stats, state.window)
            assert m.sun_altitude is not None
            if reason is None and not plan.in_window(m.exposure.actual_start, m.exposure.exposure):
                first, last = plan.window.altitudes
                reason = f"Sun at {m.sun_altitude:.2f}° mid-exposure, outside the window {first:g}° to {last:g}°"
            self.recorder.flat(fs, m, brightness=0, frame_no=tally.take_number(), rejected=reason)
            plan.record(m.exposure.actual_start, m.exposure.exposure, signal, saturated=saturated)
            if reason is None:
                counted += 1
                state.flats.append(m.without_pixels())
            elif taken - counted > budget:
                break
            self.progress("flat", tally.done_before + counted, fs.count, m, None)
        if counted < tally.wanted:
            why = self._shortfall(plan, taken - counted > budget)
            state.note = f"{why} with {tally.done_before + counted} of {fs.count} flats"
            self.op.journal("note", message=f"set {fs.id}: {state.note}")
            if counted == 0 and tally.done_before == 0:
                raise SetFailed(fs.id, state.note)

    def _shortfall(self, plan: SkyPlan, missed: bool) -> str:
        """Why a sky set stopped short of its count."""
        if missed:
            return "too many flats missed the level"
        window, now = plan.window, self.op.clock.now()
        if now >= window.closes - plan.ladder.rungs[0]:
            return "the window closed"
        edge = "longest" if window.when == "dusk" else "shortest"
        rung = plan.ladder.rungs[-1 if window.when == "dusk" else 0]
        return f"the sky went beyond the ladder's {edge} exposure ({rung:g} s) before the window closed"

    def dark_flats(
        self, fs: FlatSet, state: SetState, *, leak_hint: str | None, lacking: dict[float, int] | None = None
    ) -> None:
        """`fs.dark_count` dark-flats at each exposure the set's flats used (this run's and, resumed, those on
        disk), each series checked against the flats of its own exposure (level, temperature, timing) as a
        panel set's are. `lacking`: a resumed set's dark-flats still to take, by exposure."""
        by_exposure: dict[float, list[FlatSample]] = {}
        for sample in state.earlier + [sample_of(m.exposure, m.stats.mean) for m in state.flats]:
            if sample.asked is not None:
                by_exposure.setdefault(sample.asked, []).append(sample)
        if not by_exposure:
            raise SetFailed(fs.id, "no sky flats were counted: no dark-flats to take")
        numbers = state.dark_tally or Tally(fs.dark_count, fs.dark_count)
        taken_total = 0
        for exposure in sorted(by_exposure):
            wanted = fs.dark_count if lacking is None else lacking.get(exposure, fs.dark_count)
            if wanted <= 0:
                continue
            flats = FlatsTaken.of(by_exposure[exposure])
            refusal = refusal_before(self.op, state.taken_with, flats.temperature, fs.temperature_tolerance)
            if refusal:
                raise SetFailed(fs.id, f"{refusal} ({exposure:g} s)")
            tally = Tally(wanted, fs.dark_count, next_no=numbers.next_no)
            taken = capture_dark_flats(
                self.op,
                fs,
                exposure,
                self.recorder,
                flat_level=flats.level,
                dark_level=self.pedestal(state.settings),
                flats_seconds=flats.seconds,
                max_adu=self.op.eq.camera.info.max_adu,
                progress=self.progress,
                tally=tally,
                leak_hint=leak_hint,
            )
            numbers.next_no = tally.next_no
            taken_total += len(taken)
            state.dark_taken = taken_total
