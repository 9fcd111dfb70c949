"""`flatseq recover RUN_DIR`, and the first thing `flatseq run --resume` does: after a crash (SIGKILL, a power
cut, a frozen machine), the equipment is put in the safe state and the run directory in order.

The light off (confirmed, or said loudly that it may not be), the cover as the sequence wants it at the end,
any exposure aborted; temporary `.part` files removed; frames that landed whole but never reached the
manifest put back in it from their own headers; a manifest left "running" marked "crashed", its running sets
failed. Nothing is ever deleted but unfinished temporary files.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import CoverState, Equipment, LightState
from drivers.clock import Clock, SystemClock, wait_until
from drivers.errors import ConfigError, FlatseqError
from drivers.registry import Registry, default_registry
from sequencer.output.adopt import adopt, frames_on_disk, temporary_files
from sequencer.output.journal import JOURNAL_NAME, Journal
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.plan.compile import load_plan
from sequencer.plan.kinds import StepKind
from sequencer.run.equipment import open_run_equipment
from sequencer.run.manual import ManualLight
from sequencer.run.stop import StopToken
from sequencer.run.terminal import Terminal, TerminalConfirm

LIGHT_TIMEOUT = 600.0
"""Seconds the user has to confirm a light switched by hand off."""

CRASHED = "the run stopped without finishing (killed, or the power went)"
COVER_SECONDS = 60.0


@dataclass
class Recovery:
    """What recovering a run found and did."""

    run_dir: Path
    status_before: str
    light_off: bool = False
    light_answer: str | None = None
    cover: str | None = None
    removed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    ended_sets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What to tell the user, the light last."""
        out = [f"{self.run_dir}: the run was {self.status_before}"]
        if self.ended_sets:
            out.append(f"  marked crashed; sets left unfinished: {', '.join(self.ended_sets)}")
        if self.adopted:
            out.append(f"  {len(self.adopted)} frame(s) on disk put back in the manifest: {', '.join(self.adopted)}")
        if self.removed:
            out.append(f"  {len(self.removed)} unfinished temporary file(s) removed")
        out += [f"  {note}" for note in self.notes]
        if self.cover:
            out.append(f"  cover {self.cover}")
        out.append(
            "  light off"
            if self.light_off
            else f"THE PANEL MAY STILL BE ON: switching it off failed ({self.light_answer}); check it"
        )
        return out


def recover(
    run_dir: Path,
    *,
    registry: Registry | None = None,
    clock: Clock | None = None,
    equipment: Equipment | None = None,
    bench: Any = None,
    terminal: Terminal | None = None,
) -> Recovery:
    """Recover one run directory (see the module docstring); ConfigError if it holds no flatseq manifest.
    A light switched by hand (`panel: manual`) is asked off at `terminal`; with none, flatseq cannot know."""
    run_dir = Path(run_dir).absolute()
    path = run_dir / MANIFEST_NAME
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no {MANIFEST_NAME} here: not a flatseq run directory")
    clock = clock or SystemClock()
    manifest = Manifest.reopen(path, clock)
    found = Recovery(run_dir, manifest.status)
    found.removed = [str(p.relative_to(run_dir)) for p in temporary_files(run_dir)]
    for temp in temporary_files(run_dir):
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _make_safe(found, manifest, registry or default_registry(), clock, equipment, bench, terminal)
    found.adopted = _adopt_orphans(manifest, run_dir)
    if manifest.status == "running":
        found.ended_sets = manifest.crashed(CRASHED, light_off=found.light_off, light_answer=found.light_answer)
    with Journal(run_dir / JOURNAL_NAME, clock=clock) as journal:
        journal.log(
            "recovered",
            sync=True,
            status_before=found.status_before,
            light_off=found.light_off,
            light_answer=found.light_answer,
            removed=found.removed,
            adopted=found.adopted,
            ended_sets=found.ended_sets,
        )
    return found


def _make_safe(
    found: Recovery,
    manifest: Manifest,
    registry: Registry,
    clock: Clock,
    eq: Equipment | None,
    bench: Any,
    terminal: Terminal | None,
) -> None:
    """Light off, exposure aborted, cover as configured; every failure noted, none stops the others."""
    try:
        eq = eq or open_run_equipment(manifest.equipment, clock=clock, bench=bench, registry=registry, known_off=False)
    except FlatseqError as exc:
        found.light_answer = f"the equipment could not be opened: {exc}"
        return
    if isinstance(eq.panel, ManualLight) and terminal is not None:
        eq.panel.closing = True
        eq.panel.confirm = TerminalConfirm(terminal, StopToken(), LIGHT_TIMEOUT, context=lambda: "recover")
    devices = [d for d in (eq.camera, eq.panel) if d is not None]
    try:
        for device in devices:
            try:
                device.connect()
            except FlatseqError as exc:
                found.notes.append(f"{device.name}: cannot connect ({exc})")
        _attempt(found, "abort exposure", eq.camera.abort_exposure)
        _light_off(found, eq)
        _cover(found, eq, manifest, clock)
    finally:
        for device in devices:
            with contextlib.suppress(FlatseqError):
                device.disconnect()


def _attempt(found: Recovery, what: str, action: Any) -> None:
    try:
        action()
    except FlatseqError as exc:
        found.notes.append(f"{what}: {exc}")


def _light_off(found: Recovery, eq: Equipment) -> None:
    try:
        eq.panel.light_off()
        state = eq.panel.light_state()
    except FlatseqError as exc:
        found.light_answer = str(exc)
        return
    found.light_off = state is LightState.OFF
    found.light_answer = None if found.light_off else f"{eq.panel.name} reports its light {state.value}"


def _cover(found: Recovery, eq: Equipment, manifest: Manifest, clock: Clock) -> None:
    """The cover where the sequence leaves it at the end (closed unless it says `cover_at_end: open`)."""
    panel = eq.panel
    try:
        if not panel.has_cover:
            return
        close = _cover_at_end(manifest) != "open"
        target = CoverState.CLOSED if close else CoverState.OPEN
        if panel.cover_state() is not target:
            panel.close_cover() if close else panel.open_cover()
            if not wait_until(clock, lambda: panel.cover_state() is target, timeout=COVER_SECONDS, poll=0.25):
                found.notes.append(f"cover: still {panel.cover_state().value} after {COVER_SECONDS:g} s")
        found.cover = panel.cover_state().value
    except FlatseqError as exc:
        found.notes.append(f"cover: {exc}")


def _cover_at_end(manifest: Manifest) -> str:
    """Where the run's sequence leaves the cover: its last cover step (closed if it cannot be read)."""
    sequence = manifest.sequence_path
    if sequence is None or not Path(sequence).is_file():
        return "closed"
    try:
        steps = load_plan(sequence).steps
    except FlatseqError:
        return "closed"
    covers = [s.kind for s in steps if s.kind in (StepKind.CLOSE_COVER, StepKind.OPEN_COVER)]
    return "open" if covers and covers[-1] is StepKind.OPEN_COVER else "closed"


def _adopt_orphans(manifest: Manifest, run_dir: Path) -> list[str]:
    """Frames whole on disk that the manifest does not list, put back from their headers."""
    listed = {f.file for s in manifest.sets for f in s.flats + s.dark_flats}
    known = {s.id for s in manifest.sets}
    adopted = []
    for path in frames_on_disk(run_dir):
        name = path.relative_to(run_dir).as_posix()
        if name in listed:
            continue
        found = adopt(path, run_dir)
        if found is not None and found[0] in known:
            manifest.add_frame(*found)
            adopted.append(name)
    return adopted
