"""Running a plan on equipment: open and check the devices, run the steps through the state machine, and
whatever happens, end with the light off, no exposure running, every frame on disk and in the manifest.
"""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from drivers.base import Equipment
from drivers.clock import Clock, SystemClock, VirtualClock
from drivers.errors import ConfigError, DeviceError, FlatseqError
from drivers.registry import Registry, open_equipment
from sequencer.brightness.trained import TrainedTable
from sequencer.brightness.trials import SearchResult
from sequencer.core.units import format_duration
from sequencer.output.journal import Journal
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.records import Trial
from sequencer.output.rundir import create_run_directory, expand_output_directory
from sequencer.output.writer import FrameWriter, bytes_per_frame, check_free_space
from sequencer.plan.compile import FlatSet, Plan, load_plan
from sequencer.plan.machine import Sequencer, StepRefused
from sequencer.run.capture import SetFailed
from sequencer.run.dryrun import simulated_equipment
from sequencer.run.estimate import estimate
from sequencer.run.executor import RunExecutor, SetState, is_fatal
from sequencer.run.operator import Operator, Timeline
from sequencer.run.progress import Progress
from sequencer.run.recording import FrameRecorder
from sequencer.run.stop import Interrupted, StopToken, stop_on_signals

EXIT_OK, EXIT_SETS_FAILED = 0, 1


@dataclass
class SetOutcome:
    id: str
    label: str
    status: str = "pending"  # ok / failed / skipped / pending
    reason: str | None = None
    brightness: int | None = None
    trials: int = 0
    flats: int = 0
    dark_flats: int = 0


@dataclass
class RunReport:
    status: str  # finished / failed / interrupted
    exit_code: int
    run_dir: Path | None
    manifest_path: Path | None
    elapsed: float
    timeline: dict[str, float]
    sets: list[SetOutcome] = field(default_factory=list)
    error: str | None = None
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = []
        for s in self.sets:
            detail = f"{s.flats} flats + {s.dark_flats} dark-flats"
            if s.brightness is not None:
                detail += f", brightness {s.brightness} after {s.trials} trial{'s' if s.trials != 1 else ''}"
            reason = f": {s.reason}" if s.reason else ""
            lines.append(f"  {s.label:<16} {s.status:<8} {detail}{reason}")
        what = "would take" if self.dry_run else "took"
        cooling = self.timeline.get("cooling", 0.0)
        line = f"{self.status}: the run {what} {format_duration(self.elapsed - cooling)} of real time"
        if cooling > 0:
            line += f" (plus {format_duration(cooling)} cooling the sensor to its set-point)"
        lines.append(line)
        parts = ", ".join(f"{k} {format_duration(v)}" for k, v in self.timeline.items() if v > 0)
        if parts:
            lines.append(f"  ({parts})")
        if self.manifest_path:
            lines.append(f"  manifest: {self.manifest_path}")
        if self.error:
            lines.append(f"  stopped: {self.error}")
        return lines


def run_file(
    path: str | Path,
    *,
    clock: Clock | None = None,
    bench: Any = None,
    output_dir: str | Path | None = None,
    dry_run: bool = False,
    registry: Registry | None = None,
    stop: StopToken | None = None,
    stream: TextIO | None = None,
    quiet: bool = False,
    trained: TrainedTable | None = None,
    equipment: Equipment | None = None,
    handle_signals: bool = False,
) -> RunReport:
    """Load, validate and run a sequence file. Bad input raises ConfigError before any device is touched."""
    plan = load_plan(path)
    if dry_run:
        plan = plan.with_equipment(simulated_equipment(plan))
        clock = clock or VirtualClock()
        if output_dir is None:
            output_dir = Path(tempfile.mkdtemp(prefix="flatseq-dry-run-"))
    return run_plan(
        plan,
        clock=clock or SystemClock(),
        bench=bench,
        output_dir=output_dir,
        dry_run=dry_run,
        registry=registry,
        stop=stop,
        stream=stream,
        quiet=quiet,
        trained=trained,
        equipment=equipment,
        sequence_file=Path(path),
        handle_signals=handle_signals,
    )


