"""A master flat at a glance: the stretched flat, the same flat with its vignetting divided out (dust
shadows stand out), and its radial vignetting profile, side by side in one PNG.

The profile is the flat's level against distance from the frame centre, the mean in each ring with a
band from the 5th to the 95th percentile (dust donuts pull the band down at their radius). The corner
to centre ratio is printed on it: the number to compare with the optics' vignetting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sequencer.core.atomicfile import write_new_file

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

PANEL = 360
"""Longest side of each image panel, in pixels."""
PLOT_W, PLOT_H = 420, 300
RINGS = 48
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
BAND = (190, 205, 230)
LINE = (25, 70, 160)


@dataclass(frozen=True)
class RadialProfile:
    """Level against radius (pixels of the full-size flat, from the centre), per ring."""

    radius: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]

    @property
    def corner_to_centre(self) -> float:
        valid = np.isfinite(self.mean)
        values = self.mean[valid]
        return float(values[-1] / values[0]) if values.size >= 2 and values[0] else float("nan")


def downsample(image: npt.NDArray[np.floating], longest: int = PANEL) -> tuple[npt.NDArray[np.float64], int]:
    """Block means so the longest side is at most `longest`; returns the small image and the block size."""
    rows, cols = image.shape
    factor = max(1, -(-max(rows, cols) // longest))
    r, c = rows // factor, cols // factor
    trimmed = np.asarray(image[: r * factor, : c * factor], dtype=np.float64)
    return trimmed.reshape(r, factor, c, factor).mean(axis=(1, 3)), factor


def radial_profile(image: npt.NDArray[np.floating], rings: int = RINGS) -> RadialProfile:
    """Ring statistics about the frame centre (computed on a block-averaged copy: fast on any sensor)."""
    small, factor = downsample(image, 4 * PANEL)
    y, x = np.indices(small.shape, dtype=np.float64)
    radius = np.hypot((y + 0.5) * factor - image.shape[0] / 2, (x + 0.5) * factor - image.shape[1] / 2).ravel()
    values = small.ravel()
    edges = np.linspace(0.0, radius.max() * (1 + 1e-9), rings + 1)
    ring = np.clip(np.searchsorted(edges, radius, side="right") - 1, 0, rings - 1)
    order = np.lexsort((values, ring))
    ring_sorted, values_sorted = ring[order], values[order]
    starts = np.searchsorted(ring_sorted, np.arange(rings))
    stops = np.searchsorted(ring_sorted, np.arange(rings), side="right")
    mean = np.full(rings, np.nan)
    low = np.full(rings, np.nan)
    high = np.full(rings, np.nan)
    for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b > a:
            part = values_sorted[a:b]
            mean[i] = part.mean()
            low[i] = part[int(0.05 * (b - a - 1))]
            high[i] = part[int(0.95 * (b - a - 1))]
    centres = (edges[:-1] + edges[1:]) / 2
    return RadialProfile(centres, mean, low, high)


def _grey(values: npt.NDArray[np.float64], lo: float, hi: float) -> npt.NDArray[np.uint8]:
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return np.asarray(np.clip(scaled * 255.0, 0, 255).round(), dtype=np.uint8)


def stretched(small: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """Linear stretch between the 0.5th and 99.5th percentiles."""
    lo, hi = np.percentile(small, [0.5, 99.5])
    return _grey(small, float(lo), float(hi))


def dust_map(
    small: npt.NDArray[np.float64], factor: int, profile: RadialProfile, shape: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    """The flat divided by its radial profile, stretched symmetrically about 1: dust and gradients only."""
    y, x = np.indices(small.shape, dtype=np.float64)
    radius = np.hypot((y + 0.5) * factor - shape[0] / 2, (x + 0.5) * factor - shape[1] / 2)
    valid = np.isfinite(profile.mean)
    model = np.interp(radius, profile.radius[valid], profile.mean[valid])
    ratio = small / np.where(model != 0, model, 1.0)
    spread = float(np.percentile(np.abs(ratio - 1.0), 99.5)) or 0.01
    return _grey(ratio, 1.0 - spread, 1.0 + spread)


def render(image: npt.NDArray[np.floating], title: str = "") -> Image.Image:
    """The preview as a Pillow image (Pillow is imported only when a preview is asked for)."""
    from PIL import Image, ImageDraw, ImageFont

    small, factor = downsample(image)
    profile = radial_profile(image)
    flat_panel = Image.fromarray(stretched(small), mode="L").convert("RGB")
    dust_panel = Image.fromarray(dust_map(small, factor, profile, image.shape), mode="L").convert("RGB")
    font = ImageFont.load_default()
    margin, header = 16, 40
    width = margin * 4 + flat_panel.width + dust_panel.width + PLOT_W
    height = header + max(flat_panel.height, PLOT_H) + 2 * margin + 16
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((margin, 10), title or "master flat", fill=INK, font=font)
    x = margin
    for panel, caption in (
        (flat_panel, "master flat (0.5-99.5 % stretch)"),
        (dust_panel, "divided by its radial profile"),
    ):
        canvas.paste(panel, (x, header))
        draw.text((x, header + panel.height + 4), caption, fill=INK, font=font)
        x += panel.width + margin
    _plot(draw, font, profile, (x, header, x + PLOT_W, header + PLOT_H))
    return canvas


def _plot(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    profile: RadialProfile,
    box: tuple[int, int, int, int],
) -> None:
    left, top, right, bottom = box
    ax_l, ax_t, ax_r, ax_b = left + 44, top + 18, right - 8, bottom - 30
    valid = np.isfinite(profile.mean)
    r, mean, low, high = profile.radius[valid], profile.mean[valid], profile.low[valid], profile.high[valid]
    y_lo, y_hi = float(low.min()), float(high.max())
    pad = 0.05 * (y_hi - y_lo or 1.0)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    r_max = float(r.max()) or 1.0

    def px(radius: float, value: float) -> tuple[float, float]:
        return (ax_l + (ax_r - ax_l) * radius / r_max, ax_b - (ax_b - ax_t) * (value - y_lo) / (y_hi - y_lo))

    band = [px(a, b) for a, b in zip(r, high, strict=True)]
    band += [px(a, b) for a, b in zip(r[::-1], low[::-1], strict=True)]
    if len(band) >= 3:
        draw.polygon(band, fill=BAND)
    draw.line([px(a, b) for a, b in zip(r, mean, strict=True)], fill=LINE, width=2)
    draw.rectangle((ax_l, ax_t, ax_r, ax_b), outline=INK)
    for frac in (0.0, 0.5, 1.0):
        value = y_lo + frac * (y_hi - y_lo)
        _, y = px(0.0, value)
        draw.line((ax_l - 4, y, ax_l, y), fill=INK)
        draw.text((left, y - 6), f"{value:.3f}", fill=INK, font=font)
    for frac in (0.0, 0.5, 1.0):
        x, _ = px(frac * r_max, y_lo)
        draw.line((x, ax_b, x, ax_b + 4), fill=INK)
        draw.text((x - 10, ax_b + 6), f"{frac * r_max:.0f}", fill=INK, font=font)
    draw.text((ax_l, bottom - 14), "radius from centre (px)", fill=INK, font=font)
    ratio = profile.corner_to_centre
    draw.text((ax_l, top), f"radial profile: corner/centre {ratio:.3f}", fill=INK, font=font)


def write_preview(image: npt.NDArray[np.floating], path: Path, title: str = "") -> Path:
    """Write the preview PNG atomically, never over an existing file; returns the path written."""
    import io

    buffer = io.BytesIO()
    canvas = render(image, title)
    canvas.save(buffer, format="PNG")
    return write_new_file(Path(path), [buffer.getvalue()])
