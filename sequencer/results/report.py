"""`flatseq report RUN`: one self-contained HTML page that tells a run (no script, no file or address outside
it: the images are embedded as data URLs), for a user to open in a browser or keep with the frames.

From the manifest: the run (status, times, equipment, whether the light ended off), each set (status, counts,
the brightness found and every trial of the search) and each frame (mean ADU and sensor temperature over
time, rejected frames marked and listed with the reason). From the journal: the timeline (each step as a bar,
failed steps outlined) and the errors. From the masters, when `flatseq master` has made them: each set's
preview (the PNG beside its master flat, or drawn now). Everything read is untrusted and escaped.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivers.errors import FlatseqError
from sequencer.calibration.masterfiles import find_masters, read_image
from sequencer.calibration.masterplan import SetPlan, plan_masters
from sequencer.core.atomicfile import write_new_file
from sequencer.core.timestamps import parse_fits_date
from sequencer.output.journal import JOURNAL_NAME
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.records import SetRecord
from sequencer.results.charts import Step, frames_chart, timeline_chart
from sequencer.results.preview import render_png
from sequencer.results.previews import preview_input

REPORT_NAME = "report.html"
MAX_JOURNAL_BYTES = 64_000_000
CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1240px; color: #1b1b1b; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { padding: 3px 10px; border: 1px solid #ddd; }
th { background: #f2f4f8; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #ddd; } .bad { color: #b0201a; font-weight: 600; }
.ok { color: #1d7a32; font-weight: 600; } .note { color: #555; } details { margin: 0.6em 0; }
"""


@dataclass
class PageInputs:
    manifest: Manifest
    events: list[dict[str, Any]]
    previews: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's events; a torn or foreign line (a crash cuts the last one) is skipped."""
    if not path.is_file():
        return []
    with open(path, "rb") as handle:
        data = handle.read(MAX_JOURNAL_BYTES)
    events = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        t = event.get("t") if isinstance(event, dict) else None
        if isinstance(event.get("event") if isinstance(event, dict) else None, str) and _finite(t):
            events.append(event)
    return events


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def steps_of(events: list[dict[str, Any]], start: float) -> list[Step]:
    """Each step's start and end (started paired with the finished or failed of the same index)."""
    open_steps: dict[int, dict[str, Any]] = {}
    steps = []
    for event in events:
        kind, index = event["event"], event.get("index")
        if not isinstance(index, int):
            continue
        if kind == "step_started":
            open_steps[index] = event
        elif kind in ("step_finished", "step_failed") and index in open_steps:
            begun = open_steps.pop(index)
            set_id = begun.get("set")
            steps.append(
                Step(
                    label=str(begun.get("step", "")),
                    set_id=str(set_id) if isinstance(set_id, str) else None,
                    start=float(begun["t"]) - start,
                    end=float(event["t"]) - start,
                    failed=kind == "step_failed",
                )
            )
    return steps


def _previews(
    run_dir: Path, records: dict[str, SetRecord], notes: list[str], say: Callable[[str], None]
) -> dict[str, bytes]:
    """Each set's preview PNG: the newest one beside its master flat, or drawn now from its masters."""
    try:
        plan = plan_masters(run_dir)
    except FlatseqError as exc:
        notes.append(f"no previews: {exc}")
        return {}
    out: dict[str, bytes] = {}
    for s in plan.sets:
        png = _preview_of(s, run_dir, records.get(s.key))
        if png is None:
            notes.append(f"set {s.key}: no masters yet, so no preview (`flatseq master {run_dir}` makes them)")
        else:
            out[s.key] = png
            say(f"{s.key}: preview embedded")
    return out


