"""One filter's sky flats through a twilight, planned frame by frame (pure): trials until the sky's level is
known, then each flat predicted from the fit of every frame so far (`twilight`), on the ladder.

The caller takes each frame the plan asks for and reports what it measured (`record`): the signal above the
pedestal, and whether it saturated (a saturated frame only says "brighter than this"). A flat whose middle
falls outside the window, or whose level misses the window, is the caller's to keep and mark REJECTED; the
plan learns from it all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sequencer.brightness.sun import SunPath
from sequencer.brightness.twilight import (
    DEFAULT_SLOPE,
    Choice,
    Ladder,
    LogFlux,
    SkySample,
    TwilightWindow,
    choose_exposure,
    fit_log_flux,
)

__all__ = ["AIM", "TRIAL_STEP", "SkyPlan"]

AIM = 0.95
"""Flats are aimed within this fraction of the tolerance around the target: the prediction's own error (a
passing haze, the model's curvature) then still lands inside the window."""
TRIAL_STEP = 8.0
"""A saturated trial is followed by one this many times shorter, a dark one by one this many times longer."""
DARK = 0.02
"""A trial below this fraction of the target is too dark to measure the sky's level well."""


@dataclass
class SkyPlan:
    """Sky flats of one filter in one twilight window. `target` and signals are ADU above the pedestal."""

    path: SunPath
    window: TwilightWindow
    ladder: Ladder
    target: float
    tolerance: float
    prior_slope: float = DEFAULT_SLOPE
    samples: list[SkySample] = field(default_factory=list)
    _trial: float | None = None

    @property
    def model(self) -> LogFlux | None:
        return fit_log_flux(self.samples, self.prior_slope)

    def trial(self) -> float | None:
        """The exposure of the next trial, or None once the sky's level is known (ask `next`)."""
        if self.model is not None:
            return None
        if self._trial is None:
            rungs = self.ladder.rungs
            # dusk: the sky starts bright, the shortest exposures first; dawn: it starts dark
            self._trial = rungs[min(len(rungs) // 4, len(rungs) - 1)] if self.window.when == "dusk" else rungs[-1]
        return self._trial

    def record(self, start: float, exposure: float, signal: float, *, saturated: bool) -> None:
        """What a frame (trial or flat) of `exposure` started at `start` measured."""
        rungs = self.ladder.rungs
        if saturated:
            if self.model is None:
                self._trial = max(exposure / TRIAL_STEP, rungs[0])
            return
        if self.model is None and signal < DARK * self.target:
            self._trial = min(exposure * TRIAL_STEP, rungs[-1])
            return
        middle = self.path.altitude(start + exposure / 2)
        self.samples.append(SkySample(middle, signal / exposure))

    def next(self, now: float) -> Choice | None:
        """The next flat: when to start it and its rung; None when no rung lands before the window closes."""
        model = self.model
        if model is None:
            return None
        band = AIM * self.tolerance
        start = max(now, self.window.opens)
        return choose_exposure(model, self.path, start, self.ladder, self.target, band, self.window.closes)

    def in_window(self, start: float, exposure: float) -> bool:
        """Whether the Sun's altitude at the frame's middle lies within the window."""
        low, high = sorted(self.window.altitudes)
        return low <= self.path.altitude(start + exposure / 2) <= high
