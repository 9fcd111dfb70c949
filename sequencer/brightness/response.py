"""A flat panel's response: the mean ADU a frame reaches as a function of the panel's integer brightness.

The brightness search needs a model it can invert from a handful of trials. One family covers the panels
users own: LED panels dimmed by PWM are linear, EL and analog-dimmed panels follow a gamma curve or stay dark
below a threshold:

    mean(b) = pedestal + scale * max(b - threshold, 0) ** gamma

`pedestal` is the offset plus the dark signal (what a dark-flat of the same exposure reads), `scale` carries
everything that multiplies the light (filter transmission, exposure, gain), while `threshold` and `gamma`
describe the panel alone. So the shape learnt on one filter or exposure carries over to the next: one
trial fixes the new scale (`through`) and the second trial lands on target, whatever the curve. A shape
is only learnt from two measured levels or more (`levels`): one level fixes the scale, not the curve.
The search fits the response (`odds`); this module is the model's algebra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sequencer.core.jsonfields import Fields

__all__ = ["LINEAR", "PanelResponse", "PanelShape"]


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
    levels: int = 2
    """How many measured levels the shape rests on. Below two the shape is only assumed (one level fixes the
    scale, not the curve): a search then takes the scale and not the shape."""

    @property
    def shape(self) -> PanelShape:
        return PanelShape(self.threshold, self.gamma)

    @property
    def shape_known(self) -> bool:
        return self.levels >= 2

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
        return PanelResponse(self.pedestal, self.scale * factor, self.threshold, self.gamma, self.levels)

    def to_dict(self) -> dict[str, float]:
        return {
            "pedestal": self.pedestal,
            "scale": self.scale,
            "threshold": self.threshold,
            "gamma": self.gamma,
            "levels": self.levels,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "response") -> PanelResponse:
        """Read back `to_dict`'s output, every value checked (a `FieldError` names the key)."""
        f = Fields(data, where)
        return cls(
            pedestal=f.number("pedestal"),
            scale=f.number("scale"),
            threshold=f.number("threshold") if "threshold" in data else 0.0,
            gamma=f.number("gamma", 1e-3, 1e3) if "gamma" in data else 1.0,
            levels=f.integer("levels", 0, 1_000_000) if "levels" in data else 2,  # older tables: fitted shapes
        )

    @classmethod
    def through(
        cls, brightness: float, mean_adu: float, pedestal: float, shape: PanelShape, levels: int = 2
    ) -> PanelResponse | None:
        """The response of the given shape that passes through one measured point (None if no light there)."""
        threshold = min(shape.threshold, brightness - 1.0)
        signal = mean_adu - pedestal
        if signal <= 0:
            return None
        return cls(pedestal, signal / (brightness - threshold) ** shape.gamma, threshold, shape.gamma, levels)
