"""The fixed maps of one bench: what stays the same from frame to frame.

Built once per binning from the bench seed: the illumination map (vignetting × dust donuts × PRNU, mean 1),
the amp-glow profile (separable, so it costs no full-frame memory), the fixed column pattern, and the hot
pixels (sparse). Frames are rendered from these; master-flat checks compare against the illumination map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators.physics.sensor import SensorModel

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_BLOCK = 1 << 20  # elements per block when building full-size maps (bounded temporaries)


@dataclass(frozen=True)
class FixedMaps:
    """Maps at one binning. Rows/cols are the binned frame's."""

    binning: int
    illumination: F32
    """Multiplicative flat: vignetting × dust × PRNU, mean 1."""
    glow_rows: F32
    glow_cols: F32
    """Amp glow relative to its corner peak = glow_rows[:, None] * glow_cols[None, :]."""
    column_unit: F32
    """Fixed column pattern, zero mean; unit RMS at binning 1 (averaging bins lowers it)."""
    hot_index: I64
    """Flat indices of (binned) pixels holding hot pixels."""
    hot_rel: F64
    """Extra dark current of those pixels, in units of the normal dark current (binned: averaged)."""

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.illumination.shape
        return rows, cols

    def glow_mean(self) -> float:
        """Mean of the glow profile over the frame (relative to the corner peak)."""
        return float(np.mean(self.glow_rows, dtype=np.float64) * np.mean(self.glow_cols, dtype=np.float64))

    def hot_mean(self) -> float:
        """Mean extra dark current from hot pixels, in units of the normal dark current."""
        rows, cols = self.shape
        return float(self.hot_rel.sum() / (rows * cols))


@dataclass(frozen=True)
class OpticsSettings:
    vignetting: float
    dust: int
    seed: int


def build_full_maps(sensor: SensorModel, optics: OpticsSettings) -> FixedMaps:
    """The binning-1 maps, built block by block so an IMX455 never needs float64 full frames."""
    rows, cols = sensor.height, sensor.width
    illumination = np.empty((rows, cols), dtype=np.float32)
    _vignetting_into(illumination, optics.vignetting)
    _dust_into(illumination, optics.dust, np.random.default_rng([optics.seed, 2]))
    _prnu_into(illumination, sensor.prnu_rms, np.random.default_rng([optics.seed, 1]))
    illumination /= np.float32(np.mean(illumination, dtype=np.float64))

    scale = max(sensor.glow_scale * cols, 1.0)
    x = np.arange(cols, dtype=np.float64)
    y = np.arange(rows, dtype=np.float64)
    glow_cols = np.exp(-0.5 * ((cols - 1 - x) / scale) ** 2)
    glow_rows = np.exp(-0.5 * (y / scale) ** 2) + np.exp(-0.5 * ((rows - 1 - y) / scale) ** 2)

    column_rng = np.random.default_rng([optics.seed, 4])
    column = column_rng.standard_normal(cols)
    column -= column.mean()
    column /= max(float(column.std()), 1e-12)

    hot_rng = np.random.default_rng([optics.seed, 3])
    count = round(sensor.hot_fraction * rows * cols)
    hot_index = np.unique(hot_rng.integers(0, rows * cols, size=count)).astype(np.int64)
    # Warm/hot pixels: 100× to 3000× the normal dark current, log-uniform.
    hot_rel = np.exp(hot_rng.uniform(np.log(100.0), np.log(3000.0), size=hot_index.size))

    return FixedMaps(
        binning=1,
        illumination=illumination,
        glow_rows=glow_rows.astype(np.float32),
        glow_cols=glow_cols.astype(np.float32),
        column_unit=column.astype(np.float32),
        hot_index=hot_index,
        hot_rel=hot_rel,
    )


