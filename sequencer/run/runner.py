"""Running a plan on equipment: open and check the devices, run the steps through the state machine, and
whatever happens, end with the light off, no exposure running, every frame on disk and in the manifest.
"""

from __future__ import annotations

import tempfile
import traceback
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from drivers.base import Equipment
from drivers.clock import Clock, SystemClock, VirtualClock
from drivers.errors import ConfigError, DeviceError, FlatseqError
from drivers.registry import default_registry, open_equipment
from sequencer.brightness.trained import TrainedTable
from sequencer.brightness.trials import SearchResult
from sequencer.core.exits import ExitStatus
from sequencer.output.journal import Journal
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.records import TrialRecord
from sequencer.output.rundir import expand_output_directory, make_run_directory
from sequencer.output.space import bytes_per_frame, check_free_space
from sequencer.output.writer import FrameWriter
from sequencer.plan.compile import load_plan
from sequencer.plan.kinds import StepKind
from sequencer.plan.machine import Sequencer, StepRefused
from sequencer.plan.model import FlatSet, Plan
from sequencer.run.capture import Measured, SetFailed
from sequencer.run.cleanup import Cleanup
from sequencer.run.context import RunContext
from sequencer.run.dryrun import simulated_equipment
from sequencer.run.estimate import estimate
from sequencer.run.executor import RunExecutor, SetState, is_fatal
from sequencer.run.operator import Operator, Timeline
from sequencer.run.preflight import check_against_equipment
from sequencer.run.progress import Progress
from sequencer.run.recording import FrameRecorder
from sequencer.run.report import RunReport, SetOutcome
from sequencer.run.stop import Interrupted, stop_on_signals


def run_file(path: str | Path, context: RunContext | None = None) -> RunReport:
    """Load, validate and run a sequence file. Bad input raises ConfigError before any device is touched."""
    ctx = replace(context or RunContext(), sequence_file=Path(path))
    registry = ctx.registry or default_registry()
    plan = load_plan(path, registry)
    if ctx.dry_run:
        plan = plan.with_equipment(simulated_equipment(plan, registry))
        ctx.clock = ctx.clock or VirtualClock()
        if ctx.output_dir is None:
            ctx.output_dir = Path(tempfile.mkdtemp(prefix="flatseq-dry-run-"))
    return run_plan(plan, replace(ctx, registry=registry))


def run_plan(plan: Plan, context: RunContext | None = None) -> RunReport:
    """Run a compiled plan; the report says how each set and the run ended."""
    ctx = context or RunContext()
    if ctx.handle_signals:
        with stop_on_signals(ctx.stop):
            return _Run(plan, ctx).run()
    return _Run(plan, ctx).run()


