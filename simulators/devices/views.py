"""What each simulated device may see of the bench: a narrow view, not the whole `Bench`.

The camera reads the light that reached it and the cooler; the panel drives the light source; the wheel
moves the filters in the beam. `Bench` provides all three views; devices never import it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from drivers.base import Frame
from drivers.clock import Clock
from simulators.devices.faults import Faults
from simulators.physics.colour import Tile
from simulators.physics.cooler import Cooler
from simulators.physics.light import PanelTimeline, WheelTimeline
from simulators.physics.options import BenchOptions
from simulators.physics.render import ExposureSignal
from simulators.physics.sensor import SensorModel


class CameraView(Protocol):
    """The camera's side of the bench: its sensor and cooler, and the light that reaches it."""

    @property
    def clock(self) -> Clock: ...

    @property
    def sensor(self) -> SensorModel: ...

    @property
    def options(self) -> BenchOptions: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def cooler(self) -> Cooler: ...

    def frame_rng(self, index: int) -> np.random.Generator:
        """The seeded generator for exposure number `index`."""
        ...

    def light_electrons(self, start: float, seconds: float, rng: np.random.Generator | None = None) -> float:
        """Photoelectrons per pixel at illumination 1 collected over [start, start + seconds]."""
        ...

    def colour_at(self, t: float, binning: int) -> tuple[float, Tile | None]:
        """A colour sensor's light at time t: (scale, the 2×2 cell's factors); (1, None) for mono."""
        ...

    def light_pattern(
        self, start: float, seconds: float, light_e: float, binning: int
    ) -> npt.NDArray[np.float32] | None:
        """The light's shape across the frame (a twilight sky's gradient and stars); None: flat."""
        ...

    def render(self, signal: ExposureSignal, rng: np.random.Generator) -> Frame:
        """The raw frame an exposure with this signal reads out."""
        ...


class PanelView(Protocol):
    """The panel's side of the bench: the light source and its cover."""

    @property
    def clock(self) -> Clock: ...

    @property
    def options(self) -> BenchOptions: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def light(self) -> PanelTimeline: ...


class WheelView(Protocol):
    """The wheel's side of the bench: which filter is in the beam, and when it moved."""

    @property
    def clock(self) -> Clock: ...

    @property
    def options(self) -> BenchOptions: ...

    @property
    def faults(self) -> Faults: ...

    @property
    def filter_path(self) -> WheelTimeline: ...
