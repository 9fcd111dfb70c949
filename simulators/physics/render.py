"""Frame synthesis: photoelectrons + dark signal → shot and read noise → ADU, fast enough for IMX455 dry runs.

Per pixel the mean signal is light × illumination + dark current × t (+ amp glow, + hot pixels); the pixel
reads pedestal + column pattern + signal / gain, with Gaussian noise of variance (signal + read noise²) /
gain² (shot noise of the photo- and thermal electrons, and read noise: the right mean and variance per
pixel), then clips where the pixel saturates (full well or the ADC's top) and rounds to the ADC's step. The
noise is added before the clip, so a pixel far past full well reads exactly the saturation level.

Speed: the fixed maps are float32 and precomputed; the noise comes from a seeded pool of standard normals
read at a random offset per row block (drawn from the frame's generator, so a seed still fixes every frame);
row blocks stay in cache and are split over a small thread pool (numpy releases the GIL).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drivers.base import Frame
from simulators.physics.colour import Tile
from simulators.physics.optics import FixedMaps
from simulators.physics.sensor import SensorModel

_BLOCK_ELEMENTS = 1 << 16  # ~256 KiB of float32 per temporary: stays in L2
_THREADED_FROM = 1 << 20  # frames smaller than this render on the calling thread


@dataclass(frozen=True)
class ExposureSignal:
    """What one frame integrates, besides the fixed maps."""

    light_e: float
    """Photoelectrons per pixel at illumination 1 (panel flux × integrated light through the filter)."""
    seconds: float
    """Exposure time: dark current and amp glow integrate over it."""
    temperature: float
    gain: int
    offset: int
    binning: int = 1
    readout_mode: int = 0
    cfa: Tile | None = None
    """A colour sensor's light in each pixel of the 2×2 cell, as factors of `light_e` (None: mono)."""
    pattern: npt.NDArray[np.float32] | None = None
    """The light's own shape across the frame, mean about 1 (a twilight sky's gradient and stars); None: flat."""


@dataclass(frozen=True)
class _Plan:
    """Scalars of one frame, in ADC codes (ADU / step)."""

    light_e: float
    dark_e: float
    glow_e: float
    inv_gain: float
    k_shot: float
    k_read: float
    ceiling: float
    step: int
    cfa: Tile | None = None
    pattern: npt.NDArray[np.float32] | None = None


class FrameRenderer:
    """Renders frames from fixed maps. Owns the normal pool and (for big frames) a thread pool."""

    def __init__(self, sensor: SensorModel, seed: int, workers: int | None = None) -> None:
        self._sensor = sensor
        self._seed = seed
        self._workers = workers or min(os.cpu_count() or 1, 4)
        # Big frames read ~1000 blocks per frame from the pool: a large pool keeps overlaps rare.
        self._pool_size = 1 << 23 if sensor.width * sensor.height >= _THREADED_FROM else 1 << 19
        self._pool: npt.NDArray[np.float32] | None = None
        self._executor: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _normals(self) -> npt.NDArray[np.float32]:
        if self._pool is None:
            self._pool = np.random.default_rng([self._seed, 5]).standard_normal(self._pool_size, dtype=np.float32)
        return self._pool

    def plan(self, signal: ExposureSignal) -> _Plan:
        s = self._sensor
        gain, mode, b = signal.gain, signal.readout_mode, signal.binning
        step = s.adu_step(mode)
        e_per_adu = s.e_per_adu(gain)
        read_e = s.read_noise_e(gain, mode)
        scale = 1.0 / (b * e_per_adu * step) ** 2
        return _Plan(
            light_e=max(signal.light_e, 0.0),
            dark_e=s.dark_current(signal.temperature) * signal.seconds,
            glow_e=s.glow_peak * signal.seconds,
            inv_gain=1.0 / (e_per_adu * step),
            k_shot=scale,
            k_read=read_e * read_e * scale,
            ceiling=float(math.floor(s.saturation_adu(gain, signal.offset, mode) / step)),
            step=step,
            cfa=signal.cfa,
            pattern=signal.pattern,
        )

    def column_levels(self, maps: FixedMaps, signal: ExposureSignal, rng: np.random.Generator) -> np.ndarray:
        """Per-column level in codes: pedestal + fixed banding + this frame's banding, +0.5 for rounding."""
        s = self._sensor
        step = s.adu_step(signal.readout_mode)
        read_adu = s.read_noise_e(signal.gain, signal.readout_mode) / s.e_per_adu(signal.gain)
        _, cols = maps.shape
        frame_part = rng.standard_normal(cols) * (s.banding_frame * read_adu / math.sqrt(signal.binning))
        fixed_part = maps.column_unit.astype(np.float64) * (s.banding_fixed * read_adu)
        levels = (s.pedestal_adu(signal.offset) + fixed_part + frame_part) / step + 0.5
        return levels.astype(np.float32)

    def render(self, maps: FixedMaps, signal: ExposureSignal, rng: np.random.Generator) -> Frame:
        """One frame (binned size, uint16). Deterministic for a given generator state."""
        plan = self.plan(signal)
        rows, cols = maps.shape
        levels = self.column_levels(maps, signal, rng)
        pool = self._normals()
        per_block = max(1, _BLOCK_ELEMENTS // cols)
        blocks = [(r0, min(rows, r0 + per_block)) for r0 in range(0, rows, per_block)]
        longest = per_block * cols
        offsets = rng.integers(0, self._pool_size - min(longest, self._pool_size) + 1, size=len(blocks))
        out = np.empty((rows, cols), dtype=np.uint16)
        jobs = [(r0, r1, int(o)) for (r0, r1), o in zip(blocks, offsets, strict=True)]
        if rows * cols < _THREADED_FROM or self._workers == 1:
            _render_blocks(out, maps, plan, levels, pool, jobs)
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="simframe")
            chunk = math.ceil(len(jobs) / self._workers)
            futures = [
                self._executor.submit(_render_blocks, out, maps, plan, levels, pool, jobs[i : i + chunk])
                for i in range(0, len(jobs), chunk)
            ]
            for future in futures:
                future.result()
        self._hot_pixels(out, maps, plan, levels, rng)
        if plan.step > 1:
            out *= np.uint16(plan.step)
        return out

    def _hot_pixels(
        self,
        out: Frame,
        maps: FixedMaps,
        plan: _Plan,
        levels: npt.NDArray[np.float32],
        rng: np.random.Generator,
    ) -> None:
        """Redo the few hot pixels exactly, with their own dark current (sparse: never a full map)."""
        if maps.hot_index.size == 0:
            return
        _, cols = maps.shape
        idx = maps.hot_index
        r, c = np.divmod(idx, cols)
        illumination = maps.illumination.reshape(-1)[idx].astype(np.float64)
        if plan.cfa is not None:
            illumination *= np.asarray(plan.cfa, dtype=np.float64)[r % 2, c % 2]
        if plan.pattern is not None:
            illumination *= plan.pattern.reshape(-1)[idx]
        glow = maps.glow_rows[r].astype(np.float64) * maps.glow_cols[c]
        e = plan.light_e * illumination + plan.dark_e * (1.0 + maps.hot_rel) + plan.glow_e * glow
        noise = np.sqrt(e * plan.k_shot + plan.k_read) * rng.standard_normal(idx.size)
        value = levels[c] + e * plan.inv_gain + noise
        out.reshape(-1)[idx] = np.clip(value, 0.0, plan.ceiling + 0.5).astype(np.uint16)


