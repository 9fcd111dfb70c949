"""Capturing a flat set's frames with no dead time: the next exposure starts the moment the previous image
is read, and the previous one is measured and handed to the writer while the camera exposes.

Every flat is measured; a flat outside the window or saturated is kept on disk but does not count, and
repeated misses (the panel drifting, warming, dimming) trigger a new brightness search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drivers.base import Frame
from drivers.bayer import frame_pattern
from drivers.errors import DeviceDisconnected, DeviceError, FlatseqError, NotConnected
from sequencer.brightness.trials import Window, each_window
from sequencer.core.stats import FrameStats, frame_stats
from sequencer.plan.model import FlatSet
from sequencer.run.darkflats import dark_flat_verdict, leak_limit
from sequencer.run.operator import Exposure, Operator

MISSES_BEFORE_RESEARCH = 2  # consecutive out-of-window flats that mean the panel drifted


class SetFailed(FlatseqError):
    """A flat set cannot be completed; the run's error policy decides what happens next."""

    def __init__(self, set_id: str, message: str) -> None:
        super().__init__(f"set {set_id}: {message}")


class LightReachedDarkFlat(SetFailed):
    """A dark-flat saw light: the light is not off, or the telescope not covered."""


def is_fatal(error: BaseException) -> bool:
    """Errors after which no further set can be taken (the device is gone)."""
    return isinstance(error, DeviceDisconnected | NotConnected) or (
        isinstance(error, DeviceError) and "disconnect" in str(error).lower()
    )


@dataclass
class Tally:
    """How many frames of one kind a set still wants, and the number the next one gets: a set resumed after a
    crash already has some on disk, and its numbers continue (nothing is overwritten)."""

    wanted: int
    total: int
    next_no: int = 1

    @property
    def done_before(self) -> int:
        return self.total - self.wanted

    def take_number(self) -> int:
        number, self.next_no = self.next_no, self.next_no + 1
        return number


@dataclass(frozen=True)
class Measured:
    exposure: Exposure
    stats: FrameStats
    sun_altitude: float | None = None
    """A sky flat's Sun altitude at mid-exposure (degrees): its SUNALT."""

    def without_pixels(self) -> Measured:
        """The frame's account once its pixels are on their way to disk: a set keeps its flats' statistics and
        timing, not 30 frames of 122 MB (an IMX455 dry run kept every frame it took)."""
        return dataclasses.replace(self, exposure=dataclasses.replace(self.exposure, frame=_NO_PIXELS))


_NO_PIXELS: Frame = np.zeros((0, 0), dtype=np.uint16)


class Recorder(Protocol):
    """Where frames go: FITS file (background writer), manifest and journal."""

    def flat(self, fs: FlatSet, m: Measured, *, brightness: int, frame_no: int, rejected: str | None) -> None: ...

    def dark_flat(self, fs: FlatSet, m: Measured, *, frame_no: int, rejected: str | None) -> None: ...


def measure_frame(op: Operator, fs: FlatSet, frame: Frame, max_adu: int) -> FrameStats:
    """A frame's statistics, per Bayer channel for a colour camera's unbinned frames (a binned colour frame is
    no longer a mosaic), levelled by the set's `colour` rule."""
    bayer = frame_pattern(op.eq.camera.info.bayer, fs.binning, fs.roi)
    return frame_stats(frame, max_adu=max_adu, bayer=bayer, colour=fs.colour)


def flat_verdict(stats: FrameStats, window: Window | None) -> str | None:
    """Why a flat does not count, or None when it does. Without a window (a brightness the sequence fixed
    itself) only saturation disqualifies a flat. A colour flat is judged by its channels: none may clip, and
    the level its `colour` rule reads (`FrameStats.level`) must be in the window."""
    if stats.saturated_fraction > 0:
        return f"saturated ({stats.saturated_fraction:.3%} of pixels clipped{_clipped_channels(stats)})"
    if window is None:
        return None
    if stats.channels and stats.colour == "each":
        wide = each_window(window)
        outside = [f"{k} {c.mean:.0f}" for k, c in stats.channels.items() if not wide.contains(c.mean)]
        if outside:
            return f"channel {', '.join(outside)} ADU outside {wide.low_adu:.0f}-{wide.high_adu:.0f} ADU (colour: each)"
        return None
    level = stats.level
    if not window.contains(level):
        side = "below" if level < window.low_adu else "above"
        what = "mean" if not stats.channels or stats.colour == "mean" else "brightest channel"
        return f"{what} {level:.0f} ADU {side} the window {window.low_adu:.0f}-{window.high_adu:.0f} ADU"
    return None


