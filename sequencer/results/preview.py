"""One PNG per flat set, worth looking at: what the master flat and the master dark-flat show, and what went
into them.

Six panels, 1800 × 1080 px: the master flat on a labelled grey scale; its dust map (the flat divided by its
radial profile, the stretch printed); the radial vignetting profile (level against distance from the centre,
the mean of each ring with a band from its 5th to 95th percentile, corner/centre printed); the master dark-flat
in ADU (amp glow as a gradient, hot pixels marked); histograms of one raw flat and one raw dark-flat; and a
caption with the frame counts, the rejected frames and the brightness the search found. Axes are in sensor
pixels (the frames are TOP-DOWN: row 0 at the top).

Drawn with matplotlib's object interface (a `Figure` on the Agg canvas, no pyplot and its global state),
imported only when a preview is asked for.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sequencer.core.atomicfile import write_new_file

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN, HEIGHT_IN, DPI = 18.0, 10.8, 100
"""The PNG is 1800 × 1080 px."""
PANEL = 900
"""Longest side of an image panel's data, in screen pixels (block means of the sensor's)."""
RINGS = 48
HOT_SIGMA = 5.0
"""A master dark-flat pixel this many robust σ above its median is a hot pixel."""
MARKED_HOT = 2000
"""At most this many hot pixels are marked (the hottest)."""


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


@dataclass
class PreviewInput:
    """What one set's preview shows. Images are full size; `raw_flat`/`raw_dark` are one frame of each."""

    title: str
    flat: npt.NDArray[np.floating]
    calibration: npt.NDArray[np.floating]
    calibration_kind: str = "dark-flat"
    raw_flat: npt.NDArray[np.generic] | None = None
    raw_flat_name: str = ""
    raw_dark: npt.NDArray[np.generic] | None = None
    raw_dark_name: str = ""
    flats: int = 0
    rejected: list[str] = field(default_factory=list)
    """One line per rejected frame: its name and why."""
    calibration_frames: int = 0
    brightness: int | None = None
    panel_max: int | None = None
    trials: int | None = None
    flat_level: float | None = None
    """The flats' mean level in ADU (after the master dark-flat is subtracted)."""
    full_scale: int = 65535
    bayer: str | None = None
    """A colour master's mosaic (BAYERPAT): shown in even blocks (no checkerboard), a profile per channel."""