def _preview_of(s: SetPlan, run_dir: Path, record: SetRecord | None) -> bytes | None:
    found = find_masters(s, run_dir)
    if found is None or found.calibration is None:
        return None
    stem = found.flat.path.stem
    pngs = sorted(found.directory.glob(f"{stem}*.png"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if pngs:
        return pngs[-1].read_bytes()
    info = preview_input(
        s,
        np.asarray(read_image(found.flat.path), dtype=np.float32),
        np.asarray(read_image(found.calibration.path), dtype=np.float32),
        record=record,
    )
    return render_png(info)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _status(text: str) -> str:
    good = text in ("ok", "finished", "off")
    return f'<span class="{"ok" if good else "bad"}">{_e(text)}</span>'


def _rows(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(value: object, number: bool = False) -> str:
    return f'<td class="num">{_e(value)}</td>' if number else f"<td>{_e(value)}</td>"


def _summary(m: Manifest) -> str:
    data = m.to_json()
    equipment = ", ".join(f"{k}: {v}" for k, v in m.equipment.items())
    rows = [
        ["run", _e(m.run_id)],
        ["status", _status(m.status) + (f" ({_e(m.reason)})" if m.reason else "")],
        ["started / finished", f"{_e(m.started)} / {_e(m.finished or '-')}"],
        ["sequence", _e(m.sequence_path or "-")],
        ["camera", _e(data.get("camera") or "-")],
        ["equipment", _e(equipment or "-")],
        ["panel light at the end", _status(str(data.get("light", "unknown")))],
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    sets = [
        [
            _td(s.id),
            _td(s.filter or "-"),
            _td(f"{s.exposure:g} s", True),
            f"<td>{_status(s.status)}</td>",
            _td(len(s.frames(FrameKind.FLAT)), True),
            _td(len([f for f in s.flats if f.rejected]), True),
            _td(len(s.frames(FrameKind.DARK_FLAT)), True),
            _td("-" if s.brightness is None else f"{s.brightness} / {s.panel_max or '?'}", True),
            _td(len(s.trials), True),
            _td(s.reason or ""),
        ]
        for s in m.sets
    ]
    table = _rows(
        sets, ["set", "filter", "exposure", "status", "flats", "rejected", "dark-flats", "brightness", "trials", "why"]
    )
    return f"<table>{body}</table><h2>Flat sets</h2>{table}"


def _set_section(s: SetRecord, start: float, preview: bytes | None) -> Iterator[str]:
    yield f'<h2 id="set-{_e(s.id)}">Set {_e(s.id)}: {_e(s.filter or "no filter")}, {s.exposure:g} s</h2>'
    yield f"<p>status {_status(s.status)}" + (f": {_e(s.reason)}" if s.reason else "") + "</p>"
    if preview is not None:
        yield _img(preview, f"preview of set {s.id}")
    if s.trials:
        rows = [
            [
                _td(i, True),
                _td(t.brightness, True),
                _td(f"{t.mean:.0f}", True),
                _td("yes" if t.in_window else "no"),
                _td(f"{100 * t.saturated_fraction:.3f} %", True),
            ]
            for i, t in enumerate(s.trials, start=1)
        ]
        yield "<h3>Brightness search</h3>"
        yield _rows(rows, ["trial", "brightness", "mean ADU", "in the window", "saturated"])
    yield "<h3>Frames over time</h3>"
    yield _img(frames_chart(s.flats, s.dark_flats, start, f"set {s.id}: every frame"), f"frames of set {s.id}")
    rejected = [f for f in s.flats + s.dark_flats if f.rejected]
    if rejected:
        yield f"<details open><summary>{len(rejected)} rejected frames (kept on disk, not combined)</summary>"
        yield _rows([[_td(f.file), _td(f.reason or "")] for f in rejected], ["file", "why"])
        yield "</details>"


def _timeline(events: list[dict[str, Any]], start: float, sets: list[SetRecord]) -> Iterator[str]:
    steps = steps_of(events, start)
    yield "<h2>Timeline</h2>"
    if not steps:
        yield '<p class="note">the journal records no steps</p>'
        return
    rows = ["(run)"] + [s.id for s in sets]
    yield _img(timeline_chart(steps, rows), "timeline of the run")
    table = [
        [
            _td(f"{st.start / 60:.2f}", True),
            _td(f"{st.end - st.start:.1f} s", True),
            _td(st.set_id or "-"),
            _td(st.label),
            f"<td>{_status('failed') if st.failed else ''}</td>",
        ]
        for st in steps
    ]
    yield f"<details><summary>{len(steps)} steps</summary>"
    yield _rows(table, ["minute", "took", "set", "step", ""])
    yield "</details>"
    errors = [e for e in events if e["event"] in ("error", "step_failed", "internal_error")]
    if errors:
        yield "<h3>Errors</h3>"
        yield _rows(
            [[_td(e.get("time")), _td(e.get("set") or "-"), _td(e.get("error"))] for e in errors],
            ["time", "set", "error"],
        )


def render_page(inputs: PageInputs) -> str:
    """The page's HTML."""
    m = inputs.manifest
    start = parse_fits_date(m.started) or (inputs.events[0]["t"] if inputs.events else 0.0)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>flatseq run {_e(m.run_id)}</title><style>{CSS}</style></head><body>",
        f"<h1>flatseq run {_e(m.run_id)}</h1>",
        _summary(m),
    ]
    for s in m.sets:
        parts.extend(_set_section(s, start, inputs.previews.get(s.id)))
    parts.extend(_timeline(inputs.events, start, m.sets))
    if inputs.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in inputs.notes) + "</ul>")
    parts.append(f'<p class="note">written by {_e(m.to_json().get("software", "flatseq"))}</p></body></html>')
    return "\n".join(parts)


def write_report(run: Path, output: Path | None = None, *, report: Callable[[str], None] | None = None) -> Path:
    """Write RUN/report.html (or `output`), never over an existing file; returns the path written."""
    say = report or (lambda _text: None)
    run_dir = Path(run)
    if run_dir.is_file():
        run_dir = run_dir.parent
    manifest = Manifest.load(run_dir / MANIFEST_NAME)
    notes: list[str] = []
    previews = _previews(run_dir, {s.id: s for s in manifest.sets}, notes, say)
    page = render_page(PageInputs(manifest, read_journal(run_dir / JOURNAL_NAME), previews, notes))
    return write_new_file(Path(output) if output is not None else run_dir / REPORT_NAME, [page.encode("utf-8")])
