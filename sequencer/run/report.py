"""What a run tells its caller: each flat set's outcome and the run's, with the summary lines the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sequencer.core.units import format_duration


@dataclass
class SetOutcome:
    """How one flat set ended."""

    id: str
    label: str
    status: str = "pending"  # ok / failed / skipped / pending
    reason: str | None = None
    brightness: int | None = None
    exposure: float | None = None
    """The exposure found at run time (a set with `exposure: auto`)."""
    trials: int = 0
    exposures: list[float] = field(default_factory=list)
    """A sky set's exposures (rungs of the ladder) its counted flats used."""
    flats: int = 0
    dark_flats: int = 0


@dataclass
class RunReport:
    """How the run ended, set by set."""

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
    light_off: bool = True
    """Whether the panel's light was confirmed off at the end (False: it may still be on)."""
    light_answer: str | None = None
    """What the panel answered when switching it off failed."""

    def light_warning(self) -> str | None:
        """The loud last line when the light may still be on."""
        if self.light_off:
            return None
        return f"THE PANEL MAY STILL BE ON: switching it off failed ({self.light_answer}); check it before you leave"

    def summary(self) -> list[str]:
        lines = []
        for s in self.sets:
            detail = f"{s.flats} flats + {s.dark_flats} dark-flats"
            if s.exposures:
                rungs = ", ".join(f"{e:g}" for e in s.exposures)
                detail += f", sky: exposures {rungs} s after {s.trials} trial{'s' if s.trials != 1 else ''}"
            elif s.exposure is not None:
                detail += f", exposure {s.exposure:g} s found after {s.trials} trial{'s' if s.trials != 1 else ''}"
            elif s.brightness is not None:
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
