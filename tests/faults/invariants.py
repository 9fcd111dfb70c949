"""What must hold however a run ends under a fault, checked on the run's own account and the devices' truth.

- the light is off, or the user is told loudly that it may not be (exit 3, the summary's last line, the
  manifest): never a light the device has on while the run says off;
- no exposure is left running on a camera that can still be reached;
- the files on disk are the files the manifest lists, and no unfinished `.part` file is left;
- the exit code says what happened (1: a set failed; 3: the light may be on), never 0, 2 or 70;
- the fault struck where it was meant to: the step that failed is of the phase under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sequencer.plan.compile import load_plan
from sequencer.plan.kinds import StepKind
from sequencer.run.report import RunReport

PHASE_STEPS: dict[str, tuple[StepKind, ...]] = {
    "trial": (StepKind.FIND_BRIGHTNESS,),
    "flats": (StepKind.FLATS,),
    "light_off": (StepKind.LIGHT_OFF,),
    "dark-flats": (StepKind.DARK_FLATS,),
    "filter": (StepKind.SELECT_FILTER,),
    "write": (StepKind.FIND_BRIGHTNESS, StepKind.FLATS, StepKind.DARK_FLATS),  # a write fails at the next frame
}
"""The steps a fault in each phase may stop: the phase's own."""


@dataclass(frozen=True)
class Ending:
    """How a faulted run ended: its report, and what the devices say now (None where they cannot be asked)."""

    report: RunReport
    sequence: Path
    light_on: bool | None
    exposing: bool | None


def files_on_disk(run_dir: Path) -> set[str]:
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.fits")}


def listed(manifest: dict[str, Any]) -> set[str]:
    return {f["file"] for s in manifest["sets"] for f in s["flats"] + s["dark_flats"]}


def check_invariants(ending: Ending, phase: str | None) -> dict[str, Any]:
    """Assert every invariant; the manifest, for the test's own checks. `phase` None: no step is expected to
    fail (the fault shows only when the run ends, e.g. a panel gone once its light is off)."""
    report = ending.report
    assert report.exit_code in (1, 3), (report.exit_code, report.error)
    assert not any("Traceback" in line for line in report.summary())
    if ending.light_on is not False:  # on, or nobody can tell
        assert report.exit_code == 3 and not report.light_off, (report.exit_code, report.light_answer)
    if not report.light_off:
        warning = report.light_warning() or ""
        assert warning.startswith("THE PANEL MAY STILL BE ON: switching it off failed ("), warning
        assert report.exit_code == 3
    assert ending.exposing is not True, "an exposure is still running on the camera"

    assert report.manifest_path is not None
    run_dir = report.manifest_path.parent
    manifest: dict[str, Any] = json.loads(report.manifest_path.read_text())
    assert manifest["status"] in ("finished", "failed"), manifest["status"]
    assert manifest["light"] == ("off" if report.light_off else "THE PANEL MAY STILL BE ON")
    assert files_on_disk(run_dir) == listed(manifest)
    assert not list(run_dir.rglob("*.part")), "an unfinished file was left"

    failed = [s for s in report.sets if s.status == "failed"]
    assert all(s.reason and "\n" not in s.reason for s in failed)
    if phase is None:
        assert not failed and not _failed_steps(run_dir, ending.sequence)
    else:
        assert failed, "no set failed: the fault did not strike"
        steps = _failed_steps(run_dir, ending.sequence)
        assert steps and steps <= set(PHASE_STEPS[phase]), (phase, steps)
    return manifest


def _failed_steps(run_dir: Path, sequence: Path) -> set[StepKind]:
    """The kinds of the steps the journal says failed."""
    plan = load_plan(sequence)
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    return {plan.steps[e["index"] - 1].kind for e in events if e["event"] == "step_failed"}
