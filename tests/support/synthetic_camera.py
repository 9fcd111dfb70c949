"""A camera-and-steady-light stand-in for unit tests of the exposure search: mean as a function of exposure.

The search is the unit under test, so its input is a plain function of exposure; each measurement is a real
uint16 frame (a fixed vignetted illumination map × signal + pedestal, clipped at the camera's top) measured by
`frame_stats`, so percentiles and saturation behave as they do on a camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sequencer.core.stats import FrameStats, frame_stats
from tests.support.synthetic_panel import _illumination


@dataclass
class SyntheticCamera:
    """signal(t) = rate × (t + lag) ADU above `pedestal` (× (1 + curve·signal/full scale): a non-linear top),
    with relative scatter `noise` (a flickering light) and clipping at `max_adu`."""

    rate: float
    pedestal: float = 500.0
    lag: float = 0.0
    noise: float = 0.0
    curve: float = 0.0
    seed: int = 0
    max_adu: int = 65535
    calls: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._illumination = _illumination()

    def signal(self, seconds: float) -> float:
        linear = max(self.rate * (seconds + self.lag), 0.0)
        return linear * (1 + self.curve * linear / self.max_adu)

    def mean(self, seconds: float) -> float:
        """The noise-free, unclipped mean after `seconds`."""
        return self.pedestal + self.signal(seconds)

    def measure(self, seconds: float) -> FrameStats:
        self.calls.append(seconds)
        light = self.signal(seconds)
        if self.noise:
            light *= 1 + self.noise * float(self._rng.standard_normal())
        frame = self.pedestal + light * self._illumination
        return frame_stats(np.clip(np.rint(frame), 0, self.max_adu).astype(np.uint16), max_adu=self.max_adu)

    def for_exposure(self, seconds: float, fraction: float = 0.5) -> SyntheticCamera:
        """The same camera with the light scaled so that `seconds` puts the mean at `fraction` of full scale."""
        wanted = fraction * (self.max_adu + 1) - self.pedestal
        rate = wanted / (seconds + self.lag)
        return SyntheticCamera(rate, self.pedestal, self.lag, self.noise, self.curve, self.seed, self.max_adu)