def _clipped_channels(stats: FrameStats) -> str:
    clipped = [f"{k} {c.saturated_fraction:.3%}" for k, c in stats.channels.items() if c.saturated_fraction > 0]
    return f": {', '.join(clipped)}" if clipped else ""


def capture_flats(
    op: Operator,
    fs: FlatSet,
    exposure: float,
    window: Window | None,
    recorder: Recorder,
    *,
    brightness: Callable[[], int],
    first: Measured | None,
    research: Callable[[], Measured] | None,
    max_adu: int,
    progress: Callable[[str, int, int, Measured, int | None], None],
    tally: Tally | None = None,
) -> list[Measured]:
    """Take flats of `exposure` seconds until `tally.wanted` (default `fs.count`) count; `first` is the search's
    in-window trial, kept as the first of them.

    `research()` runs a new brightness search (it returns its in-window trial, which counts as a flat); with
    no `research` (a fixed brightness), misses only count against the set's rejection budget.
    """
    tally = tally or Tally(fs.count, fs.count)
    accepted: list[Measured] = []
    misses = 0
    rejections = 0
    budget = max(5, fs.count // 2)

    def book(m: Measured) -> bool:
        nonlocal misses, rejections
        reason = flat_verdict(m.stats, window)
        recorder.flat(fs, m, brightness=brightness(), frame_no=tally.take_number(), rejected=reason)
        progress("flat", tally.done_before + len(accepted) + (reason is None), fs.count, m, brightness())
        if reason is None:
            accepted.append(m.without_pixels())
            misses = 0
            return True
        misses += 1
        rejections += 1
        if rejections > budget:
            raise SetFailed(fs.id, f"{rejections} flats rejected (last: {reason}); the panel is not stable")
        return False

    if first is not None:
        book(first)
    while len(accepted) < tally.wanted:
        if research is not None and misses >= MISSES_BEFORE_RESEARCH:
            if op.exposing:  # measure the frame in flight first: it may already be back in the window
                exp = op.finish_exposure("flats")
                book(Measured(exp, measure_frame(op, fs, exp.frame, max_adu)))
                continue
            misses = 0
            book(research())
            continue
        if not op.exposing:
            op.start_exposure(exposure, light=True)
        exp = op.finish_exposure("flats")
        # Start the next one now, before measuring this one: the camera never waits for us.
        if len(accepted) + 1 < tally.wanted:
            op.start_exposure(exposure, light=True)
        book(Measured(exp, measure_frame(op, fs, exp.frame, max_adu)))
    if op.exposing:  # the last frame in flight became surplus: the set is complete without it
        op.abort_exposure()
    return accepted


def capture_dark_flats(
    op: Operator,
    fs: FlatSet,
    exposure: float,
    recorder: Recorder,
    *,
    flat_level: float,
    dark_level: float,
    flats_seconds: float | None,
    max_adu: int,
    progress: Callable[[str, int, int, Measured, int | None], None],
    tally: Tally | None = None,
    leak_hint: str | None = None,
) -> list[Measured]:
    """Take `tally.wanted` (default `fs.dark_count`) dark-flats at the flats' `exposure`, refusing a frame that
    saw light or that the camera exposed for another time than the flats (`flats_seconds`, as it timed them);
    `leak_hint` says what to do about light that reached one."""
    tally = tally or Tally(fs.dark_count, fs.dark_count)
    taken: list[Measured] = []
    resolution = op.eq.camera.info.exposure_resolution
    if tally.wanted > 0:
        op.start_exposure(exposure, light=False)
    while len(taken) < tally.wanted:
        exp = op.finish_exposure("dark-flats")
        if len(taken) + 1 < tally.wanted:
            op.start_exposure(exposure, light=False)
        m = Measured(exp, measure_frame(op, fs, exp.frame, max_adu))
        reason = dark_flat_verdict(
            exp,
            m.stats.mean,
            flat_level=flat_level,
            dark_level=dark_level,
            flats_seconds=flats_seconds,
            resolution=resolution,
            leak_hint=leak_hint,
        )
        recorder.dark_flat(fs, m, frame_no=tally.take_number(), rejected=reason)
        progress("dark-flat", tally.done_before + len(taken) + 1, fs.dark_count, m, None)
        if reason is not None:
            op.abort_exposure()
            leaked = m.stats.mean > leak_limit(flat_level, dark_level)
            raise (LightReachedDarkFlat if leaked else SetFailed)(fs.id, reason)
        taken.append(m.without_pixels())
    return taken