def downsample(
    image: npt.NDArray[np.generic], longest: int = PANEL, *, even: bool = False
) -> tuple[npt.NDArray[np.float64], int]:
    """Block means so the longest side is at most `longest`; returns the small image and the block size.
    `even`: blocks of an even size, so each holds as many pixels of each Bayer colour (no checkerboard)."""
    rows, cols = image.shape
    factor = max(1, -(-max(rows, cols) // longest))
    if even:
        factor += factor % 2
    r, c = rows // factor, cols // factor
    trimmed = np.asarray(image)[: r * factor, : c * factor]  # no full-size float64 copy of a 61 Mpx frame
    small: npt.NDArray[np.float64] = trimmed.reshape(r, factor, c, factor).mean(axis=(1, 3), dtype=np.float64)
    return small, factor


def radial_profile(image: npt.NDArray[np.floating], rings: int = RINGS) -> RadialProfile:
    """Ring statistics about the frame centre (computed on a block-averaged copy: fast on any sensor)."""
    small, factor = downsample(image, 1440)
    y, x = np.indices(small.shape, dtype=np.float64)
    radius = np.hypot((y + 0.5) * factor - image.shape[0] / 2, (x + 0.5) * factor - image.shape[1] / 2).ravel()
    values = small.ravel()
    edges = np.linspace(0.0, radius.max() * (1 + 1e-9), rings + 1)
    ring = np.clip(np.searchsorted(edges, radius, side="right") - 1, 0, rings - 1)
    order = np.lexsort((values, ring))
    ring_sorted, values_sorted = ring[order], values[order]
    starts = np.searchsorted(ring_sorted, np.arange(rings))
    stops = np.searchsorted(ring_sorted, np.arange(rings), side="right")
    mean, low, high = (np.full(rings, np.nan) for _ in range(3))
    for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b > a:
            part = values_sorted[a:b]
            mean[i] = part.mean()
            low[i] = part[int(0.05 * (b - a - 1))]
            high[i] = part[int(0.95 * (b - a - 1))]
    return RadialProfile((edges[:-1] + edges[1:]) / 2, mean, low, high)


CHANNEL_COLOURS = {"R": "#c8321e", "G": "#2e8b3a", "B": "#2850b4"}


def channel_profiles(image: npt.NDArray[np.floating], bayer: str, rings: int = RINGS) -> dict[str, RadialProfile]:
    """Each Bayer channel's radial profile (one pixel of the cell per colour), radii in sensor pixels."""
    profiles = {}
    for index, letter in enumerate(bayer):
        if letter not in profiles:
            cell = image[index // 2 :: 2, index % 2 :: 2]
            profile = radial_profile(cell, rings)
            profiles[letter] = RadialProfile(profile.radius * 2, profile.mean, profile.low, profile.high)
    return {k: profiles[k] for k in "RGB" if k in profiles}


def dust_ratio(
    small: npt.NDArray[np.float64], factor: int, profile: RadialProfile, shape: tuple[int, ...]
) -> tuple[npt.NDArray[np.float64], float]:
    """The flat divided by its radial profile (dust and gradients only) and the stretch to show it with:
    the 99.5th percentile of its distance from 1."""
    y, x = np.indices(small.shape, dtype=np.float64)
    radius = np.hypot((y + 0.5) * factor - shape[0] / 2, (x + 0.5) * factor - shape[1] / 2)
    valid = np.isfinite(profile.mean)
    model = np.interp(radius, profile.radius[valid], profile.mean[valid])
    ratio = small / np.where(model != 0, model, 1.0)
    spread = float(np.nanpercentile(np.abs(ratio - 1.0), 99.5)) or 0.01
    return ratio, spread


@dataclass(frozen=True)
class HotPixels:
    threshold: float
    count: int
    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]


def hot_pixels(dark: npt.NDArray[np.floating], sigma: float = HOT_SIGMA, marked: int = MARKED_HOT) -> HotPixels:
    """Pixels of a master dark-flat more than `sigma` robust σ (1.4826 MAD, from a sample) above its median;
    the positions of the hottest `marked` of them."""
    sample = np.asarray(dark).ravel()[:: max(1, dark.size // 1_000_000)].astype(np.float64)
    median = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - median))) or 1.0
    threshold = median + sigma * spread
    flat_index = np.flatnonzero(dark > threshold)
    if flat_index.size > marked:
        values = np.asarray(dark).ravel()[flat_index]
        flat_index = flat_index[np.argpartition(values, -marked)[-marked:]]
    rows, cols = np.unravel_index(flat_index, dark.shape)
    return HotPixels(threshold, int(np.count_nonzero(dark > threshold)), rows, cols)


def _image(fig: Figure, ax: Axes, small: npt.NDArray[np.float64], shape: tuple[int, ...], **kwargs: object) -> None:
    """`small` shown over the sensor's pixel grid, with a labelled grey scale."""
    label = str(kwargs.pop("label"))
    picture = ax.imshow(
        small,
        cmap="gray",
        extent=(0.0, float(shape[1]), float(shape[0]), 0.0),
        interpolation="nearest",
        **kwargs,  # type: ignore[arg-type]
    )
    ax.set_xlabel("x (sensor px)")
    ax.set_ylabel("y (sensor px, row 0 at the top)")
    fig.colorbar(picture, ax=ax, fraction=0.046, pad=0.02).set_label(label)


def _histogram(ax: Axes, frame: npt.NDArray[np.generic] | None, name: str, what: str, full_scale: int) -> None:
    if frame is None:
        ax.text(0.5, 0.5, f"no {what} to show", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    values = np.asarray(frame)
    if values.dtype == np.uint16:
        counts = np.bincount(values.ravel(), minlength=full_scale + 1).astype(np.float64)
        levels = np.arange(counts.size, dtype=np.float64)
    else:
        counts, edges = np.histogram(values.ravel(), bins=4096)
        counts, levels = counts.astype(np.float64), (edges[:-1] + edges[1:]) / 2
    cumulative = np.cumsum(counts) / max(counts.sum(), 1.0)
    low = float(levels[int(np.searchsorted(cumulative, 1e-4))])
    high = float(levels[min(int(np.searchsorted(cumulative, 1 - 1e-4)), levels.size - 1)])
    pad = max(5.0, 0.1 * (high - low))
    keep = (levels >= low - pad) & (levels <= high + pad)
    bins = max(1, int(keep.sum()) // 256)  # at most ~256 bars
    lv, ct = levels[keep], counts[keep]
    trimmed = (lv.size // bins) * bins
    if trimmed:
        lv, ct = lv[:trimmed].reshape(-1, bins)[:, 0], ct[:trimmed].reshape(-1, bins).sum(axis=1)
    ax.step(lv, np.maximum(ct, 0.5), where="post", color="#1f4e9c")
    ax.set_yscale("log")
    ax.set_xlabel("ADU")
    ax.set_ylabel(f"pixels per {bins} ADU bin" if bins > 1 else "pixels per ADU")
    mean, median = float(values.mean(dtype=np.float64)), float(np.median(values))
    ax.axvline(mean, color="#c03020", lw=1)
    outside = int(counts.sum() - ct.sum())
    ax.set_title(
        f"{what} ({name})\nmean {mean:.0f} ADU ({100 * mean / full_scale:.1f} % of full scale), median {median:.0f}"
        + (f"\n{outside} px beyond the plotted range" if outside else ""),
        fontsize=10,
    )
    ax.grid(alpha=0.3)


def _profile(ax: Axes, profile: RadialProfile) -> None:
    valid = np.isfinite(profile.mean)
    r = profile.radius[valid]
    ax.fill_between(r, profile.low[valid], profile.high[valid], color="#bccde6", label="5th-95th percentile")
    ax.plot(r, profile.mean[valid], color="#1f4e9c", lw=2, label="mean of the ring")
    ax.set_xlabel("distance from the frame centre (sensor px)")
    ax.set_ylabel("master flat level (mean = 1)")
    ax.set_title(f"radial vignetting profile\ncorner / centre = {profile.corner_to_centre:.3f}", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)


def _channel_profiles(ax: Axes, profiles: dict[str, RadialProfile]) -> None:
    for letter, profile in profiles.items():
        valid = np.isfinite(profile.mean)
        label = f"{letter}: corner / centre {profile.corner_to_centre:.3f}"
        ax.plot(profile.radius[valid], profile.mean[valid], color=CHANNEL_COLOURS[letter], lw=2, label=label)
    ax.set_xlabel("distance from the frame centre (sensor px)")
    ax.set_ylabel("master flat level (mean of all pixels = 1)")
    ax.set_title("radial vignetting profile of each Bayer channel", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)


def caption(info: PreviewInput) -> str:
    """The counts and the brightness, in one or two lines."""
    parts = [f"{info.flats} flats combined"]
    shown = info.rejected[:2]
    parts.append(f"{len(info.rejected)} rejected" + (f" ({'; '.join(shown)}" if shown else ""))
    if len(info.rejected) > len(shown):
        parts[-1] += f"; {len(info.rejected) - len(shown)} more"
    if shown:
        parts[-1] += ")"
    parts.append(f"{info.calibration_frames} {info.calibration_kind}s")
    text = ", ".join(parts)
    if info.brightness is not None:
        of = f" of {info.panel_max}" if info.panel_max is not None else ""
        trials = f" in {info.trials} trial{'s' if info.trials != 1 else ''}" if info.trials else ""
        text += f"; panel brightness {info.brightness}{of} found{trials}"
    if info.flat_level is not None:
        text += f"; flats at {info.flat_level:.0f} ADU above the {info.calibration_kind}"
    return text


def figure(info: PreviewInput) -> Figure:
    """The preview as a matplotlib Figure (on the Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    shape = info.flat.shape
    colour = info.bayer is not None
    small, factor = downsample(info.flat, even=colour)
    lo, hi = np.percentile(small, [0.5, 99.5])
    _image(fig, axes[0, 0], small, shape, vmin=float(lo), vmax=float(hi), label="level (mean = 1)")
    axes[0, 0].set_title(f"master flat\ngrey scale {lo:.3f} to {hi:.3f} (0.5-99.5 %)", fontsize=10)
    profile = radial_profile(info.flat)
    ratio, spread = dust_ratio(small, factor, profile, shape)
    _image(fig, axes[0, 1], ratio, shape, vmin=1 - spread, vmax=1 + spread, label="flat / radial profile")
    axes[0, 1].set_title(
        f"dust map: the flat divided by its radial profile\nstretched ±{100 * spread:.2f} % about 1", fontsize=10
    )
    if info.bayer is not None:
        _channel_profiles(axes[0, 2], channel_profiles(info.flat, info.bayer))
    else:
        _profile(axes[0, 2], profile)
    dark_small, _ = downsample(info.calibration, even=colour)
    dlo, dhi = np.percentile(dark_small, [0.5, 99.5])
    _image(fig, axes[1, 0], dark_small, shape, vmin=float(dlo), vmax=float(dhi), label="ADU (block means)")
    hot = hot_pixels(info.calibration)
    if hot.rows.size:
        axes[1, 0].scatter(hot.cols + 0.5, hot.rows + 0.5, s=4, c="#e03020", marker="o", linewidths=0)
    axes[1, 0].set_title(
        f"master {info.calibration_kind}, grey scale {dlo:.1f} to {dhi:.1f} ADU, median {np.median(dark_small):.1f}"
        f"\n{hot.count} hot px (> {hot.threshold:.0f} ADU: median + {HOT_SIGMA:g} σ) marked red",
        fontsize=10,
    )
    _histogram(axes[1, 1], info.raw_flat, info.raw_flat_name, "one flat", info.full_scale)
    _histogram(axes[1, 2], info.raw_dark, info.raw_dark_name, f"one {info.calibration_kind}", info.full_scale)
    fig.suptitle("\n".join([info.title, *textwrap.wrap(caption(info), 170)]), fontsize=12)
    return fig


def render_png(info: PreviewInput) -> bytes:
    buffer = io.BytesIO()
    figure(info).savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def write_preview(info: PreviewInput, path: Path) -> Path:
    """Write the preview PNG atomically, never over an existing file; returns the path written."""
    return write_new_file(Path(path), [render_png(info)])
