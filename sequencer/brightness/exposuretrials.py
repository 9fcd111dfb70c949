"""What one trial exposure of an exposure search is, the exposures a search may ask for, and what it found.

The twin of `trials` for a light held at one level (a switch-only panel, a dimmable one at a fixed brightness,
a light switched by hand): the exposure is searched, the window and the verdicts are the brightness search's
own (`trials.Window`, `trials.classify`), so both searches judge a frame alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from drivers.errors import ConfigError
from sequencer.brightness.linearity import CameraResponse
from sequencer.brightness.trials import Verdict
from sequencer.core.stats import FrameStats

__all__ = ["ExposureMeasure", "ExposureRange", "ExposureResult", "ExposureTrial", "LightLevel"]

ExposureMeasure = Callable[[float], FrameStats]
"""Takes one exposure of that many seconds, the light as it is, and returns its statistics."""

SIGNIFICANT_DIGITS = 3
"""Without a grid, found exposures are rounded to this many significant digits (0.5 % at most): the window is
±10 %, and 2.35 s reads better in file names and is easier to repeat than 2.3468127 s."""


@dataclass(frozen=True)
class ExposureRange:
    """The exposures a search may ask for: the sequence's bounds within the camera's, on a grid.

    `step`: found exposures are whole multiples of it (`exposure_step: 0.1s`), so a set repeats exactly;
    without it they are rounded to `SIGNIFICANT_DIGITS`. `resolution`: the camera's own timing step (0: it
    does not say), never undercut.
    """

    low: float
    high: float
    step: float | None = None
    resolution: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low <= 0 or self.low > self.high:
            raise ConfigError(f"exposure range {self.low:g}-{self.high:g} s is empty")
        if self.step is not None and (not math.isfinite(self.step) or self.step <= 0):
            raise ConfigError(f"exposure step {self.step:g} s must be above 0 s")
        if self.step is not None and self._grid_ends() is None:
            raise ConfigError(
                f"no multiple of the exposure step {self.step:g} s lies within {self.low:g}-{self.high:g} s"
            )

    def _grid_ends(self) -> tuple[int, int] | None:
        """The first and last multiples of the step within the range (None: none is)."""
        assert self.step is not None
        first, last = math.ceil(self.low / self.step - 1e-9), math.floor(self.high / self.step + 1e-9)
        return (max(first, 1), last) if max(first, 1) <= last else None

    @property
    def shortest(self) -> float:
        return self.snap(self.low)

    @property
    def longest(self) -> float:
        return self.snap(self.high)

    def snap(self, seconds: float) -> float:
        """The exposure the camera is asked for near `seconds`: on the grid, within the range."""
        if self.step is not None:
            ends = self._grid_ends()
            assert ends is not None
            k = min(max(round(seconds / self.step), ends[0]), ends[1])
            return _tidy(k * self.step)
        value = min(max(seconds, self.low), self.high)
        value = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
        if self.resolution > 0:
            value = round(value / self.resolution) * self.resolution
        value = min(max(_tidy(value), self.low), self.high)
        return _tidy(value)

    def neighbours(self, seconds: float) -> tuple[float, float]:
        """The grid exposures just below and just above `seconds` (equal at the range's ends)."""
        if self.step is None:
            snapped = self.snap(seconds)
            return snapped, snapped
        ends = self._grid_ends()
        assert ends is not None
        k = min(max(math.floor(seconds / self.step + 1e-9), ends[0]), ends[1])
        return _tidy(k * self.step), _tidy(min(k + 1, ends[1]) * self.step)

    def describe(self) -> str:
        grid = f" in steps of {self.step:g} s" if self.step is not None else ""
        return f"{self.low:g}-{self.high:g} s{grid}"


def _tidy(seconds: float) -> float:
    """To the microsecond, so that 3 × 0.1 is 0.3 (the file names, EXPREQ and the dark-flats show it)."""
    return round(seconds, 6)


@dataclass(frozen=True)
class LightLevel:
    """The light the search holds fixed, for suggestions: a panel's brightness and its range (None: a light
    switched by hand, which has no brightness)."""

    brightness: int
    low: int
    high: int

    @property
    def dimmable(self) -> bool:
        return self.high > self.low


@dataclass(frozen=True)
class ExposureTrial:
    """One exposure of the search: its length, its statistics and what they mean."""

    exposure: float
    stats: FrameStats
    verdict: Verdict

    @property
    def in_window(self) -> bool:
        return self.verdict is Verdict.IN_WINDOW

    @property
    def mean(self) -> float:
        """The level the search steers by (`FrameStats.level`: a colour frame's channel rule)."""
        return self.stats.level


@dataclass(frozen=True)
class ExposureResult:
    """What the search found. `kept` indexes the in-window trial, which the caller saves as flat #1.

    On failure, `needed` is the exposure that would reach the target (None if unknown) and `light_factor` how
    much light that is compared with what the range allows: above 1, that much more light is needed at the
    longest exposure; below 1, the light must be cut to that fraction at the shortest.
    """

    ok: bool
    exposure: float | None
    trials: list[ExposureTrial]
    reason: str | None = None
    kept: int | None = None
    response: CameraResponse | None = None
    """The camera's response fitted to the trials: what the trained table and the next set start from."""
    needed: float | None = None
    light_factor: float | None = None
    pedestal_adu: float | None = None

    @property
    def flat(self) -> ExposureTrial | None:
        """The trial to keep as the set's first flat."""
        return self.trials[self.kept] if self.kept is not None else None
