"""The camera's TEC cooler: ramps the sensor toward its set-point at a finite rate, on the bench clock.

With no set-point (cooler off) the sensor drifts back to ambient. The cooler cannot pull more than
`cooling_delta_max` below ambient, and a `cooler=stuck` bench stalls `cooler_stall` degrees above the
set-point: `temperature()` reports the real value, `at_setpoint()` stays false, and a caller waiting for
the set-point gets DeviceTimeout from `Camera.wait_for_cooler`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_WARM_RATE = 0.1  # °C/s back toward ambient with the cooler off


@dataclass(frozen=True)
class _Ramp:
    start: float
    from_c: float
    to_c: float
    rate: float

    def at(self, t: float) -> float:
        span = self.to_c - self.from_c
        moved = self.rate * max(t - self.start, 0.0)
        if moved >= abs(span):
            return self.to_c
        return self.from_c + (moved if span > 0 else -moved)


class Cooler:
    """Sensor temperature over time. Thread-safe."""

    def __init__(
        self,
        *,
        ambient: float,
        rate: float,
        delta_max: float,
        stuck: bool,
        stall: float,
        start: float,
    ) -> None:
        self.ambient = ambient
        self._rate = rate
        self._delta_max = delta_max
        self._stuck = stuck
        self._stall = stall
        self._lock = threading.Lock()
        self._setpoint: float | None = None
        self._ramp = _Ramp(start, ambient, ambient, _WARM_RATE)

    @property
    def setpoint(self) -> float | None:
        with self._lock:
            return self._setpoint

    def reachable(self, setpoint: float) -> float:
        """Where the sensor will settle for a set-point (the set-point itself unless limited or stuck)."""
        target = max(setpoint, self.ambient - self._delta_max)
        if self._stuck:
            target = max(target, setpoint + self._stall)
        return min(target, self.ambient)  # a TEC cools; it does not heat above ambient

    def set(self, now: float, setpoint: float | None) -> None:
        """Start ramping toward a set-point (None: switch the cooler off and drift to ambient)."""
        with self._lock:
            current = self._ramp.at(now)
            self._setpoint = setpoint
            if setpoint is None:
                self._ramp = _Ramp(now, current, self.ambient, _WARM_RATE)
            else:
                target = self.reachable(setpoint)
                rate = self._rate if target < current else _WARM_RATE
                self._ramp = _Ramp(now, current, target, rate)

    def temperature(self, t: float) -> float:
        with self._lock:
            return self._ramp.at(t)

    def power(self, t: float) -> float:
        """Cooler power in percent: how hard the TEC works to hold the sensor below ambient."""
        with self._lock:
            if self._setpoint is None:
                return 0.0
            if self._stuck:
                return 100.0
            temp = self._ramp.at(t)
            if temp > self._ramp.to_c + 0.05:
                return 100.0
        return max(0.0, min(100.0, 100.0 * (self.ambient - temp) / self._delta_max))

    def at_setpoint(self, t: float, tolerance: float) -> bool:
        with self._lock:
            if self._setpoint is None:
                return True
            return abs(self._ramp.at(t) - self._setpoint) <= tolerance

    def settle_eta(self, t: float) -> float | None:
        """Clock time the sensor will reach the set-point, None if it never will."""
        with self._lock:
            if self._setpoint is None:
                return t
            if abs(self._ramp.to_c - self._setpoint) > 1e-9:
                return None
            return self._ramp.start + abs(self._ramp.to_c - self._ramp.from_c) / self._ramp.rate
