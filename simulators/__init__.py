"""Physically realistic simulated devices on one optical bench, and protocol emulators.

`Bench(sensor="small", seed=0, clock=None, **options)` builds a camera, a flat panel and a filter wheel that
share one clock and one light path; `sim://` URLs open them through `drivers.open`. `SENSORS` maps preset
names (imx455, imx571, small) to sensor models.
"""

from simulators.devices.bench import Bench
from simulators.physics.options import BenchOptions
from simulators.physics.sensor import SENSORS, SensorModel

__all__ = ["SENSORS", "Bench", "BenchOptions", "SensorModel"]
