"""A light switched by hand, wired into a run: asked at the terminal when there is one, else watched with test
frames (`lightwatch`) judged against the set at hand: its pedestal, its window, its flats' level."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sequencer.run.darkflats import leak_limit
from sequencer.run.executor import RunExecutor
from sequencer.run.lightwatch import LightWatch, WatchLevels
from sequencer.run.manual import Hand, ManualLight
from sequencer.run.progress import Progress
from sequencer.run.stop import StopToken
from sequencer.run.terminal import PROMPTS, SKY_PROMPTS, Terminal, TerminalConfirm

__all__ = ["LIGHT_ON_ADU", "LIGHT_ON_MARGIN", "install", "watch_levels"]

LIGHT_ON_MARGIN = 0.005
"""A light is seen on when a test frame stands this fraction of the target's signal above the pedestal."""
LIGHT_ON_ADU = 20.0
"""... and at least this many ADU (the mean against the bias's median, dark signal, hot pixels)."""


def install(
    panel: ManualLight,
    executor: RunExecutor,
    *,
    terminal: Terminal | None,
    stop: StopToken,
    timeout: float,
    progress: Progress,
) -> None:
    """How the run confirms each switch of `panel`: Enter at `terminal`, or with none, test frames."""
    progress.show_brightness = False
    if terminal is not None:
        panel.confirm = TerminalConfirm(
            terminal,
            stop,
            timeout,
            context=lambda: progress.set_label,
            before=progress.end_line,
            prompts=SKY_PROMPTS if panel.sky else PROMPTS,
        )
        return
    watch = LightWatch(executor.op, partial(watch_levels, executor), timeout, progress.say)
    panel.confirm = SkyWatch(watch, progress.say) if panel.sky else watch


class SkyWatch:
    """With nobody to ask, sky flats take the telescope as uncapped when the run starts (the sky may be too
    dark, before dawn, for a test frame to tell); the sky's trials show whether light arrives. The cap before
    the dark-flats is watched with test frames, as a light switched off is, and each dark-flat is checked."""

    def __init__(self, watch: LightWatch, say: Callable[[str], None]) -> None:
        self.watch = watch
        self.say = say

    def switch(self, on: bool, *, final: bool, hand: Hand | None) -> None:
        if not on:
            self.watch.switch(False, final=final, hand=hand)
            return
        if hand is not None:
            hand()
        self.say("  the telescope is taken as uncapped and pointed at the sky (no terminal to ask)")


def watch_levels(executor: RunExecutor, on: bool) -> WatchLevels | None:
    """How test frames tell the light on or off for the set at hand: at its flats' exposure once known, else
    where its exposure search will start; None before any set has its pedestal."""
    del on  # the same levels tell both ways
    fs = executor.current_set
    state = executor.sets.get(fs.id) if fs is not None else None
    if fs is None or state is None:
        return None
    settings = state.settings
    key = (settings.gain, settings.offset, settings.binning, settings.readout_mode, settings.temperature or 0.0)
    pedestal = executor.pedestals.get(key)
    if pedestal is None:
        return None
    exposure = state.exposure
    if exposure is None:
        exposure = executor.exposures.first_trial(fs, state, pedestal, None)
    margin = max(LIGHT_ON_MARGIN * (state.window.target_adu - pedestal), LIGHT_ON_ADU)
    levels = [m.stats.mean for m in state.flats] + [f.mean for f in state.earlier]
    off_below = leak_limit(sum(levels) / len(levels), pedestal) if levels else pedestal + margin / 2
    return WatchLevels(exposure, pedestal, pedestal + margin, off_below)
