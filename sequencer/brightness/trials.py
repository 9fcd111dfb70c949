"""What one trial exposure of a brightness search is and how it is judged: the window, the verdict, the result.

Shared by the model-guided search (`brightness`) and N.I.N.A.'s bisection (`bisection`), so both judge a frame
the same way and report the same result.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from drivers.errors import ConfigError
from sequencer.brightness.response import PanelResponse
from sequencer.core.stats import FrameStats

__all__ = [
    "MAX_SATURATED_FRACTION",
    "SATURATED_MEAN",
    "Measure",
    "SearchResult",
    "Trial",
    "Verdict",
    "Window",
    "check_range",
    "classify",
    "each_unreachable",
    "each_window",
    "is_saturated",
]

Measure = Callable[[int], FrameStats]
"""Takes one exposure at a panel brightness and returns its statistics."""

MAX_SATURATED_FRACTION = 1e-3
"""More clipped pixels than this (0.1 %) and a frame is saturated. Hot pixels stay far below it."""
SATURATED_MEAN = 0.95
"""A mean above this fraction of the maximum ADU is saturated whatever the clipped count says (full well)."""


class Verdict(enum.Enum):
    IN_WINDOW = "in window"
    TOO_DIM = "too dim"
    TOO_BRIGHT = "too bright"
    SATURATED = "saturated"


@dataclass(frozen=True)
class Window:
    """The accepted range of a flat's mean, in ADU.

    Full scale is `max_adu + 1` (N.I.N.A.'s 2^bits: 65536 for a 16-bit camera), and the tolerance is relative
    to the target, as N.I.N.A. has it: target 0.5, tolerance 0.1 accepts 45-55 % of full scale, bounds
    included.
    """

    low_adu: float
    high_adu: float
    target_adu: float
    max_adu: int = 65535

    @property
    def full_scale(self) -> int:
        return self.max_adu + 1

    @classmethod
    def from_target(cls, target: float, tolerance: float, max_adu: int = 65535) -> Window:
        """`target` and `tolerance` as fractions (0.5 and 0.1 for "50 % ± 10 %")."""
        if not 0 < target < 1:
            raise ConfigError(f"brightness target must lie between 0 % and 100 % of full scale, not {target:.0%}")
        if not 0 <= tolerance < 1:
            raise ConfigError(f"brightness tolerance must lie in [0 %, 100 %), not {tolerance:.0%}")
        if max_adu < 1:
            raise ConfigError(f"the camera's maximum ADU must be positive, not {max_adu}")
        full_scale = max_adu + 1
        centre = target * full_scale
        return cls(centre * (1 - tolerance), min(centre * (1 + tolerance), float(max_adu)), centre, max_adu)

    def contains(self, mean: float) -> bool:
        return self.low_adu <= mean <= self.high_adu

    def describe(self) -> str:
        fs = self.full_scale
        return (
            f"{self.low_adu / fs:.1%}-{self.high_adu / fs:.1%} of full scale "
            f"({self.low_adu:.0f}-{self.high_adu:.0f} ADU, target {self.target_adu:.0f})"
        )


def is_saturated(stats: FrameStats, window: Window, max_saturated_fraction: float = MAX_SATURATED_FRACTION) -> bool:
    """Clipped pixels above the allowed fraction, or a mean so high the sensor is at full well; for a colour
    frame, in any one channel (a red channel blowing out under a dual-band filter is a saturated flat)."""
    brightest = max((c.mean for c in stats.channels.values()), default=stats.mean)
    return stats.channel_saturated_fraction > max_saturated_fraction or brightest >= SATURATED_MEAN * window.max_adu


@dataclass(frozen=True)
class Trial:
    """One exposure of the search: the brightness it was taken at, its statistics and what they mean."""

    brightness: int
    stats: FrameStats
    verdict: Verdict

    @property
    def in_window(self) -> bool:
        return self.verdict is Verdict.IN_WINDOW

    @property
    def mean(self) -> float:
        """The level the search steers by: the frame's mean, or for a colour frame the level its `colour`
        rule reads (`FrameStats.level`)."""
        return self.stats.level


@dataclass(frozen=True)
class SearchResult:
    """What the search found. `kept` indexes the in-window trial, which the caller saves as flat #1."""

    ok: bool
    brightness: int | None
    trials: list[Trial]
    reason: str | None = None
    suggested_exposure: float | None = None
    kept: int | None = None
    response: PanelResponse | None = None
    """The panel model fitted to the trials: what the trained table and the next set start from."""
    pedestal_adu: float | None = None
    """The pedestal the search worked with (given, or estimated: see `find_brightness`)."""

    @property
    def flat(self) -> Trial | None:
        """The trial to keep as the set's first flat."""
        return self.trials[self.kept] if self.kept is not None else None


EACH_WIDENING = 3.0
"""`colour: each` accepts every channel within three times the window's tolerance of the target."""


def each_window(window: Window) -> Window:
    """The wider window `colour: each` holds every channel to."""
    low = window.target_adu - EACH_WIDENING * (window.target_adu - window.low_adu)
    high = min(window.target_adu + EACH_WIDENING * (window.high_adu - window.target_adu), float(window.max_adu))
    return Window(max(low, 0.0), high, window.target_adu, window.max_adu)


def each_unreachable(stats: FrameStats, window: Window) -> str | None:
    """Why no level puts every channel of a colour frame into `colour: each`'s wider window (their ratio is
    fixed by the light and the filter, whatever the brightness or exposure), or None if one could."""
    if not stats.channels or stats.colour != "each":
        return None
    wide = each_window(window)
    means = {k: c.mean for k, c in stats.channels.items()}
    if max(means.values()) * wide.low_adu <= min(means.values()) * wide.high_adu:
        return None
    levels = ", ".join(f"{k} {v:.0f}" for k, v in means.items())
    return (
        f"colour: each: the channels are too far apart for one window ({levels} ADU; each must lie in "
        f"{wide.low_adu:.0f}-{wide.high_adu:.0f} ADU): use colour: brightest, or a light or filter whose colour "
        "is flatter"
    )


def classify(stats: FrameStats, window: Window, max_saturated_fraction: float) -> Verdict:
    if is_saturated(stats, window, max_saturated_fraction):
        return Verdict.SATURATED
    level = stats.level
    if stats.channels and stats.colour == "each":
        wide = each_window(window)
        if all(wide.contains(c.mean) for c in stats.channels.values()):
            return Verdict.IN_WINDOW
        return Verdict.TOO_DIM if level < window.target_adu else Verdict.TOO_BRIGHT
    if level < window.low_adu:
        return Verdict.TOO_DIM
    if level > window.high_adu:
        return Verdict.TOO_BRIGHT
    return Verdict.IN_WINDOW


def check_range(brightness_range: tuple[int, int], max_trials: int) -> tuple[int, int]:
    low, high = int(brightness_range[0]), int(brightness_range[1])
    if low > high:
        raise ConfigError(f"brightness range {low}-{high} is empty")
    if max_trials < 1:
        raise ConfigError(f"a brightness search needs at least one trial, not {max_trials}")
    return low, high


def search_failure(result: SearchResult, window: Window) -> str:
    """Why a brightness search failed, in the user's terms, with the exposure that would work when known."""
    unreachable = each_unreachable(result.trials[-1].stats, window) if result.trials else None
    if unreachable is not None:
        return unreachable
    text = result.reason or "the brightness search failed"
    if result.suggested_exposure is not None:
        text += f"; an exposure of about {result.suggested_exposure:.3g} s would reach the target"
    return text