def run_plan(
    plan: Plan,
    *,
    clock: Clock,
    bench: Any = None,
    output_dir: str | Path | None = None,
    dry_run: bool = False,
    registry: Registry | None = None,
    stop: StopToken | None = None,
    stream: TextIO | None = None,
    quiet: bool = False,
    trained: TrainedTable | None = None,
    equipment: Equipment | None = None,
    sequence_file: Path | None = None,
    handle_signals: bool = False,
) -> RunReport:
    stop = stop or StopToken()
    if handle_signals:
        with stop_on_signals(stop):
            return _Run(plan, clock, stop, dry_run, stream, quiet).run(
                bench, output_dir, registry, trained, equipment, sequence_file
            )
    return _Run(plan, clock, stop, dry_run, stream, quiet).run(
        bench, output_dir, registry, trained, equipment, sequence_file
    )


class _Run:
    """One run's moving parts, so cleanup can reach all of them."""

    def __init__(self, plan: Plan, clock: Clock, stop: StopToken, dry_run: bool, stream: TextIO | None, quiet: bool):
        self.plan = plan
        self.clock = clock
        self.stop = stop
        self.dry_run = dry_run
        self.timeline = Timeline()
        self.outcomes = {fs.id: SetOutcome(fs.id, fs.label) for fs in plan.sets.values()}
        self.progress = Progress(clock, estimate(plan).seconds, stream, quiet)
        self.started = clock.now()
        self.eq: Equipment | None = None
        self.op: Operator | None = None
        self.journal: Journal | None = None
        self.manifest: Manifest | None = None
        self.writer: FrameWriter | None = None
        self.run_dir: Path | None = None
        self.trained: TrainedTable | None = None

    def run(
        self,
        bench: Any,
        output_dir: str | Path | None,
        registry: Registry | None,
        trained: TrainedTable | None,
        equipment: Equipment | None,
        sequence_file: Path | None,
    ) -> RunReport:
        # Until the steps say otherwise, a run that stops (even on a bug) stopped as a failure.
        status, exit_code = "failed", EXIT_OK
        error: str | None = "the run stopped unexpectedly"
        invalid: ConfigError | None = None
        try:
            self.eq = equipment or open_equipment(self.plan.equipment, clock=self.clock, bench=bench, registry=registry)
            self._connect()
            self.op = Operator(self.eq, self.clock, self.stop, self.timeline, self._journal)
            self.op.light_off()  # whatever state the panel was left in, start dark
            executor = self._executor(trained)
            executor.check_against_camera()
            self._open_output(output_dir, sequence_file)
            status, error = self._steps(executor)
        except Interrupted as exc:
            status, error, exit_code = "interrupted", str(exc), exc.exit_code
        except ConfigError as exc:  # found only once the devices answered (ranges, modes, filter names)
            status, error, invalid = "failed", str(exc), exc
        except FlatseqError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # a bug: the invariant still holds (cleanup below), then it propagates
            error = f"internal error: {type(exc).__name__}: {exc}"
            self._journal("internal_error", error=error, traceback=traceback.format_exc())
            raise
        finally:
            cleanup_error = self._cleanup(status, error)
        if invalid is not None:
            raise invalid
        if cleanup_error and not error:
            status, error = "failed", cleanup_error
        failed = [o for o in self.outcomes.values() if o.status in ("failed", "skipped")]
        if exit_code == EXIT_OK and (status == "failed" or failed):
            exit_code = EXIT_SETS_FAILED
        return RunReport(
            status=status,
            exit_code=exit_code,
            run_dir=self.run_dir,
            manifest_path=self.manifest.path if self.manifest else None,
            elapsed=self.clock.now() - self.started,
            timeline=self.timeline.as_dict(),
            sets=list(self.outcomes.values()),
            error=error,
            dry_run=self.dry_run,
            warnings=list(self.plan.warnings),
        )

    # ---- setup ----

    def _connect(self) -> None:
        assert self.eq is not None
        for device in (self.eq.camera, self.eq.panel, self.eq.wheel):
            if device is not None:
                device.connect()

    def _executor(self, trained: TrainedTable | None) -> RunExecutor:
        assert self.op is not None
        self.set_states: dict[str, SetState] = {}
        self.trained = trained if trained is not None else TrainedTable.load()
        if self.trained.problem:
            self.plan.warnings.append(self.trained.problem)
        executor = RunExecutor(
            self.plan,
            self.op,
            recorder=_LateRecorder(self),
            trained=self.trained,
            on_set_start=self._set_started,
            on_search=self._searched,
            progress=self.progress.frame,
        )
        self.set_states = executor.sets
        return executor

    def _open_output(self, output_dir: str | Path | None, sequence_file: Path | None) -> None:
        assert self.eq is not None
        info = self.eq.camera.info
        est = estimate(self.plan)
        need = sum(
            (fs.count + fs.dark_count + 2) * bytes_per_frame(info.width // fs.binning, info.height // fs.binning)
            for fs in self.plan.sets.values()
        ) + est.bytes // max(1, est.frames or 1)
        template = str(output_dir) if output_dir is not None else self.plan.output.directory
        check_free_space(expand_output_directory(template, at=self.clock.now()), need)
        rundir = create_run_directory(template, clock=self.clock)
        self.run_dir = rundir.path
        self.journal = Journal(rundir.path / "journal.jsonl", clock=self.clock)
        self.manifest = Manifest.create(
            rundir.path / MANIFEST_NAME,
            run_id=rundir.run_id,
            clock=self.clock,
            sequence_file=sequence_file,
            equipment=self.plan.equipment,
            camera=info.name,
        )
        self.writer = FrameWriter(rundir.path, clock=self.clock, manifest=self.manifest, journal=self.journal)
        self.recorder = FrameRecorder(
            self.writer,
            rundir.path,
            rundir.run_id,
            self.plan.output.pattern,
            info,
            self.eq.panel.brightness_range[1],
            self.set_states,
        )
        self.journal.log("run_started", run_id=rundir.run_id, equipment=self.plan.equipment, dry_run=self.dry_run)

    def _journal(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            self.journal.log(event, **fields)

    # ---- the steps ----

    def _steps(self, executor: RunExecutor) -> tuple[str, str | None]:
        machine = Sequencer(self.plan, executor)
        machine.trigger("prepare")
        for index, step in enumerate(self.plan.steps, 1):
            outcome = self.outcomes.get(step.set_id or "")
            if outcome is not None and outcome.status in ("failed", "skipped"):
                self._journal("step_skipped", index=index, step=step.describe(), set=step.set_id)
                continue
            assert self.journal is not None
            self.journal.step_started(index, step.describe(), set=step.set_id)
            try:
                machine.run_step(step)
            except (SetFailed, DeviceError, StepRefused) as exc:
                self.journal.step_failed(index, step.describe(), exc, set=step.set_id)
                fatal = is_fatal(exc)
                self._set_failed(step.set_id, str(exc), machine)
                fs = self.plan.sets.get(step.set_id or "")
                if fatal or (fs is not None and fs.on_error == "abort") or fs is None:
                    machine.trigger("fail")
                    return "failed", str(exc)
                continue
            self.journal.step_finished(index, step.describe(), set=step.set_id)
            self._after_step(step.kind, step.set_id)
        machine.trigger("finish")
        return "finished", None

    def _after_step(self, kind: str, set_id: str | None) -> None:
        if set_id is None or self.manifest is None:
            return
        outcome = self.outcomes[set_id]
        fs = self.plan.sets[set_id]
        state = self.set_states.get(set_id)
        if kind == "flats" and state is not None:
            outcome.flats = len(state.flats)
        if kind == "dark_flats" or (kind == "flats" and fs.dark_count == 0):
            outcome.dark_flats = fs.dark_count if kind == "dark_flats" else 0
            outcome.status = "ok"
            self._drain()
            self.manifest.end_set(set_id, "ok")
            self.progress.say(f"  [{fs.label}] done: {outcome.flats} flats, {outcome.dark_flats} dark-flats")

    def _set_failed(self, set_id: str | None, reason: str, machine: Sequencer) -> None:
        assert self.op is not None
        self.op.abort_exposure()
        try:
            self.op.light_off()
        except FlatseqError as exc:
            reason += f"; and the light did not switch off: {exc}"
        machine.light_forced_off()
        self.progress.say(f"  FAILED: {reason}")
        if set_id is None:
            return
        outcome = self.outcomes[set_id]
        outcome.status, outcome.reason = "failed", reason
        if self.manifest is not None and set_id in self.set_states:
            self._drain()
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
            trials = [Trial(t.brightness, t.stats.mean, t.in_window, t.stats.saturated_fraction) for t in result.trials]
            max_b = self.eq.panel.brightness_range[1] if self.eq else None
            self.manifest.record_brightness(fs.id, result.brightness, trials, panel_max=max_b)
        self._journal(
            "brightness",
            set=fs.id,
            ok=result.ok,
            brightness=result.brightness,
            trials=[(t.brightness, round(t.stats.mean, 1)) for t in result.trials],
            reason=result.reason,
        )

    def _drain(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    # ---- the invariant ----

    def _cleanup(self, status: str, error: str | None) -> str | None:
        """Light off, exposure aborted, files flushed, manifest final. Returns a new error, if any."""
        problems: list[str] = []

        def attempt(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except Exception as exc:
                problems.append(f"{what}: {exc}")

        if self.op is not None:
            attempt("abort exposure", self.op.abort_exposure)
            attempt("light off", self.op.light_off)
        elif self.eq is not None:
            attempt("light off", self.eq.panel.light_off)
        if self.writer is not None:
            attempt("writing frames", self.writer.close)
        manifest = self.manifest
        if manifest is not None:
            for sid, outcome in self.outcomes.items():
                if outcome.status == "pending" and sid in self.set_states:
                    outcome.status = "failed"
                    outcome.reason = outcome.reason or (error or "the run stopped")
                    reason = outcome.reason

                    def end(sid: str = sid, reason: str = reason) -> None:
                        manifest.end_set(sid, "failed", reason)

                    attempt("manifest", end)
                elif outcome.status == "pending":
                    outcome.status, outcome.reason = "skipped", "not reached"
            final = "interrupted" if status == "interrupted" else ("failed" if status == "failed" else "finished")
            attempt("manifest", lambda: manifest.finish(final, error))
        else:
            for outcome in self.outcomes.values():
                if outcome.status == "pending":
                    outcome.status, outcome.reason = "skipped", "not reached"
        if self.trained is not None and self.trained.entries:
            attempt("trained brightness table", self.trained.save)
        if self.journal is not None:
            self._journal("run_finished", status=status, error=error, problems=problems)
            attempt("journal", self.journal.close)
        if self.eq is not None:
            for device in (self.eq.camera, self.eq.panel, self.eq.wheel):
                if device is not None:
                    attempt(f"disconnect {device.name}", device.disconnect)
        return "; ".join(problems) or None


class _LateRecorder:
    """The executor is built before the output exists (camera checks come first); forward once it does."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def flat(self, fs: FlatSet, m: Any, *, brightness: int, frame_no: int, rejected: str | None) -> None:
        self.run.recorder.flat(fs, m, brightness=brightness, frame_no=frame_no, rejected=rejected)

    def dark_flat(self, fs: FlatSet, m: Any, *, frame_no: int, rejected: str | None) -> None:
        self.run.recorder.dark_flat(fs, m, frame_no=frame_no, rejected=rejected)