def _mosaic(e: npt.NDArray[np.float32], r0: int, cfa: Tile) -> None:
    """Scale a block of rows starting at frame row `r0` by the colour cell's factors, in place (four strided
    passes over a quarter of the block each: one pass's cost)."""
    for parity in (0, 1):
        rows = e[(parity - r0) % 2 :: 2]
        rows[:, 0::2] *= np.float32(cfa[parity][0])
        rows[:, 1::2] *= np.float32(cfa[parity][1])


def _render_blocks(
    out: Frame,
    maps: FixedMaps,
    plan: _Plan,
    levels: npt.NDArray[np.float32],
    pool: npt.NDArray[np.float32],
    jobs: list[tuple[int, int, int]],
) -> None:
    """Render row blocks into `out`: ~12 in-cache passes per block, all float32, no per-pixel Python."""
    if not jobs:
        return
    cols = out.shape[1]
    longest = max(r1 - r0 for r0, r1, _ in jobs)
    e_buf = np.empty(longest * cols, dtype=np.float32)
    t_buf = np.empty(longest * cols, dtype=np.float32)
    f32 = np.float32
    light, dark, glow = f32(plan.light_e), f32(plan.dark_e), f32(plan.glow_e)
    inv_gain = f32(plan.inv_gain)
    k_shot, k_read, ceiling = f32(plan.k_shot), f32(plan.k_read), f32(plan.ceiling)
    for r0, r1, offset in jobs:
        n = (r1 - r0) * cols
        e = e_buf[:n].reshape(r1 - r0, cols)
        t = t_buf[:n].reshape(r1 - r0, cols)
        z = pool[offset : offset + n].reshape(r1 - r0, cols)
        if plan.light_e > 0:
            np.multiply(maps.illumination[r0:r1], light, out=e)
            if plan.pattern is not None:
                e *= plan.pattern[r0:r1]
            if plan.cfa is not None:
                _mosaic(e, r0, plan.cfa)
            if plan.dark_e:
                e += dark
        else:
            e.fill(dark)
        if plan.glow_e > 0:
            np.multiply(maps.glow_rows[r0:r1, None] * glow, maps.glow_cols[None, :], out=t)
            e += t
        np.multiply(e, k_shot, out=t)
        t += k_read
        np.sqrt(t, out=t)
        t *= z
        e *= inv_gain
        e += levels
        e += t
        np.clip(e, f32(0.0), ceiling + f32(0.5), out=e)
        np.copyto(out[r0:r1], e, casting="unsafe")
