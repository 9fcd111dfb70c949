"""Running a plan on equipment: open and check the devices, run the steps through the state machine, and
whatever happens, end with the light off, no exposure running, every frame on disk and in the manifest.

A run resumed after a crash (`RunContext.resume`) first recovers its run directory (`recover`), then takes only
what each set still lacks (`resume`), in the same directory and manifest.
"""

from __future__ import annotations

import tempfile
import traceback
from dataclasses import replace
from pathlib import Path

from drivers.base import Equipment, LightState
from drivers.clock import Clock, SystemClock, VirtualClock
from drivers.errors import ConfigError, DeviceError, FlatseqError
from drivers.registry import default_registry
from sequencer.brightness.trained import TrainedTable
from sequencer.core.atomicfile import describe_os_error
from sequencer.core.exits import ExitStatus
from sequencer.output.filenames import validate_pattern
from sequencer.output.journal import JOURNAL_NAME, Journal
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.rundir import expand_output_directory, make_run_directory
from sequencer.output.space import bytes_per_frame, check_free_space
from sequencer.output.writer import FrameWriter
from sequencer.plan.compile import load_plan
from sequencer.plan.kinds import StepKind
from sequencer.plan.machine import Sequencer, StepRefused
from sequencer.plan.model import FlatSet, Plan, Step
from sequencer.run.capture import SetFailed
from sequencer.run.cleanup import Cleanup
from sequencer.run.context import RunContext
from sequencer.run.dryrun import dry_run_start, simulated_equipment
from sequencer.run.equipment import open_run_equipment
from sequencer.run.estimate import estimate
from sequencer.run.executor import RunExecutor, is_fatal
from sequencer.run.handlight import install
from sequencer.run.ledger import Ledger
from sequencer.run.manual import ManualLight
from sequencer.run.operator import Operator, Timeline
from sequencer.run.preflight import check_against_equipment, settings_for
from sequencer.run.progress import Progress
from sequencer.run.recording import FrameRecorder, LateRecorder
from sequencer.run.recover import recover
from sequencer.run.report import RunReport
from sequencer.run.resume import Resume, SetResume, plan_resume, skipped_on_resume, still_matches, supersede
from sequencer.run.skyforecast import sky_window_lines
from sequencer.run.stop import Interrupted, stop_on_signals