def bin_maps(full: FixedMaps, binning: int) -> FixedMaps:
    """Average the binning-1 maps over b×b bins (the camera averages bins; partial edge bins dropped)."""
    if binning == 1:
        return full
    rows, cols = full.shape
    rb, cb = rows // binning, cols // binning
    illumination = np.empty((rb, cb), dtype=np.float32)
    step = max(1, _BLOCK // max(cols * binning, 1))
    for r0 in range(0, rb, step):
        r1 = min(rb, r0 + step)
        block = full.illumination[r0 * binning : r1 * binning, : cb * binning]
        illumination[r0:r1] = block.reshape(r1 - r0, binning, cb, binning).mean(axis=(1, 3), dtype=np.float64)
    illumination /= np.float32(np.mean(illumination, dtype=np.float64))

    hot_r, hot_c = np.divmod(full.hot_index, cols)
    keep = (hot_r < rb * binning) & (hot_c < cb * binning)
    binned_index = (hot_r[keep] // binning) * cb + hot_c[keep] // binning
    unique, inverse = np.unique(binned_index, return_inverse=True)
    hot_rel = np.bincount(inverse, weights=full.hot_rel[keep]) / (binning * binning)

    return FixedMaps(
        binning=binning,
        illumination=illumination,
        glow_rows=_bin_vector(full.glow_rows, binning),
        glow_cols=_bin_vector(full.glow_cols, binning),
        column_unit=_bin_vector(full.column_unit, binning),
        hot_index=unique.astype(np.int64),
        hot_rel=hot_rel.astype(np.float64),
    )


def _bin_vector(vector: F32, binning: int) -> F32:
    n = vector.size // binning
    binned: F32 = vector[: n * binning].reshape(n, binning).mean(axis=1).astype(np.float32)
    return binned


def _row_blocks(rows: int, cols: int) -> list[tuple[int, int]]:
    step = max(1, _BLOCK // max(cols, 1))
    return [(r0, min(rows, r0 + step)) for r0 in range(0, rows, step)]


def _vignetting_into(out: F32, corner_ratio: float) -> None:
    """cos⁴-like fall-off (1 + a ρ²)⁻², ρ = distance / corner distance, so corner/centre = `corner_ratio`."""
    rows, cols = out.shape
    a = corner_ratio**-0.5 - 1.0
    cy, cx = (rows - 1) / 2.0, (cols - 1) / 2.0
    corner = max(float(np.hypot(cx, cy)), 1.0)
    x2 = (((np.arange(cols) - cx) / corner) ** 2 * a).astype(np.float32)
    y2 = (((np.arange(rows) - cy) / corner) ** 2 * a).astype(np.float32)
    for r0, r1 in _row_blocks(rows, cols):
        block = out[r0:r1]
        np.add(y2[r0:r1, None], x2[None, :], out=block)
        block += np.float32(1.0)
        np.multiply(block, block, out=block)
        np.reciprocal(block, out=block)


def _dust_into(out: F32, count: int, rng: np.random.Generator) -> None:
    """Out-of-focus dust shadows: soft-edged rings (the telescope's central obstruction makes the hole)."""
    rows, cols = out.shape
    for _ in range(count):
        radius = rng.uniform(0.02, 0.05) * cols
        inner = radius * rng.uniform(0.35, 0.5)
        depth = rng.uniform(0.02, 0.07)
        cy = rng.uniform(0.1, 0.9) * rows
        cx = rng.uniform(0.1, 0.9) * cols
        edge = max(radius * 0.12, 0.75)
        r0, r1 = max(int(cy - radius - 3 * edge), 0), min(int(cy + radius + 3 * edge) + 1, rows)
        c0, c1 = max(int(cx - radius - 3 * edge), 0), min(int(cx + radius + 3 * edge) + 1, cols)
        if r0 >= r1 or c0 >= c1:
            continue
        yy = (np.arange(r0, r1) - cy)[:, None]
        xx = (np.arange(c0, c1) - cx)[None, :]
        dist = np.hypot(yy, xx)
        outer_edge = 1.0 / (1.0 + np.exp((dist - radius) / edge))
        inner_edge = 1.0 / (1.0 + np.exp((inner - dist) / edge))
        shadow = 1.0 - depth * outer_edge * inner_edge
        out[r0:r1, c0:c1] *= shadow.astype(np.float32)


def _prnu_into(out: F32, rms: float, rng: np.random.Generator) -> None:
    if rms <= 0:
        return
    rows, cols = out.shape
    for r0, r1 in _row_blocks(rows, cols):
        noise = rng.standard_normal((r1 - r0, cols), dtype=np.float32)
        noise *= np.float32(rms)
        noise += np.float32(1.0)
        out[r0:r1] *= noise
