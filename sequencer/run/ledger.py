"""The run's books: each flat set's outcome, told to the manifest, the journal and the progress as it happens.

The executor reports set events here (a set begins, its settings are read back, a search ends); the runner
reports steps finishing and sets failing. A set the manifest already has (a resumed run) is taken up again
rather than begun twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from drivers.base import CameraSettings
from sequencer.brightness.exposuretrials import ExposureResult, ExposureTrial
from sequencer.brightness.trials import SearchResult, Trial
from sequencer.output.journal import Journal
from sequencer.output.manifest import Manifest
from sequencer.output.records import ExposureSearchRecord, TrialRecord
from sequencer.output.writer import FrameWriter
from sequencer.plan.kinds import StepKind
from sequencer.plan.model import FlatSet, Plan, SkySetup
from sequencer.plan.sets import PWM_BANDING_SECONDS, SHORT_FLAT_SECONDS
from sequencer.run.cleanup import Cleanup
from sequencer.run.progress import Progress
from sequencer.run.report import SetOutcome
from sequencer.run.resume import supersede
from sequencer.run.setstate import SetState


class Ledger:
    """Outcomes by set id; the manifest, journal and writer once the output exists."""

    def __init__(self, plan: Plan, progress: Progress) -> None:
        self.plan = plan
        self.progress = progress
        self.outcomes = {fs.id: SetOutcome(fs.id, fs.label) for fs in plan.sets.values()}
        self.states: dict[str, SetState] = {}
        self.journal: Journal | None = None
        self.manifest: Manifest | None = None
        self.writer: FrameWriter | None = None
        self.panel_max: int | None = None
        self.ended_at_cleanup: list[str] = []

    def log(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.log(event, **fields)

    # ---- what the executor tells (drivers of `SetEvents`) ----

    def set_started(self, fs: FlatSet, state: SetState) -> None:
        self.progress.set_started(f"{fs.label}")
        if self.manifest is None:
            return
        if any(record.id == fs.id for record in self.manifest.sets):
            self.manifest.reopen_set(fs.id)  # a resumed run takes the set up again
            return
        auto = fs.auto
        self.manifest.begin_set(
            fs.id,
            filter=fs.filter,
            exposure=fs.exposure,
            settings=state.settings,
            readout_mode_name=state.readout_mode_name,
            flats_planned=fs.count,
            dark_flats_planned=fs.dark_count,
            exposure_search=None
            if auto is None
            else ExposureSearchRecord(auto.min, auto.max, auto.step, auto.brightness),
            lights=None if fs.lights is None else fs.lights.model_dump(),
            sky=None if fs.sky is None else sky_record(fs.sky),
        )

    def settings_read(self, fs: FlatSet, settings: CameraSettings) -> None:
        if self.manifest is not None:
            self.manifest.record_settings_read(fs.id, settings)
        self.log("settings_read", set=fs.id, settings=settings)

    def searched(self, fs: FlatSet, result: SearchResult) -> None:
        outcome = self.outcomes[fs.id]
        outcome.trials += len(result.trials)
        outcome.brightness = result.brightness
        if self.manifest is not None:
            trials = [
                TrialRecord(t.brightness, t.stats.mean, t.in_window, t.stats.saturated_fraction) for t in result.trials
            ]
            self.manifest.record_brightness(fs.id, result.brightness, trials, panel_max=self.panel_max)
        self.log(
            "brightness",
            set=fs.id,
            ok=result.ok,
            brightness=result.brightness,
            trials=[(t.brightness, round(t.stats.mean, 1)) for t in result.trials],
            reason=result.reason,
            **_channels(result.trials),
        )

    def searched_exposure(self, fs: FlatSet, result: ExposureResult, brightness: int | None) -> None:
        outcome = self.outcomes[fs.id]
        outcome.trials += len(result.trials)
        outcome.exposure = result.exposure
        outcome.brightness = brightness
        if self.manifest is not None:
            trials = [
                TrialRecord(brightness, t.stats.mean, t.in_window, t.stats.saturated_fraction, t.exposure)
                for t in result.trials
            ]
            self.manifest.record_exposure(fs.id, result.exposure, trials)
            if brightness is not None:
                self.manifest.record_brightness(fs.id, brightness, panel_max=self.panel_max)
        self.log(
            "exposure",
            set=fs.id,
            ok=result.ok,
            exposure=result.exposure,
            brightness=brightness,
            trials=[(t.exposure, round(t.stats.mean, 1)) for t in result.trials],
            reason=result.reason,
            **_channels(result.trials),
        )
        if result.ok and result.exposure is not None:
            self.progress.say(
                f"  [{fs.label}] exposure {result.exposure:g} s, found in {len(result.trials)} "
                f"trial{'s' if len(result.trials) != 1 else ''}"
            )
            self._note_short(fs, result.exposure, brightness)

    def _note_short(self, fs: FlatSet, exposure: float, brightness: int | None) -> None:
        """The plan's warnings about short flats, for an exposure found at run time (in the summary's warnings)."""
        where = f"{self.plan.file}:{fs.line}:{fs.column}: {fs.filter or 'no filter'} {exposure:g}s"
        notes = []
        if exposure < SHORT_FLAT_SECONDS:
            notes.append(
                f"{where} flats are shorter than {SHORT_FLAT_SECONDS:g} s: dark current is negligible there and a "
                "bias may do (the dark-flats are taken anyway)"
            )
        top = self.panel_max
        if exposure < PWM_BANDING_SECONDS and brightness is not None and top is not None and 0 < brightness < top:
            notes.append(
                f"{where} is very short for a panel dimmed to {brightness} of {top} (PWM): frames may show banding; "
                "a lower brightness would lengthen it"
            )
        for note in notes:
            self.plan.warnings.append(note)
            self.log("note", set=fs.id, message=note)

    def superseded(self, fs: FlatSet, reason: str) -> None:
        if self.manifest is not None:
            moved = supersede(self.manifest, fs.id, reason)
            self.log("superseded", set=fs.id, reason=reason, files=moved)
        self.progress.say(f"  [{fs.label}] taken again: {reason}")

    # ---- what the runner tells ----

    def step_done(self, kind: StepKind, set_id: str | None) -> None:
        """A step finished: a set's last step ends the set as ok."""
        if set_id is None or self.manifest is None or self.writer is None:
            return
        outcome, fs, state = self.outcomes[set_id], self.plan.sets[set_id], self.states.get(set_id)
        if kind is StepKind.FLATS and state is not None:
            outcome.flats = len(state.earlier) + len(state.flats)
            outcome.reason = state.note
            if fs.sky is not None:
                outcome.exposures = sorted({m.exposure.exposure for m in state.flats})
                outcome.trials = state.trials
        if kind is StepKind.DARK_FLATS or (kind is StepKind.FLATS and fs.dark_count == 0):
            taken = state.dark_taken if state is not None and state.dark_taken is not None else fs.dark_count
            outcome.dark_flats = taken if kind is StepKind.DARK_FLATS else 0
            self.set_ok(set_id)

    def set_ok(self, set_id: str) -> None:
        outcome, fs = self.outcomes[set_id], self.plan.sets[set_id]
        outcome.status = "ok"
        if self.manifest is not None and self.writer is not None:
            self.writer.flush()
            self.manifest.end_set(set_id, "ok")
        self.progress.say(f"  [{fs.label}] done: {outcome.flats} flats, {outcome.dark_flats} dark-flats")

    def set_failed(self, set_id: str | None, reason: str) -> None:
        self.progress.say(f"  FAILED: {reason}")
        if set_id is None:
            return
        outcome = self.outcomes[set_id]
        outcome.status, outcome.reason = "failed", reason
        if self.manifest is not None and self.writer is not None and set_id in self.states:
            self.writer.flush()
            self.manifest.end_set(set_id, "failed", reason)

    def close_outcomes(self, error: str | None) -> None:
        """Sets still pending when the run stops: failed if they had begun, skipped if never reached."""
        for sid, outcome in self.outcomes.items():
            if outcome.status != "pending":
                continue
            if sid in self.states:
                outcome.status = "failed"
                outcome.reason = outcome.reason or (error or "the run stopped")
                self.ended_at_cleanup.append(sid)
            else:
                outcome.status, outcome.reason = "skipped", "not reached"

    def end_sets_in_manifest(self, manifest: Manifest, cleanup: Cleanup) -> None:
        for sid in self.ended_at_cleanup:
            reason = self.outcomes[sid].reason
            cleanup.attempt("manifest", partial(manifest.end_set, sid, "failed", reason))


def _channels(trials: Sequence[Trial | ExposureTrial]) -> dict[str, Any]:
    """A colour camera's trials in the journal: each one's channel means and the level the search steered by."""
    if not any(t.stats.channels for t in trials):
        return {}
    return {
        "channels": [{k: round(c.mean, 1) for k, c in t.stats.channels.items()} for t in trials],
        "levels": [round(t.stats.level, 1) for t in trials],
    }


def sky_record(sky: SkySetup) -> dict[str, Any]:
    """A sky set in the manifest: where and when, and the ladder its flats' exposures come from."""
    lat, lon, elev = sky.site
    return {
        "site": {"latitude": lat, "longitude": lon, "elevation": elev},
        "when": sky.when,
        "sun_altitude": list(sky.altitudes),
        "ladder": list(sky.ladder.rungs),
        "dark_flats_per_exposure": sky.dark_per_exposure,
    }
