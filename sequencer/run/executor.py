"""What each step does to the equipment during a real (or simulated) run: the machine's executor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import assert_never

from drivers.base import CameraSettings, LightState
from drivers.errors import InvalidOperation
from sequencer.brightness.response import PanelResponse
from sequencer.brightness.search import find_brightness
from sequencer.brightness.state import initial_brightness
from sequencer.brightness.trained import TrainedTable
from sequencer.brightness.trials import Window, search_failure
from sequencer.core.stats import FrameStats, frame_stats
from sequencer.core.units import format_duration
from sequencer.plan.kinds import StepKind
from sequencer.plan.model import FlatSet, Plan, Step
from sequencer.run.autoexposure import ExposureFinder
from sequencer.run.capture import (
    LightReachedDarkFlat,
    Measured,
    Recorder,
    SetFailed,
    capture_dark_flats,
    capture_flats,
    is_fatal,
    measure_frame,
)
from sequencer.run.darkflats import FlatsTaken, refusal_before, sample_of
from sequencer.run.manual import ManualLight, leak_hint
from sequencer.run.operator import Operator
from sequencer.run.preflight import settings_for
from sequencer.run.resume import SetResume, missing_dark_flats, still_matches
from sequencer.run.setstate import SetEvents, SetState
from sequencer.run.skyflats import SkyFlats

__all__ = ["RunExecutor", "SetEvents", "SetState", "is_fatal"]

Progress = Callable[[str, int, int, Measured, int | None], None]


class RunExecutor:
    """Executes plan steps on the devices; one step at a time, called by the state machine."""

    def __init__(
        self,
        plan: Plan,
        op: Operator,
        recorder: Recorder,
        trained: TrainedTable | None,
        *,
        events: SetEvents,
        progress: Progress,
    ) -> None:
        self.plan = plan
        self.op = op
        self.recorder = recorder
        self.trained = trained
        self.events = events
        self.progress = progress
        self.sets: dict[str, SetState] = {}
        self.pedestals: dict[tuple[int, int, int, int, float], float] = {}
        self.current_settings: CameraSettings | None = None
        self.current_brightness: int | None = None
        self.current_set: FlatSet | None = None
        self._handlers = {kind: self._handler(kind) for kind in StepKind}
        self.resumed: dict[str, SetResume] = {}
        """What each set of a resumed run already has on disk (`flatseq run --resume`)."""
        self.exposures = ExposureFinder(op, trained, events=events, progress=progress, pedestal=self.pedestal)
        self.run_dir: Path | None = None
        """Where the run writes (for what a refusal tells the user to do), once it exists."""
        self.sky = SkyFlats(op, recorder, self.pedestal, progress)
        """The sky sets' twilight, plans and exposures (`panel: sky`)."""

    @property
    def camera(self) -> str:
        return self.op.eq.camera.name

    def use_settings(self, settings: CameraSettings) -> None:
        if settings != self.current_settings:
            self.op.apply_settings(settings)
            if settings.temperature is not None:
                self.op.cool(
                    settings.temperature, self.plan.camera.cooling_timeout, self.plan.camera.temperature_tolerance
                )
            self.current_settings = settings  # only once reached: a set after a cooling timeout waits again

    def pedestal(self, settings: CameraSettings) -> float:
        """The frame level with no light (offset + read pattern), from one bias per camera setting.

        Taken with the light off; it lets the brightness search reason about signal, not raw ADU.
        """
        key = (settings.gain, settings.offset, settings.binning, settings.readout_mode, settings.temperature or 0.0)
        if key not in self.pedestals:
            info = self.op.eq.camera.info
            self.op.start_exposure(max(info.exposure_min, 0.0), light=False)
            exp = self.op.finish_exposure("bias")
            self.pedestals[key] = frame_stats(exp.frame, max_adu=info.max_adu).median
        return self.pedestals[key]

    # ---- steps ----

    def execute(self, step: Step) -> None:
        self._handlers[step.kind](step)

    def _handler(self, kind: StepKind) -> Callable[[Step], None]:
        """The one place that says what each step kind does to the equipment."""
        match kind:
            case StepKind.CLOSE_COVER | StepKind.OPEN_COVER:
                return self._cover
            case StepKind.SELECT_FILTER:
                return lambda step: self.op.select_filter(step.filter or "")
            case StepKind.WAIT:
                return self._wait
            case StepKind.LIGHT_ON:
                return self._light_on
            case StepKind.LIGHT_OFF:
                return self._light_off
            case StepKind.FIND_BRIGHTNESS:
                return lambda step: self._find_brightness(self._set(step))
            case StepKind.FIND_EXPOSURE:
                return lambda step: self._find_exposure(self._set(step))
            case StepKind.FLATS:
                return lambda step: self._flats(self._set(step))
            case StepKind.DARK_FLATS:
                return lambda step: self._dark_flats(self._set(step))
            case _:
                assert_never(kind)

    def _cover(self, step: Step) -> None:
        panel = self.op.eq.panel
        if not panel.has_cover:
            if not step.if_present:
                self.op.journal("note", message=f"{panel.name} has no cover: {step.kind} does nothing")
            return
        self.op.move_cover(close=step.kind is StepKind.CLOSE_COVER)

    def _wait(self, step: Step) -> None:
        self.op.waits.waiting(f"{step.purpose or 'wait'} {format_duration(step.seconds or 0.0)}", None)
        start = self.op.clock.now()
        self.op.stop.sleep(self.op.clock, step.seconds or 0.0)
        self.op.timeline.add("settle", self.op.clock.now() - start)

    def _light_off(self, step: Step) -> None:
        fs = self.plan.sets.get(step.set_id or "") or (self._next_set(step, StepKind.DARK_FLATS) if step.sky else None)
        if fs is not None and isinstance(self.op.eq.panel, ManualLight):  # a resumed set's first step, maybe:
            state = self._state(fs)  # its settings and pedestal, for test frames to tell the dark by
            self.use_settings(state.settings)
            self.pedestal(state.settings)
        self.op.light_off()
        self.current_brightness = None

    def _set(self, step: Step) -> FlatSet:
        assert step.set_id is not None
        return self.plan.sets[step.set_id]

    def _state(self, fs: FlatSet) -> SetState:
        self.current_set = fs
        if fs.id not in self.sets:
            settings, mode_name = settings_for(self.plan, fs, self.op.eq.camera.info)
            max_adu = self.op.eq.camera.info.max_adu
            window = Window.from_target(fs.target, fs.tolerance, max_adu)
            state = SetState(settings, mode_name, window, exposure=fs.exposure)
            resumed = self.resumed.get(fs.id)
            if resumed is not None:  # what the set already has on disk counts, and its numbers continue
                state.earlier = resumed.earlier
                state.exposure = state.exposure or resumed.exposure
                state.flat_tally, state.dark_tally = resumed.flat_tally(fs), resumed.dark_tally(fs)
            self.sets[fs.id] = state
            self.events.set_started(fs, state)
        return self.sets[fs.id]

    def _trained_key(self, fs: FlatSet) -> tuple[str, str, float, int, int, int]:
        assert fs.exposure is not None, "a brightness search is at a fixed exposure"
        return (self.camera, fs.filter or "", fs.exposure, fs.gain, fs.offset, fs.binning)

    def _light_on(self, step: Step) -> None:
        fs = self.plan.sets.get(step.set_id or "") or self._next_set(step)
        if fs is not None:
            state = self._state(fs)
            self.use_settings(state.settings)
            self._read_back(fs, state)
            self.pedestal(state.settings)
        brightness = step.brightness
        low, high = self.op.eq.panel.brightness_range
        if brightness is None and fs is not None and fs.auto is not None:
            # an exposure search holds the light at its brightness, or at the panel's top
            brightness = fs.auto.brightness if fs.auto.brightness is not None else high
        if brightness is None and fs is not None:
            state = self._state(fs)
            if self.trained is not None:
                brightness = self.trained.start_for(self._trained_key(fs), state.window, (low, high))
            if brightness is None:
                brightness = initial_brightness(
                    state.window, (low, high), prior=self._prior(fs), pedestal_adu=self.pedestal(state.settings)
                )
        if brightness is None:
            brightness = (low + high) // 2
        brightness = min(max(brightness, low), high)
        self.op.light_on(brightness)
        self.current_brightness = brightness

    def _read_back(self, fs: FlatSet, state: SetState) -> None:
        """At the set boundary: the settings as the camera reports them, which must be what the set asks (the
        fields the camera cannot report excepted); they go into every frame's header."""
        camera = self.op.eq.camera
        actual = camera.read_settings()
        diffs = state.settings.differences(actual, ignore=camera.info.unreported)
        if diffs:
            raise SetFailed(
                fs.id, "the camera did not take the set's settings (asked != read back: " + "; ".join(diffs) + ")"
            )
        state.settings_read = actual
        self.events.settings_read(fs, actual)
        resumed = self.resumed.get(fs.id)
        if resumed is not None and state.earlier:
            self.keep_earlier_or_start_over(fs, state, resumed)

    def keep_earlier_or_start_over(self, fs: FlatSet, state: SetState, resumed: SetResume) -> None:
        """A resumed set's earlier flats are kept only if the camera still reads back their settings and a
        temperature within tolerance; otherwise they are superseded and the whole set is taken again."""
        camera = self.op.eq.camera
        actual = state.settings_read or camera.read_settings()
        reason = still_matches(resumed, actual, camera.temperature(), fs.temperature_tolerance, camera.info.unreported)
        if reason is None:
            return
        self.events.superseded(fs, reason)
        resumed.start_over(reason)
        state.earlier, state.exposure = [], fs.exposure  # taken again: an exposure found before is searched again
        state.flat_tally, state.dark_tally = resumed.flat_tally(fs), resumed.dark_tally(fs)

    def _prior(self, fs: FlatSet) -> PanelResponse | None:
        """What is known of the panel for this set: its own trained response, else the shape learnt with this
        camera and settings on another filter (in this run or an earlier one)."""
        if self.trained is None:
            return None
        key = self._trained_key(fs)
        return self.trained.response_for(key) or self.trained.panel_prior(key)

    def _next_set(self, step: Step, *kinds: StepKind) -> FlatSet | None:
        """In the explicit form (and sky flats') a light_on belongs to the flat set that follows it; the cap
        before sky dark-flats, to the first set whose dark-flats follow."""
        after = self.plan.steps[self.plan.steps.index(step) + 1 :]
        opens = kinds or (StepKind.FIND_BRIGHTNESS, StepKind.FIND_EXPOSURE, StepKind.FLATS)
        for later in after:
            if later.set_id is not None and later.kind in opens:
                return self.plan.sets[later.set_id]
        return None

    def _measure(self, fs: FlatSet, state: SetState) -> Callable[[int], FrameStats]:
        info = self.op.eq.camera.info
        exposure = state.exposure
        assert exposure is not None, "a brightness search is at a fixed exposure"

        def measure(brightness: int) -> FrameStats:
            if brightness != self.current_brightness:
                self.op.light_on(brightness)
                self.current_brightness = brightness
            self.op.start_exposure(exposure, light=True)
            exp = self.op.finish_exposure("trials")
            m = Measured(exp, measure_frame(self.op, fs, exp.frame, info.max_adu))
            state.kept_trial = m
            state.trials += 1
            self.progress("trial", state.trials, 0, m, brightness)
            return m.stats

        return measure

    def _search(self, fs: FlatSet, state: SetState, start: int | None) -> Measured:
        panel = self.op.eq.panel
        if panel.light_state() is LightState.OFF:
            raise InvalidOperation(panel.name, "the light is off: cannot search for a brightness")
        assert state.exposure is not None
        result = find_brightness(
            self._measure(fs, state),
            state.window,
            panel.brightness_range,
            exposure=state.exposure,
            start=start,
            pedestal_adu=self.pedestal(state.settings),
            max_trials=fs.max_trials,
            prior=self._prior(fs),
        )
        self.events.searched(fs, result)
        if not result.ok or result.brightness is None or state.kept_trial is None:
            raise SetFailed(fs.id, search_failure(result, state.window))
        state.brightness = result.brightness
        if self.trained is not None:
            flat = result.flat
            self.trained.record(
                self._trained_key(fs),
                result.brightness,
                response=result.response,
                mean_adu=flat.stats.mean if flat is not None else None,
                recorded_at=self.op.clock.now(),
            )
        kept, state.kept_trial = state.kept_trial, None
        return kept

    def _find_brightness(self, fs: FlatSet) -> None:
        state = self._state(fs)
        if fs.fixed_brightness is not None:
            return
        state.kept_trial = None
        first = self._search(fs, state, self.current_brightness)
        state.kept_trial = first

    def _find_exposure(self, fs: FlatSet) -> None:
        state = self._state(fs)
        if fs.sky is not None:
            self.use_settings(state.settings)
            self._read_back(fs, state)  # each sky set starts here: its settings, as the camera reads them back
            self.sky.find_level(fs, state)
            return
        if state.exposure is not None:  # a resumed set: its flats so far were found to need this exposure
            self.op.journal("note", message=f"set {fs.id}: exposure {state.exposure:g} s, found before the resume")
            return
        state.kept_trial = None
        if isinstance(self.op.eq.panel, ManualLight):
            state.kept_trial = self.exposures.find(fs, state, None)
            return
        assert fs.auto is not None
        held = fs.auto.brightness
        if held is not None and held != self.current_brightness:  # find_exposure's own brightness (PWM: at once)
            self.op.light_on(held)
            self.current_brightness = held
        state.kept_trial = self.exposures.find(fs, state, self.current_brightness)

    def _flats(self, fs: FlatSet) -> None:
        state = self._state(fs)
        if fs.sky is not None:
            self.sky.flats(fs, state)
            return
        first, state.kept_trial = state.kept_trial, None
        if state.brightness is None:
            state.brightness = self.current_brightness
        if state.exposure is None:
            raise SetFailed(fs.id, "no exposure: the exposure search did not run")
        info = self.op.eq.camera.info
        fixed = fs.fixed_brightness is not None
        # At a found exposure a drifting light cannot be chased (the dark-flats must match every flat): misses
        # count against the rejection budget, as at a fixed brightness.
        searchable = not fixed and fs.auto is None
        state.flats = capture_flats(
            self.op,
            fs,
            state.exposure,
            None if fixed else state.window,
            self.recorder,
            brightness=lambda: self.current_brightness or 0,
            first=first,
            research=(lambda: self._search(fs, state, self.current_brightness)) if searchable else None,
            max_adu=info.max_adu,
            progress=self.progress,
            tally=state.flat_tally,
        )

    def _dark_flats(self, fs: FlatSet) -> None:
        state = self._state(fs)
        self.use_settings(state.settings)  # already so, unless a resumed run starts with these dark-flats
        try:
            if fs.sky is not None:  # checked exposure by exposure, against the flats of each
                hint = leak_hint(self.plan.file, self.run_dir)
                resumed = self.resumed.get(fs.id)
                lacking = missing_dark_flats(fs, resumed.flats, resumed.dark_flats) if resumed else None
                self.sky.dark_flats(fs, state, leak_hint=hint, lacking=lacking)
                return
            flats = FlatsTaken.of(state.earlier + [sample_of(m.exposure, m.stats.mean) for m in state.flats])
            refusal = refusal_before(self.op, state.taken_with, flats.temperature, fs.temperature_tolerance)
            if refusal:
                raise SetFailed(fs.id, refusal)
            if state.exposure is None:
                raise SetFailed(fs.id, "no exposure for the dark-flats: their flats' exposure was never found")
            self._capture_dark_flats(fs, state, flats)
        except LightReachedDarkFlat:
            if isinstance(self.op.eq.panel, ManualLight):
                self.op.eq.panel.doubt()  # whatever the user confirmed, the light is on: ask again
            raise

    def _capture_dark_flats(self, fs: FlatSet, state: SetState, flats: FlatsTaken) -> None:
        assert state.exposure is not None
        camera = self.op.eq.camera
        capture_dark_flats(
            self.op,
            fs,
            state.exposure,
            self.recorder,
            flat_level=flats.level,
            dark_level=self.pedestal(state.settings),
            flats_seconds=flats.seconds,
            max_adu=camera.info.max_adu,
            progress=self.progress,
            tally=state.dark_tally,
            leak_hint=leak_hint(self.plan.file, self.run_dir) if isinstance(self.op.eq.panel, ManualLight) else None,
        )
