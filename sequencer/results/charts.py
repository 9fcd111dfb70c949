"""The run report's charts, as PNG bytes: each set's frames over time (mean ADU, sensor temperature) and the
run's timeline (what the equipment did when). Drawn on matplotlib's Agg canvas without pyplot."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sequencer.core.timestamps import parse_fits_date
from sequencer.output.records import FrameRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
PHASE_COLOURS = {
    "filter": "#8c8c8c",
    "light": "#e8a33d",
    "wait": "#c8c8c8",
    "brightness": "#d45d2a",
    "flats": "#2f6fd0",
    "dark-flats": "#3b3b3b",
    "cover": "#7a5ea8",
    "other": "#a0c4a0",
}


@dataclass(frozen=True)
class Step:
    """One step of the run from the journal: when it started and ended (seconds since the run began)."""

    label: str
    set_id: str | None
    start: float
    end: float
    failed: bool = False

    @property
    def phase(self) -> str:
        text = self.label.lower()
        for needle, phase in (
            ("dark-flat", "dark-flats"),
            ("flats", "flats"),
            ("find brightness", "brightness"),
            ("wait", "wait"),
            ("light", "light"),
            ("filter", "filter"),
            ("cover", "cover"),
        ):
            if needle in text:
                return phase
        return "other"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _minutes(frames: Sequence[FrameRecord], start: float) -> list[float | None]:
    out: list[float | None] = []
    for f in frames:
        when = parse_fits_date(f.date_obs) if f.date_obs else None
        out.append(None if when is None else (when - start) / 60.0)
    return out


def _scatter(ax: Axes, frames: Sequence[FrameRecord], start: float, label: str, colour: str) -> None:
    """Each frame's mean ADU at its time; rejected ones as red crosses."""
    for rejected in (False, True):
        chosen = [f for f in frames if f.rejected is rejected and f.stats is not None]
        points = [
            (t, f.stats.mean) for t, f in zip(_minutes(chosen, start), chosen, strict=True) if t is not None and f.stats
        ]
        if points:
            ax.scatter(
                [t for t, _ in points],
                [m for _, m in points],
                marker="x" if rejected else "o",
                s=40 if rejected else 22,
                color="#d03020" if rejected else colour,
                label=f"{label} (rejected)" if rejected else label,
            )
    ax.set_ylabel(f"{label}: mean (ADU)")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")


def frames_chart(flats: Sequence[FrameRecord], dark_flats: Sequence[FrameRecord], start: float, title: str) -> bytes:
    """Mean ADU of every flat and every dark-flat over time (rejected ones marked), then each frame's sensor
    temperature."""
    fig = _figure(12.0, 6.4)
    flat_ax, dark_ax, temp = fig.subplots(3, 1, sharex=True, height_ratios=(2, 1.4, 1))
    _scatter(flat_ax, flats, start, "flats", "#2f6fd0")
    _scatter(dark_ax, dark_flats, start, "dark-flats", "#3b3b3b")
    flat_ax.set_title(title, fontsize=11)
    every = list(flats) + list(dark_flats)
    times = _minutes(every, start)
    temps = [(t, f.ccd_temp) for t, f in zip(times, every, strict=True) if t is not None and f.ccd_temp is not None]
    if temps:
        temp.plot([t for t, _ in temps], [c for _, c in temps], ".", color="#7a5ea8")
    temp.set_ylabel("sensor (°C)")
    temp.set_xlabel("minutes since the run started")
    temp.grid(alpha=0.3)
    return _png(fig)


def timeline_chart(steps: Sequence[Step], rows: Sequence[str]) -> bytes:
    """One bar per step on its set's row, coloured by what the equipment was doing; failed steps outlined red."""
    from matplotlib.patches import Patch

    fig = _figure(12.0, 1.2 + 0.45 * max(1, len(rows)))
    ax = fig.subplots()
    index = {name: i for i, name in enumerate(rows)}
    for step in steps:
        row = index.get(step.set_id or "(run)", 0)
        width = max((step.end - step.start) / 60.0, 0.02)
        ax.broken_barh(
            [(step.start / 60.0, width)],
            (row - 0.4, 0.8),
            facecolors=PHASE_COLOURS[step.phase],
            edgecolors="#d03020" if step.failed else "none",
            linewidth=2 if step.failed else 0,
        )
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel("minutes since the run started")
    ax.grid(axis="x", alpha=0.3)
    used = sorted({s.phase for s in steps}, key=list(PHASE_COLOURS).index)
    ax.legend(
        handles=[Patch(color=PHASE_COLOURS[p], label=p) for p in used],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.35 if len(rows) < 3 else -0.15),
        ncol=len(used) or 1,
        fontsize=8,
        frameon=False,
    )
    return _png(fig)
