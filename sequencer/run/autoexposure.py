"""The exposure search on the equipment: `find_exposure`'s trials taken on the camera at the set's settings,
the light as it is (a switch-only panel, a panel held at one brightness, a light switched by hand).

Its range is the set's within the camera's; it starts where the trained table says (the same filter, settings
and brightness last time), else where the previous set of this run ended (the same light through another
filter: most filters after the first are dimmer, and a shorter start measures what a longer one would clip),
with the camera's lag learnt so far. What it finds becomes the set's exposure, which every flat and every
dark-flat of the set is asked for, and is remembered for the next run.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.base import CameraSettings, LightState
from drivers.errors import InvalidOperation
from sequencer.brightness.exposure import cold_start, find_exposure
from sequencer.brightness.exposuretrials import ExposureRange, ExposureResult, LightLevel
from sequencer.brightness.trained import TrainedTable
from sequencer.brightness.trainedexposure import LastSearch, start_from
from sequencer.brightness.trials import each_unreachable
from sequencer.core.stats import FrameStats
from sequencer.plan.model import FlatSet
from sequencer.run.capture import Measured, SetFailed, measure_frame
from sequencer.run.operator import Operator
from sequencer.run.setstate import SetEvents, SetState

Progress = Callable[[str, int, int, Measured, int | None], None]
ExposureKey = tuple[str, str, int, int, int, int | None]


class ExposureFinder:
    """Runs exposure searches for the executor and remembers, across the run's sets, what the last one found."""

    def __init__(
        self,
        op: Operator,
        trained: TrainedTable | None,
        *,
        events: SetEvents,
        progress: Progress,
        pedestal: Callable[[CameraSettings], float],
    ) -> None:
        self.op = op
        self.trained = trained
        self.events = events
        self.progress = progress
        self.pedestal = pedestal
        self.last: LastSearch | None = None
        """The previous search of this run: its response, the exposure it found, the brightness it held."""

    def exposures(self, fs: FlatSet) -> ExposureRange:
        """The set's range within the camera's, on the set's grid and the camera's timing step."""
        assert fs.auto is not None
        info = self.op.eq.camera.info
        low, high = max(fs.auto.min, info.exposure_min, 1e-6), min(fs.auto.max, info.exposure_max)
        return ExposureRange(low, high, fs.auto.step, info.exposure_resolution)

    def key(self, fs: FlatSet, brightness: int | None) -> ExposureKey:
        return (self.op.eq.camera.name, fs.filter or "", fs.gain, fs.offset, fs.binning, brightness)

    def find(self, fs: FlatSet, state: SetState, brightness: int | None) -> Measured:
        """Search the set's exposure (the light on and settled); its in-window trial is returned, to be kept as
        flat #1. SetFailed with the reason and what would work when no exposure of the range reaches it."""
        panel = self.op.eq.panel
        if panel.light_state() is LightState.OFF:
            raise InvalidOperation(panel.name, "the light is off: cannot search for an exposure")
        pedestal = self.pedestal(state.settings)
        key = self.key(fs, brightness)
        table = self.trained.exposures if self.trained is not None else None
        start, prior = start_from(table, key, state.window, pedestal, self.last)
        low, high = panel.brightness_range
        light = LightLevel(brightness, low, high) if brightness is not None else None
        result = find_exposure(
            self._measure(fs, state),
            state.window,
            self.exposures(fs),
            pedestal_adu=pedestal,
            start=start,
            prior=prior,
            light=light,
            max_trials=fs.max_trials,
        )
        self.events.searched_exposure(fs, result, brightness)
        if not result.ok or result.exposure is None or state.kept_trial is None:
            unreachable = each_unreachable(result.trials[-1].stats, state.window) if result.trials else None
            raise SetFailed(fs.id, unreachable or result.reason or "the exposure search failed")
        state.exposure = result.exposure
        self._remember(key, result)
        kept, state.kept_trial = state.kept_trial, None
        return kept

    def first_trial(self, fs: FlatSet, state: SetState, pedestal: float, brightness: int | None) -> float:
        """The exposure the set's search will start with (a light switched by hand is watched at it)."""
        table = self.trained.exposures if self.trained is not None else None
        start, prior = start_from(table, self.key(fs, brightness), state.window, pedestal, self.last)
        exposures = self.exposures(fs)
        if start is None and prior is not None:
            start = prior.exposure_for(state.window.target_adu)
        return exposures.snap(start) if start is not None else cold_start(exposures)

    def _measure(self, fs: FlatSet, state: SetState) -> Callable[[float], FrameStats]:
        info = self.op.eq.camera.info

        def measure(seconds: float) -> FrameStats:
            self.op.start_exposure(seconds, light=True)
            exposure = self.op.finish_exposure("trials")
            m = Measured(exposure, measure_frame(self.op, fs, exposure.frame, info.max_adu))
            state.kept_trial = m
            state.trials += 1
            self.progress("trial", state.trials, 0, m, None)
            return m.stats

        return measure

    def _remember(self, key: ExposureKey, result: ExposureResult) -> None:
        assert result.exposure is not None
        if result.response is not None:
            self.last = LastSearch(result.response, result.exposure, key[5])
        if self.trained is not None:
            flat = result.flat
            self.trained.exposures.record(
                key,
                result.exposure,
                response=result.response,
                mean_adu=flat.stats.mean if flat is not None else None,
                recorded_at=self.op.clock.now(),
            )