def run_file(path: str | Path, context: RunContext | None = None) -> RunReport:
    """Load, validate and run a sequence file. Bad input raises ConfigError before any device is touched."""
    ctx = replace(context or RunContext(), sequence_file=Path(path))
    registry = ctx.registry or default_registry()
    plan = load_plan(path, registry)
    if ctx.dry_run:
        plan = plan.with_equipment(simulated_equipment(plan, registry, bench=ctx.simulator))
        ctx.clock = ctx.clock or VirtualClock(*dry_run_start(plan, ctx.at))
        if ctx.output_dir is None and ctx.resume is None:
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
        self.timeline = Timeline()
        self.cleanup = Cleanup(ctx.cleanup_limit)
        self.light_off = True  # nothing lit yet; the last light-off of the cleanup decides
        self.light_answer: str | None = None
        self.ledger = Ledger(plan, Progress(self.clock, estimate(plan, self.registry).seconds, ctx.stream, ctx.quiet))
        self.started = self.clock.now()
        self.run_dir: Path | None = None
        self.resumed: dict[str, SetResume] = {}
        # Until the steps say otherwise, a run that stops (even on a bug) stopped as a failure.
        self.status = "failed"
        self.error: str | None = "the run stopped unexpectedly"

    def run(self) -> RunReport:
        exit_code = ExitStatus.OK
        invalid: ConfigError | None = None
        try:
            if self.ctx.resume is not None:  # safe equipment and a tidy directory before anything else
                recover(
                    self.ctx.resume,
                    registry=self.registry,
                    clock=self.clock,
                    equipment=self.ctx.equipment,
                    bench=self.ctx.bench,
                    terminal=self.ctx.terminal,
                )
            if self.ctx.resume is None:  # a twilight passed or too far off: refused before any device
                for line in sky_window_lines(self.plan, self.clock.now(), dry_run=self.ctx.dry_run):
                    self.ledger.progress.say(line)
            eq = self._open_equipment()
            op = self._operate(eq)
            op.light_off()  # whatever state the panel was left in, start dark
            if self.ctx.resume is not None and isinstance(eq.panel, ManualLight):
                eq.panel.doubt()  # the crashed run may have left a light by hand on: the next light-off asks
            self._abort_left_over(op)
            executor = self._executor(op)
            check_against_equipment(self.plan, eq)
            self._open_output(eq)
            executor.run_dir = self.run_dir
            self._prepare_resume(executor)
            self.status, self.error = self._steps(executor, op)
        except Interrupted as exc:
            self.status, self.error, exit_code = "interrupted", str(exc), ExitStatus(exc.exit_code)
        except ConfigError as exc:  # found only once the devices answered (ranges, modes, filter names)
            self.status, self.error, invalid = "failed", str(exc), exc
        except FlatseqError as exc:
            self.status, self.error = "failed", str(exc)
        except Exception as exc:  # a bug: the invariant still holds (cleanup below), then it propagates
            self.error = f"internal error: {type(exc).__name__}: {exc}"
            self.ledger.log("internal_error", error=self.error, traceback=traceback.format_exc())
            raise
        finally:
            self.ledger.close_outcomes(self.error)
            problems = self.cleanup.run()
        if invalid is not None:
            raise invalid
        if problems and not self.error:
            self.status, self.error = "failed", "; ".join(problems)
        outcomes = self.ledger.outcomes.values()
        if exit_code == ExitStatus.OK and (self.status == "failed" or any(o.status != "ok" for o in outcomes)):
            exit_code = ExitStatus.FAILED
        if not self.light_off and exit_code in (ExitStatus.OK, ExitStatus.FAILED):
            exit_code = ExitStatus.LIGHT_MAY_BE_ON
        manifest = self.ledger.manifest
        return RunReport(
            status=self.status,
            exit_code=exit_code,
            run_dir=self.run_dir,
            manifest_path=manifest.path if manifest else None,
            elapsed=self.clock.now() - self.started,
            timeline=self.timeline.as_dict(),
            sets=list(outcomes),
            error=self.error,
            dry_run=self.ctx.dry_run,
            warnings=list(self.plan.warnings),
            light_off=self.light_off,
            light_answer=self.light_answer,
        )

    # ---- acquiring, each with its undo ----

    def _open_equipment(self) -> Equipment:
        eq = self.ctx.equipment or open_run_equipment(
            self.plan.equipment, clock=self.clock, bench=self.ctx.bench, registry=self.registry
        )
        devices = [d for d in (eq.camera, eq.panel, eq.wheel) if d is not None]
        for device in devices:
            self.cleanup.release(f"disconnect {device.name}", device.disconnect, bounded=True)
        for device in devices:
            device.connect()
        return eq

    def _operate(self, eq: Equipment) -> Operator:
        op = Operator(eq, self.clock, self.ctx.stop, self.timeline, self.ledger.log, self.ledger.progress)
        # A light switched by hand bounds its own last light-off (the person's timeout), on this thread: the
        # terminal it asks at is this one's.
        manual = isinstance(eq.panel, ManualLight)
        self.cleanup.make_safe("light off", lambda: self._final_light_off(op), bounded=not manual)
        self.cleanup.make_safe("abort exposure", op.abort_exposure)
        return op

    def _final_light_off(self, op: Operator) -> None:
        """The last word on the light: confirmed off, or the run says loudly that it may still be on."""
        if isinstance(op.eq.panel, ManualLight):
            op.eq.panel.closing = True
        try:
            op.light_off()
        except BaseException as exc:
            self.light_off, self.light_answer = False, str(exc) or type(exc).__name__
            raise
        self.light_off, self.light_answer = True, None

    def _abort_left_over(self, op: Operator) -> None:
        """A run killed mid-exposure (or another program) may have left the camera exposing: abort, whatever
        the camera is doing, before any setting is changed."""
        camera = op.eq.camera
        try:
            camera.abort_exposure()
        except DeviceError as exc:
            if is_fatal(exc):
                raise
            self.ledger.log("note", message=f"{camera.name}: nothing to abort at the start ({exc})")

    def _executor(self, op: Operator) -> RunExecutor:
        self.trained = self.ctx.trained if self.ctx.trained is not None else TrainedTable.load()
        if self.trained.problem:
            self.plan.warnings.append(self.trained.problem)
        executor = RunExecutor(
            self.plan,
            op,
            recorder=LateRecorder(lambda: self.recorder),
            trained=self.trained,
            events=self.ledger,
            progress=self.ledger.progress.frame,
        )
        self.ledger.states = executor.sets
        if isinstance(op.eq.panel, ManualLight):
            install(
                op.eq.panel,
                executor,
                terminal=self.ctx.terminal,
                stop=self.ctx.stop,
                timeout=self.ctx.light_timeout,
                progress=self.ledger.progress,
            )
        return executor

    def _open_output(self, eq: Equipment) -> None:
        info = eq.camera.info
        est = estimate(self.plan, self.registry)
        need = sum(
            (fs.count + fs.dark_count + 2) * bytes_per_frame(info.width // fs.binning, info.height // fs.binning)
            for fs in self.plan.sets.values()
        ) + est.bytes // max(1, est.frames or 1)
        resume = self.ctx.resume
        if resume is None:
            template = str(self.ctx.output_dir) if self.ctx.output_dir is not None else self.plan.output.directory
            started = self.clock.now()
            parent = expand_output_directory(template, at=started)  # absolute, once: every path is built from it
            check_free_space(parent, need)
            rundir = make_run_directory(parent, started=started)
            self.run_dir, run_id = rundir.path, rundir.run_id
        else:
            self.run_dir = Path(resume).absolute()
            check_free_space(self.run_dir, need)
        journal = self.ledger.journal = Journal(self.run_dir / JOURNAL_NAME, clock=self.clock)
        self.cleanup.release("journal", lambda: self._close_journal(journal))
        self.cleanup.release("trained brightness table", self._save_trained)  # only by a run that wrote files
        if resume is None:
            manifest = Manifest.create(
                self.run_dir / MANIFEST_NAME,
                run_id=run_id,
                clock=self.clock,
                sequence_file=self.ctx.sequence_file,
                equipment=self.plan.equipment,
                camera=info.name,
                pattern=self.plan.output.pattern,
            )
        else:
            manifest = Manifest.reopen(self.run_dir / MANIFEST_NAME, self.clock)
            run_id = manifest.run_id
        self.ledger.manifest = manifest
        self.cleanup.release("manifest", lambda: self._finish_manifest(manifest))
        pattern = manifest.pattern or self.plan.output.pattern  # a resume keeps the names its run started with
        try:
            validate_pattern(pattern)
        except ConfigError as exc:
            raise ConfigError(f"{manifest.path}: {exc}") from None
        writer = self.ledger.writer = FrameWriter(self.run_dir, clock=self.clock, manifest=manifest, journal=journal)
        panel_max = None if isinstance(eq.panel, ManualLight) else eq.panel.brightness_range[1]
        self.cleanup.release("writing frames", writer.close)
        self.recorder = FrameRecorder(
            writer,
            self.run_dir,
            run_id,
            pattern,
            info,
            panel_max,
            self.ledger.states,
        )
        self.ledger.panel_max = panel_max
        event = "run_resumed" if resume is not None else "run_started"
        journal.log(event, run_id=run_id, equipment=self.plan.equipment, dry_run=self.ctx.dry_run)

    # ---- resuming ----

    def _prepare_resume(self, executor: RunExecutor) -> None:
        """What each set of a resumed run already has; sets whose flats are complete keep them only if the
        camera still reads back their settings and temperature (otherwise they are taken again)."""
        manifest = self.ledger.manifest
        if self.ctx.resume is None or manifest is None or self.ctx.sequence_file is None:
            return
        self.resumed = executor.resumed = plan_resume(self.plan, manifest, self.ctx.sequence_file)
        camera = executor.op.eq.camera
        for fs in self.plan.sets.values():
            resumed = self.resumed[fs.id]
            if resumed.how is Resume.DONE:
                self._already_done(fs, resumed)
            elif resumed.how is Resume.DARK_FLATS:
                executor.use_settings(settings_for(self.plan, fs, camera.info)[0])
                temperature = camera.temperature()
                reason = still_matches(
                    resumed, camera.read_settings(), temperature, fs.temperature_tolerance, camera.info.unreported
                )
                if reason is not None:
                    supersede(manifest, fs.id, reason)
                    resumed.start_over(reason)
        manifest.resumed({sid: r.how.value for sid, r in self.resumed.items()})

    def _already_done(self, fs: FlatSet, resumed: SetResume) -> None:
        outcome = self.ledger.outcomes[fs.id]
        outcome.flats, outcome.dark_flats = len(resumed.flats), len(resumed.dark_flats)
        outcome.reason = "taken before the resume"
        manifest = self.ledger.manifest
        if manifest is not None and manifest.get_set(fs.id).status != "ok":
            manifest.end_set(fs.id, "ok")
        outcome.status = "ok"

    def _skipped_on_resume(self, step: Step) -> bool:
        return skipped_on_resume(self.plan, self.resumed, step, resuming=self.ctx.resume is not None)

    # ---- the steps ----

    def _steps(self, executor: RunExecutor, op: Operator) -> tuple[str, str | None]:
        machine = Sequencer(self.plan, executor)
        machine.trigger("prepare")
        journal = self.ledger.journal
        assert journal is not None
        for index, step in enumerate(self.plan.steps, 1):
            outcome = self.ledger.outcomes.get(step.set_id or "")
            if (outcome is not None and outcome.status in ("failed", "skipped")) or self._skipped_on_resume(step):
                journal.log("step_skipped", index=index, step=step.describe(), set=step.set_id)
                continue
            journal.step_started(index, step.describe(), set=step.set_id)
            if step.set_id in self.plan.sets:  # frames are shown under their own set (sky dark-flats come late)
                self.ledger.progress.set_label = self.plan.sets[step.set_id].label
            try:
                machine.run_step(step)
            except (SetFailed, DeviceError, StepRefused) as exc:
                journal.step_failed(index, step.describe(), exc, set=step.set_id)
                self._set_failed(step.set_id, str(exc), machine, op, keep_sky=step.kind is not StepKind.DARK_FLATS)
                fs = self.plan.sets.get(step.set_id or "")
                if is_fatal(exc) or fs is None or fs.on_error == "abort":
                    machine.trigger("fail")
                    return "failed", str(exc)
                continue
            except BaseException as exc:  # the run stops here (a full disk, Ctrl-C, a bug): say in which step
                journal.step_failed(index, step.describe(), exc, set=step.set_id)
                raise
            journal.step_finished(index, step.describe(), set=step.set_id)
            self.ledger.step_done(step.kind, step.set_id)
        machine.trigger("finish")
        return "finished", None

    def _save_trained(self) -> None:
        """Remember the brightness found; a table that cannot be written costs the next run a few trials, not
        this run its success, so it is a warning."""
        if self.trained.empty:
            return
        try:
            self.trained.save()
        except (OSError, FlatseqError) as exc:
            why = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            warning = (
                f"the trained brightness table {self.trained.path} was not saved ({why}): "
                "the next run searches from scratch"
            )
            self.plan.warnings.append(warning)
            self.ledger.log("warning", message=warning)

    def _set_failed(
        self, set_id: str | None, reason: str, machine: Sequencer, op: Operator, *, keep_sky: bool = False
    ) -> None:
        """The set's exposure stopped and the light switched off (the machine told); but sky flats keep the
        telescope uncapped while the twilight lasts (`keep_sky`): the next filter's flats need the sky."""
        op.abort_exposure()
        panel = op.eq.panel
        if keep_sky and isinstance(panel, ManualLight) and panel.sky and panel.light_state() is not LightState.OFF:
            self.ledger.set_failed(set_id, reason)
            return
        try:
            op.light_off()
        except FlatseqError as exc:
            reason += f"; and the light did not switch off: {exc}"
        machine.light_forced_off()
        self.ledger.set_failed(set_id, reason)

    # ---- the end ----

    def _finish_manifest(self, manifest: Manifest) -> None:
        self.ledger.end_sets_in_manifest(manifest, self.cleanup)
        final = self.status if self.status in ("interrupted", "failed") else "finished"
        manifest.finish(final, self.error, light_off=self.light_off, light_answer=self.light_answer)

    def _close_journal(self, journal: Journal) -> None:
        journal.log("run_finished", status=self.status, error=self.error, problems=list(self.cleanup.problems))
        journal.close()
