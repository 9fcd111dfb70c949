"""A panel-and-camera stand-in for unit tests of the brightness search: a response curve and a small frame.

The search is the unit under test, so its input is a plain function of brightness; each measurement is a
real uint16 frame (a fixed vignetted illumination map × signal + pedestal, clipped at 65535) measured by
`frame_stats`, so percentiles and saturation behave as they do on a camera.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sequencer.core.stats import FrameStats, frame_stats

Curve = Callable[[float], float]
"""Panel output (0-1) at a brightness."""


def linear(top: int = 255) -> Curve:
    return lambda b: min(max(b, 0.0), top) / top


def gamma(exponent: float, top: int = 255) -> Curve:
    return lambda b: (min(max(b, 0.0), top) / top) ** exponent


def threshold(start: float, top: int = 255) -> Curve:
    return lambda b: max(min(b, top) - start, 0.0) / (top - start)


def _illumination(rows: int = 24, cols: int = 36, corner: float = 0.8) -> np.ndarray:
    y = np.linspace(-1, 1, rows)[:, None]
    x = np.linspace(-1, 1, cols)[None, :]
    field_ = 1 - (1 - corner) * (x * x + y * y) / 2
    normalised: np.ndarray = field_ / field_.mean()
    return normalised


@dataclass
class SyntheticPanel:
    """mean(b) = pedestal + full × curve(b) × exposure / exposure_ref, as a frame with vignetting and noise.

    `full` is the mean signal (ADU above the pedestal) at full brightness and `reference_exposure`;
    `noise` the relative frame-to-frame scatter of the light (PWM, flicker); `max_adu` the camera's clip level
    (4095 for a 12-bit camera).
    """

    curve: Curve
    full: float
    pedestal: float = 500.0
    noise: float = 0.0
    exposure: float = 1.0
    reference_exposure: float = 1.0
    seed: int = 0
    max_adu: int = 65535
    calls: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._illumination = _illumination()

    def signal(self, brightness: float) -> float:
        return self.full * self.curve(brightness) * self.exposure / self.reference_exposure

    def mean(self, brightness: float) -> float:
        """The noise-free, unclipped mean at a brightness."""
        return self.pedestal + self.signal(brightness)

    def measure(self, brightness: int) -> FrameStats:
        self.calls.append(brightness)
        light = self.signal(brightness)
        if self.noise:
            light *= 1 + self.noise * float(self._rng.standard_normal())
        frame = self.pedestal + light * self._illumination
        return frame_stats(np.clip(np.rint(frame), 0, self.max_adu).astype(np.uint16), max_adu=self.max_adu)

    def at_exposure(self, exposure: float) -> SyntheticPanel:
        """The same panel and camera at another exposure (the light scales, the pedestal does not)."""
        return SyntheticPanel(
            self.curve, self.full, self.pedestal, self.noise, exposure, self.reference_exposure, max_adu=self.max_adu
        )


def full_for(curve: Curve, wanted_brightness: float, target_signal: float) -> float:
    """The full-brightness signal that puts `target_signal` at `wanted_brightness`."""
    return target_signal / curve(wanted_brightness)
