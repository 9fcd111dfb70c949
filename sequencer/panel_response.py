"""A flat panel's response: the mean ADU a frame reaches as a function of the panel's integer brightness.

The brightness search needs a model it can invert from a handful of trials. One family covers the panels
users own: LED panels dimmed by PWM are linear, EL and analog-dimmed panels follow a gamma curve or stay dark
below a threshold:

    mean(b) = pedestal + scale * max(b - threshold, 0) ** gamma

`pedestal` is the offset plus the dark signal (what a dark-flat of the same exposure reads), `scale` carries
everything that multiplies the light (filter transmission, exposure, gain), while `threshold` and `gamma`
describe the panel alone. So the shape learnt on one filter or exposure carries over to the next: one
trial fixes the new scale (`through`) and the second trial lands on target, whatever the curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LINEAR", "PanelResponse", "PanelShape", "fit_response"]

GAMMA_LIMITS = (0.3, 5.0)
"""Exponents outside this range are noise, not panels."""
PLAUSIBLE_GAMMA = (0.7, 2.6)
"""Panel curves seen in practice: PWM LEDs 1, EL and analogue dimmers up to about 2.4."""


@dataclass(frozen=True)
class PanelShape:
    """The part of a response that belongs to the panel: where light starts and how it grows."""

    threshold: float = 0.0
    gamma: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return {"threshold": self.threshold, "gamma": self.gamma}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PanelShape:
        return cls(threshold=float(data["threshold"]), gamma=float(data["gamma"]))


LINEAR = PanelShape()
"""The prior when nothing is known: a PWM-dimmed LED panel, dark at brightness 0."""


@dataclass(frozen=True)
class PanelResponse:
    """mean(b) = pedestal + scale * max(b - threshold, 0) ** gamma, in ADU."""

    pedestal: float
    scale: float
    threshold: float = 0.0
    gamma: float = 1.0

    @property
    def shape(self) -> PanelShape:
        return PanelShape(self.threshold, self.gamma)

    def signal_at(self, brightness: float) -> float:
        """ADU above the pedestal at a brightness."""
        lit = brightness - self.threshold
        return self.scale * lit**self.gamma if lit > 0 else 0.0

    def mean_at(self, brightness: float) -> float:
        return self.pedestal + self.signal_at(brightness)

    def brightness_for(self, mean_adu: float) -> float | None:
        """The (fractional) brightness that gives `mean_adu`, None if no brightness can (at or below pedestal)."""
        signal = mean_adu - self.pedestal
        if signal <= 0 or self.scale <= 0:
            return None
        return self.threshold + float((signal / self.scale) ** (1.0 / self.gamma))

    def local_gamma(self, brightness: float) -> float:
        """d ln(signal) / d ln(brightness): how much one brightness step changes the signal, relatively."""
        lit = brightness - self.threshold
        if lit <= 0 or brightness <= 0:
            return math.inf
        return self.gamma * brightness / lit

    def rescaled(self, factor: float) -> PanelResponse:
        """The same panel with the light multiplied by `factor` (a longer exposure, a clearer filter)."""
        return PanelResponse(self.pedestal, self.scale * factor, self.threshold, self.gamma)

    def to_dict(self) -> dict[str, float]:
        return {"pedestal": self.pedestal, "scale": self.scale, "threshold": self.threshold, "gamma": self.gamma}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PanelResponse:
        return cls(
            pedestal=float(data["pedestal"]),
            scale=float(data["scale"]),
            threshold=float(data.get("threshold", 0.0)),
            gamma=float(data.get("gamma", 1.0)),
        )

    @classmethod
    def through(cls, brightness: float, mean_adu: float, pedestal: float, shape: PanelShape) -> PanelResponse | None:
        """The response of the given shape that passes through one measured point."""
        threshold = min(shape.threshold, brightness - 1.0)
        signal = mean_adu - pedestal
        if signal <= 0:
            return None
        return cls(pedestal, signal / (brightness - threshold) ** shape.gamma, threshold, shape.gamma)


def _weighted_power_fit(
    lit: np.ndarray, signal: np.ndarray, weights: np.ndarray, gamma_prior: float
) -> tuple[float, float, float]:
    """Least squares of ln(signal) = ln(scale) + gamma ln(lit); returns (scale, gamma, residual)."""
    x, y = np.log(lit), np.log(signal)
    wsum = weights.sum()
    mx, my = (weights * x).sum() / wsum, (weights * y).sum() / wsum
    sxx = (weights * (x - mx) ** 2).sum()
    gamma = gamma_prior if sxx <= 1e-12 else float((weights * (x - mx) * (y - my)).sum() / sxx)
    gamma = min(max(gamma, GAMMA_LIMITS[0]), GAMMA_LIMITS[1])
    log_scale = my - gamma * mx
    residual = float((weights * (y - log_scale - gamma * x) ** 2).sum())
    return math.exp(log_scale), gamma, residual


def fit_response(
    points: Sequence[tuple[float, float]],
    *,
    pedestal: float,
    target_adu: float,
    prior: PanelShape = LINEAR,
    threshold_floor: float | None = None,
    dark_below: float = -math.inf,
) -> PanelResponse | None:
    """Fit the response to measured (brightness, mean ADU) points, trusting the points near the target most.

    One point fixes the scale of the prior shape; two fit scale and gamma with the prior's threshold; three
    or more fit the threshold too. `dark_below`: a brightness known to give no light, which bounds the
    threshold from below; `threshold_floor` bounds it otherwise (default: one range-width below zero).
    Points at or below the pedestal carry no scale and are left out. None when no point has signal.
    """
    lit_points = sorted((b, m) for b, m in points if m - pedestal > 0)
    if not lit_points:
        return None
    target_signal = max(target_adu - pedestal, 1.0)
    brightness = np.array([b for b, _ in lit_points], dtype=float)
    signal = np.array([m - pedestal for _, m in lit_points], dtype=float)
    lowest = float(brightness[0])
    low_bound = dark_below if math.isfinite(dark_below) else None
    if low_bound is not None and low_bound >= lowest:
        low_bound = None  # contradicted by noise: ignore
    prior_threshold = prior.threshold
    if low_bound is not None:
        prior_threshold = max(prior_threshold, low_bound)
    if prior_threshold >= lowest:
        prior_threshold = lowest - 1.0
    if len(lit_points) == 1:
        if low_bound is not None and prior.threshold <= low_bound:
            # Dark below, lit above, nothing else: the light starts somewhere between; guess half-way.
            prior_threshold = (low_bound + lowest) / 2
        return PanelResponse.through(lowest, lit_points[0][1], pedestal, PanelShape(prior_threshold, prior.gamma))

    # Points far from the target matter less: a panel is only roughly a power law over its whole range.
    weights = 1.0 / (1.0 + np.abs(np.log(signal / target_signal))) ** 2
    if len(set(brightness.tolist())) < 2:
        b = float(brightness.mean())
        m = float(signal.mean()) + pedestal
        return PanelResponse.through(b, m, pedestal, PanelShape(prior_threshold, prior.gamma))

    # Two points leave one degree of freedom (a steeper curve lit from lower down, or a straighter one lit
    # from higher up); three or more pin the threshold. Search the threshold on a grid dense near the
    # lowest lit point, fit scale and gamma for each, and let a faint pull toward the prior settle what the
    # points leave open.
    span = max(float(brightness[-1]) - lowest, 1.0)
    floor = threshold_floor if threshold_floor is not None else lowest - 4.0 * max(span, abs(lowest), 1.0)
    if low_bound is not None:
        floor = max(floor, low_bound)
    depth = max(lowest - floor, 0.02)
    reach = max(float(brightness[-1]), span)
    # With two points: a dark trial below them says "threshold panel", so keep the prior's exponent and fit
    # where the light starts; so does a curve steeper than any panel's gamma through the prior's threshold.
    # Otherwise keep the prior's threshold and fit the exponent (gamma panels).
    threshold_panel = low_bound is not None
    if not threshold_panel:
        _, gamma_at_prior, _ = _weighted_power_fit(brightness - prior_threshold, signal, weights, prior.gamma)
        threshold_panel = not PLAUSIBLE_GAMMA[0] <= gamma_at_prior <= PLAUSIBLE_GAMMA[1]
    pull_threshold, pull_gamma = (1.0, 100.0) if threshold_panel else (100.0, 1.0)
    candidates = np.unique(
        np.concatenate([lowest - np.geomspace(0.01, depth, 120), [min(max(prior_threshold, floor), lowest - 0.01)]])
    )
    pull = 1e-4 if len(lit_points) == 2 else 1e-8  # with three points the data decide

    def score(c: float) -> tuple[float, PanelResponse]:
        scale, gamma, residual = _weighted_power_fit(brightness - c, signal, weights, prior.gamma)
        # A faint pull toward the prior settles what the points leave open (two points, or noise).
        penalty = residual + pull * (
            pull_threshold * ((c - prior_threshold) / reach) ** 2 + pull_gamma * math.log(gamma / prior.gamma) ** 2
        )
        return penalty, PanelResponse(pedestal, scale, float(c), gamma)

    scored = [score(float(c)) for c in candidates]
    best = min(range(len(scored)), key=lambda i: scored[i][0])
    # Refine between the best candidate's neighbours: the coarse grid steps by ~7 % of the distance.
    low_c = float(candidates[max(best - 1, 0)])
    high_c = float(candidates[min(best + 1, len(candidates) - 1)])
    finer = [scored[best], *(score(float(c)) for c in np.linspace(low_c, high_c, 41))]
    return min(finer, key=lambda item: item[0])[1]