class _Run:
    """One run's moving parts; each registers its own undo with `cleanup` as it is acquired."""

    def __init__(self, plan: Plan, ctx: RunContext) -> None:
        self.plan = plan
        self.ctx = ctx
        self.clock: Clock = ctx.clock or SystemClock()
        self.registry = ctx.registry or default_registry()
        self.stop = ctx.stop
        self.timeline = Timeline()
        self.cleanup = Cleanup()
        self.outcomes = {fs.id: SetOutcome(fs.id, fs.label) for fs in plan.sets.values()}
        self.progress = Progress(self.clock, estimate(plan, self.registry).seconds, ctx.stream, ctx.quiet)
        self.started = self.clock.now()
        self.set_states: dict[str, SetState] = {}
        self._ended_at_cleanup: list[str] = []
        self.journal: Journal | None = None
        self.manifest: Manifest | None = None
        self.run_dir: Path | None = None
        # Until the steps say otherwise, a run that stops (even on a bug) stopped as a failure.
        self.status = "failed"
        self.error: str | None = "the run stopped unexpectedly"

    def run(self) -> RunReport:
        exit_code = ExitStatus.OK
        invalid: ConfigError | None = None
        try:
            eq = self._open_equipment()
            op = self._operate(eq)
            op.light_off()  # whatever state the panel was left in, start dark
            executor = self._executor(op)
            check_against_equipment(self.plan, eq)
            self._open_output(eq)
            self.status, self.error = self._steps(executor, op)
        except Interrupted as exc:
            self.status, self.error, exit_code = "interrupted", str(exc), ExitStatus(exc.exit_code)
        except ConfigError as exc:  # found only once the devices answered (ranges, modes, filter names)
            self.status, self.error, invalid = "failed", str(exc), exc
        except FlatseqError as exc:
            self.status, self.error = "failed", str(exc)
        except Exception as exc:  # a bug: the invariant still holds (cleanup below), then it propagates
            self.error = f"internal error: {type(exc).__name__}: {exc}"
            self._journal("internal_error", error=self.error, traceback=traceback.format_exc())
            raise
        finally:
            self._close_outcomes()
            problems = self.cleanup.run()
        if invalid is not None:
            raise invalid
        if problems and not self.error:
            self.status, self.error = "failed", "; ".join(problems)
        failed = [o for o in self.outcomes.values() if o.status in ("failed", "skipped")]
        if exit_code == ExitStatus.OK and (self.status == "failed" or failed):
            exit_code = ExitStatus.FAILED
        return RunReport(
            status=self.status,
            exit_code=exit_code,
            run_dir=self.run_dir,
            manifest_path=self.manifest.path if self.manifest else None,
            elapsed=self.clock.now() - self.started,
            timeline=self.timeline.as_dict(),
            sets=list(self.outcomes.values()),
            error=self.error,
            dry_run=self.ctx.dry_run,
            warnings=list(self.plan.warnings),
        )

    # ---- acquiring, each with its undo ----

    def _open_equipment(self) -> Equipment:
        eq = self.ctx.equipment or open_equipment(
            self.plan.equipment, clock=self.clock, bench=self.ctx.bench, registry=self.registry
        )
        devices = [d for d in (eq.camera, eq.panel, eq.wheel) if d is not None]
        for device in devices:
            self.cleanup.release(f"disconnect {device.name}", device.disconnect)
        for device in devices:
            device.connect()
        return eq

    def _operate(self, eq: Equipment) -> Operator:
        op = Operator(eq, self.clock, self.stop, self.timeline, self._journal)
        self.cleanup.make_safe("light off", op.light_off)
        self.cleanup.make_safe("abort exposure", op.abort_exposure)
        return op

    def _executor(self, op: Operator) -> RunExecutor:
        self.trained = self.ctx.trained if self.ctx.trained is not None else TrainedTable.load()
        if self.trained.problem:
            self.plan.warnings.append(self.trained.problem)
        executor = RunExecutor(
            self.plan,
            op,
            recorder=_LateRecorder(self),
            trained=self.trained,
            on_set_start=self._set_started,
            on_search=self._searched,
            progress=self.progress.frame,
        )
        self.set_states = executor.sets
        return executor

    def _open_output(self, eq: Equipment) -> None:
        info = eq.camera.info
        est = estimate(self.plan, self.registry)
        need = sum(
            (fs.count + fs.dark_count + 2) * bytes_per_frame(info.width // fs.binning, info.height // fs.binning)
            for fs in self.plan.sets.values()
        ) + est.bytes // max(1, est.frames or 1)
        template = str(self.ctx.output_dir) if self.ctx.output_dir is not None else self.plan.output.directory
        started = self.clock.now()
        parent = expand_output_directory(template, at=started)  # absolute, once: every path is built from it
        check_free_space(parent, need)
        rundir = make_run_directory(parent, started=started)
        self.run_dir = rundir.path
        journal = self.journal = Journal(rundir.path / "journal.jsonl", clock=self.clock)
        self.cleanup.release("journal", lambda: self._close_journal(journal))
        trained = self.trained  # written only by a run that got as far as writing files
        self.cleanup.release("trained brightness table", lambda: trained.save() if trained.entries else None)
        manifest = self.manifest = Manifest.create(
            rundir.path / MANIFEST_NAME,
            run_id=rundir.run_id,
            clock=self.clock,
            sequence_file=self.ctx.sequence_file,
            equipment=self.plan.equipment,
            camera=info.name,
        )
        self.cleanup.release("manifest", lambda: self._finish_manifest(manifest))
        self.writer = FrameWriter(rundir.path, clock=self.clock, manifest=manifest, journal=journal)
        self.cleanup.release("writing frames", self.writer.close)
        self.recorder = FrameRecorder(
            self.writer,
            rundir.path,
            rundir.run_id,
            self.plan.output.pattern,
            info,
            eq.panel.brightness_range[1],
            self.set_states,
        )
        journal.log("run_started", run_id=rundir.run_id, equipment=self.plan.equipment, dry_run=self.ctx.dry_run)

    def _journal(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.log(event, **fields)

    # ---- the steps ----

    def _steps(self, executor: RunExecutor, op: Operator) -> tuple[str, str | None]:
        machine = Sequencer(self.plan, executor)
        machine.trigger("prepare")
        journal = self.journal
        assert journal is not None
        for index, step in enumerate(self.plan.steps, 1):
            outcome = self.outcomes.get(step.set_id or "")
            if outcome is not None and outcome.status in ("failed", "skipped"):
                journal.log("step_skipped", index=index, step=step.describe(), set=step.set_id)
                continue
            journal.step_started(index, step.describe(), set=step.set_id)
            try:
                machine.run_step(step)
            except (SetFailed, DeviceError, StepRefused) as exc:
                journal.step_failed(index, step.describe(), exc, set=step.set_id)
                self._set_failed(step.set_id, str(exc), machine, op)
                fs = self.plan.sets.get(step.set_id or "")
                if is_fatal(exc) or fs is None or fs.on_error == "abort":
                    machine.trigger("fail")
                    return "failed", str(exc)
                continue
            journal.step_finished(index, step.describe(), set=step.set_id)
            self._after_step(step.kind, step.set_id)
        machine.trigger("finish")
        return "finished", None

    def _after_step(self, kind: StepKind, set_id: str | None) -> None:
        if set_id is None or self.manifest is None:
            return
        outcome = self.outcomes[set_id]
        fs = self.plan.sets[set_id]
        state = self.set_states.get(set_id)
        if kind is StepKind.FLATS and state is not None:
            outcome.flats = len(state.flats)
        if kind is StepKind.DARK_FLATS or (kind is StepKind.FLATS and fs.dark_count == 0):
            outcome.dark_flats = fs.dark_count if kind is StepKind.DARK_FLATS else 0
            outcome.status = "ok"
            self.writer.flush()
            self.manifest.end_set(set_id, "ok")
            self.progress.say(f"  [{fs.label}] done: {outcome.flats} flats, {outcome.dark_flats} dark-flats")

    def _set_failed(self, set_id: str | None, reason: str, machine: Sequencer, op: Operator) -> None:
        op.abort_exposure()
        try:
            op.light_off()
        except FlatseqError as exc:
            reason += f"; and the light did not switch off: {exc}"
        machine.light_forced_off()
        self.progress.say(f"  FAILED: {reason}")
        if set_id is None:
            return
        outcome = self.outcomes[set_id]
        outcome.status, outcome.reason = "failed", reason
        if self.manifest is not None and set_id in self.set_states:
            self.writer.flush()
            self.manifest.end_set(set_id, "failed", reason)

    def _set_started(self, fs: FlatSet, state: SetState) -> None:
        self.progress.set_started(f"{fs.label}")
        if self.manifest is not None:
            self.manifest.begin_set(
                fs.id,
                filter=fs.filter,
                exposure=fs.exposure,
                settings=state.settings,
                readout_mode_name=state.readout_mode_name,
                flats_planned=fs.count,
                dark_flats_planned=fs.dark_count,
            )

    def _searched(self, fs: FlatSet, result: SearchResult) -> None:
        outcome = self.outcomes[fs.id]
        outcome.trials += len(result.trials)
        outcome.brightness = result.brightness
        if self.manifest is not None:
            trials = [
                TrialRecord(t.brightness, t.stats.mean, t.in_window, t.stats.saturated_fraction) for t in result.trials
            ]
            self.manifest.record_brightness(fs.id, result.brightness, trials, panel_max=self.recorder.panel_max)
        self._journal(
            "brightness",
            set=fs.id,
            ok=result.ok,
            brightness=result.brightness,
            trials=[(t.brightness, round(t.stats.mean, 1)) for t in result.trials],
            reason=result.reason,
        )

    # ---- the end ----

    def _close_outcomes(self) -> None:
        """Sets still pending when the run stops: failed if they had begun, skipped if never reached."""
        for sid, outcome in self.outcomes.items():
            if outcome.status != "pending":
                continue
            if sid in self.set_states:
                outcome.status = "failed"
                outcome.reason = outcome.reason or (self.error or "the run stopped")
                self._ended_at_cleanup.append(sid)
            else:
                outcome.status, outcome.reason = "skipped", "not reached"

    def _finish_manifest(self, manifest: Manifest) -> None:
        for sid in self._ended_at_cleanup:
            reason = self.outcomes[sid].reason
            self.cleanup.attempt("manifest", partial(manifest.end_set, sid, "failed", reason))
        final = self.status if self.status in ("interrupted", "failed") else "finished"
        manifest.finish(final, self.error)

    def _close_journal(self, journal: Journal) -> None:
        journal.log("run_finished", status=self.status, error=self.error, problems=list(self.cleanup.problems))
        journal.close()


class _LateRecorder:
    """The executor is built before the output exists (camera checks come first); forward once it does."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def flat(self, fs: FlatSet, m: Measured, *, brightness: int, frame_no: int, rejected: str | None) -> None:
        self.run.recorder.flat(fs, m, brightness=brightness, frame_no=frame_no, rejected=rejected)

    def dark_flat(self, fs: FlatSet, m: Measured, *, frame_no: int, rejected: str | None) -> None:
        self.run.recorder.dark_flat(fs, m, frame_no=frame_no, rejected=rejected)
