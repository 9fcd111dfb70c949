"""Watching a light switched by hand when nobody can be asked (`--no-prompt`, no terminal): test frames.

The light counts as on once a test frame's mean stands above the pedestal by a margin (half a percent of the
target's signal: the dimmest light the exposure range can bring into the window shows at least that at the
exposure the search starts with), and as off once a frame is back at the pedestal (no more than a dark-flat may
show: `darkflats.leak_limit`). Test frames are taken at the set's settings, counted as "light check" time,
and never saved. Each wait is bounded by the timeout on the run's clock and said in the progress. The run's
last light-off looks only briefly (`FINAL_FRAMES`): the run is stopping, and a person may have gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.errors import DeviceError, DeviceTimeout
from sequencer.core.stats import frame_stats
from sequencer.core.units import format_duration
from sequencer.run.manual import NAME, Hand
from sequencer.run.operator import Operator

__all__ = ["FINAL_FRAMES", "LightWatch", "WatchLevels"]

FINAL_FRAMES = 2
"""Test frames the run's last light-off takes before it says the light may still be on."""
PAUSE = 1.0
"""Seconds between test frames."""
REPORT_EVERY = 30.0
"""Seconds between progress lines while waiting."""


@dataclass(frozen=True)
class WatchLevels:
    """How to tell the light's state at the current settings: test frames of `exposure` seconds; on above
    `on_above` ADU, off at or below `off_below` ADU (`pedestal` for messages)."""

    exposure: float
    pedestal: float
    on_above: float
    off_below: float


class LightWatch:
    """`Confirm` by test frames. `levels(on)` gives the levels for the set at hand (None: no camera setting
    yet, nothing to judge a frame by); `say` writes to the progress."""

    def __init__(
        self,
        op: Operator,
        levels: Callable[[bool], WatchLevels | None],
        timeout: float,
        say: Callable[[str], None],
    ) -> None:
        self.op = op
        self.levels = levels
        self.timeout = timeout
        self.say = say

    def switch(self, on: bool, *, final: bool, hand: Hand | None) -> None:
        levels = self.levels(on)
        if levels is None:
            raise DeviceError(NAME, "no camera settings yet to watch the light with: switch it off yourself")
        wanted = "come on" if on else "go off"
        bound = "" if final else f", for up to {format_duration(self.timeout)}"
        self.say(
            f"  waiting for the flat light to {wanted} (switch it {'on' if on else 'off'}; no terminal to ask: "
            f"watching test frames of {levels.exposure:g} s{bound})"
        )
        if hand is not None:
            hand()
        clock = self.op.clock
        start = last_report = clock.now()
        frames = 0
        while True:
            mean = self._test_frame(levels.exposure, interruptible=not final)
            frames += 1
            if (mean > levels.on_above) if on else (mean <= levels.off_below):
                self.say(f"  the flat light is {'on' if on else 'off'} (test frame mean {mean:.0f} ADU)")
                return
            waited = clock.now() - start
            if (final and frames >= FINAL_FRAMES) or (not final and waited >= self.timeout):
                raise DeviceTimeout(
                    NAME,
                    f"the light did not {wanted} within {format_duration(waited)}: last test frame mean {mean:.0f} "
                    f"ADU, pedestal {levels.pedestal:.0f} ADU",
                )
            if clock.now() - last_report >= REPORT_EVERY:
                last_report = clock.now()
                self.say(f"  still waiting for the flat light to {wanted}: test frame mean {mean:.0f} ADU")
            if final:
                clock.sleep(PAUSE)
            else:
                self.op.stop.sleep(clock, PAUSE)

    def _test_frame(self, seconds: float, *, interruptible: bool) -> float:
        info = self.op.eq.camera.info
        self.op.start_exposure(seconds, light=True, interruptible=interruptible)
        exposure = self.op.finish_exposure("light check", interruptible=interruptible)
        return frame_stats(exposure.frame, max_adu=info.max_adu).mean
