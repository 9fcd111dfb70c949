"""`--json` of `flatseq check` and `flatseq run`: what a CI script reads instead of the text for people.

Each document names its schema and version (`"schema": "flatseq.check/1"`, `"flatseq.run/1"`); a field is only
ever added within a version, never renamed or removed (that is a new version). The README documents both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drivers.errors import ConfigError
from sequencer.brightness.trials import Window
from sequencer.plan.model import FlatSet, Plan
from sequencer.run.estimate import Estimate
from sequencer.run.report import RunReport, SetOutcome

CHECK_SCHEMA = "flatseq.check/1"
RUN_SCHEMA = "flatseq.run/1"
FULL_SCALE = 65535
"""The window is given in raw 16-bit ADU, as `flatseq check` prints it."""

_WHERE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.DOTALL)


def check_document(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The whole `check --json` answer: one entry per file, in the order given."""
    return {
        "schema": CHECK_SCHEMA,
        "ok": all(entry["ok"] for entry in entries),
        "files": list(entries),
    }


def check_entry(file: str, plan: Plan, est: Estimate) -> dict[str, Any]:
    """A valid file: its plan, the accepted window per set and the estimate."""
    return {
        "file": file,
        "ok": True,
        "error": None,
        "name": plan.name,
        "warnings": list(plan.warnings),
        "equipment": dict(plan.equipment),
        "sets": [_set(fs) for fs in plan.sets.values()],
        "steps": [
            {"index": i, "kind": step.kind.value, "set": step.set_id, "text": step.describe()}
            for i, step in enumerate(plan.steps, 1)
        ],
        "estimate": {
            "seconds": round(est.seconds, 3),
            "between": [round(s, 3) for s in est.between] if est.between is not None else None,
            "parts": {k: round(v, 3) for k, v in est.parts.items()},
            "cooling_included": False,
            "frames": est.frames,
            "bytes": est.bytes,
            "camera": {"width": est.camera.width, "height": est.camera.height, "known": est.camera.known},
        },
    }


def error_entry(file: str, error: ConfigError) -> dict[str, Any]:
    """An invalid file: the one-line refusal, with where it points (line and column, when it points)."""
    text = str(error)
    line = column = None
    message = text
    found = _WHERE.match(text)
    if found is not None:
        line, column, message = int(found["line"]), int(found["column"]), found["message"]
    return {
        "file": file,
        "ok": False,
        "error": {"text": text, "message": message, "line": line, "column": column},
    }


def _set(fs: FlatSet) -> dict[str, Any]:
    window = Window.from_target(fs.target, fs.tolerance, FULL_SCALE)
    auto = fs.auto
    return {
        "id": fs.id,
        "label": fs.label,
        "filter": fs.filter,
        "exposure": fs.exposure,
        "exposure_search": (
            {"min": auto.min, "max": auto.max, "step": auto.step, "brightness": auto.brightness}
            if auto is not None
            else None
        ),
        "flats": fs.count,
        "dark_flats": fs.dark_count,
        "gain": fs.gain,
        "offset": fs.offset,
        "binning": fs.binning,
        "readout_mode": fs.readout_mode,
        "temperature": fs.temperature,
        "on_error": fs.on_error,
        "window": {
            "target": fs.target,
            "tolerance": fs.tolerance,
            "low_adu": round(window.low_adu, 1),
            "high_adu": round(window.high_adu, 1),
        },
        "line": fs.line,
        "column": fs.column,
    }


def run_document(report: RunReport) -> dict[str, Any]:
    """`run --json`: how the run ended, set by set, and where its manifest is."""
    return {
        "schema": RUN_SCHEMA,
        "status": report.status,
        "exit_code": int(report.exit_code),
        "dry_run": report.dry_run,
        "run_dir": _path(report.run_dir),
        "manifest": _path(report.manifest_path),
        "elapsed": round(report.elapsed, 3),
        "timeline": dict(report.timeline),
        "light_off": report.light_off,
        "light_answer": report.light_answer,
        "error": report.error,
        "warnings": list(report.warnings),
        "sets": [_outcome(s) for s in report.sets],
    }


def invalid_run_document(file: str, error: ConfigError, exit_code: int) -> dict[str, Any]:
    """`run --json` for input refused before anything ran (exit 2): the refusal, as `check` gives it."""
    entry = error_entry(file, error)
    return {
        "schema": RUN_SCHEMA,
        "status": "invalid",
        "exit_code": exit_code,
        "dry_run": None,
        "run_dir": None,
        "manifest": None,
        "light_off": True,
        "error": entry["error"]["text"],
        "where": {"file": file, "line": entry["error"]["line"], "column": entry["error"]["column"]},
        "sets": [],
    }


def _outcome(s: SetOutcome) -> dict[str, Any]:
    return {
        "id": s.id,
        "label": s.label,
        "status": s.status,
        "reason": s.reason,
        "flats": s.flats,
        "dark_flats": s.dark_flats,
        "brightness": s.brightness,
        "exposure": s.exposure,
        "trials": s.trials,
    }


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None
