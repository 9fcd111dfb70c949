"""Colour on the bench: a one-shot-colour sensor's Bayer mosaic, the panel's spectrum and each filter's colour.

A colour sensor has a 2×2 colour filter array (CFA): "RGGB" means the frame's pixel (row 0, col 0) is red,
(0, 1) and (1, 0) green, (1, 1) blue. What a pixel of colour c collects, relative to a mono pixel under the same
light, is the panel's output in c × the filter's pass in c × the sensor's quantum efficiency in c. These are
broad-band figures, enough to reproduce what matters for flats: a white LED panel is bluish; a dual-band
Ha/OIII filter (L-eXtreme-like: 7 nm at 656 nm and 500 nm) passes red strongly (Ha), green and blue weakly (OIII
falls between them), so a dual-band flat on a colour sensor has a weak blue and a strong red, and the mean of
all pixels (what N.I.N.A. measures) sits far below the red channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from drivers.bayer import BAYER_PATTERNS

RGB = tuple[float, float, float]
Tile = tuple[tuple[float, float], tuple[float, float]]
"""Factors of the 2×2 cell: tile[row % 2][col % 2]."""

PANEL_SPECTRA: Mapping[str, RGB] = MappingProxyType(
    {
        "led": (0.80, 1.00, 1.35),  # a white LED: the blue pump shows, red is weak
        "white": (1.00, 1.00, 1.00),  # an ideal white (equal energy in each band)
        "warm": (1.25, 1.00, 0.70),  # an incandescent or warm-white EL panel
    }
)
"""The panel's output per colour band, relative to green."""

FILTER_COLOURS: Mapping[str, RGB] = MappingProxyType(
    {
        "dualband": (1.00, 0.32, 0.16),  # Ha in red; OIII at 500 nm between green and blue
        "ha": (1.00, 0.04, 0.02),
        "sii": (1.00, 0.03, 0.02),
        "oiii": (0.05, 0.70, 0.45),
        "r": (1.00, 0.08, 0.02),
        "red": (1.00, 0.08, 0.02),
        "g": (0.06, 1.00, 0.10),
        "green": (0.06, 1.00, 0.10),
        "b": (0.02, 0.15, 1.00),
        "blue": (0.02, 0.15, 1.00),
    }
)
"""What a filter passes in each colour band, relative to its strongest band (no filter, UV/IR cut, L: 1, 1, 1)."""


def bayer_pattern(text: object) -> str | None:
    """A Bayer pattern option: one of BAYER_PATTERNS (any case), or none/mono for a mono sensor."""
    value = str(text).strip().upper()
    if value in ("", "NONE", "MONO"):
        return None
    if value not in BAYER_PATTERNS:
        raise ValueError(f"not a Bayer pattern (known: {', '.join(BAYER_PATTERNS)}, or none)")
    return value


def channel_light(spectrum: RGB, filter_name: str, qe: RGB) -> RGB:
    """Light a pixel of each colour collects through a filter, relative to a mono pixel's. The filter's scalar
    transmission already says how much of the light passes; this shares it out by colour."""
    passes = FILTER_COLOURS.get(filter_name.lower(), (1.0, 1.0, 1.0))
    seen = [spectrum[i] * passes[i] for i in range(3)]
    share = 3.0 / max(sum(seen), 1e-12)
    return (seen[0] * qe[0] * share, seen[1] * qe[1] * share, seen[2] * qe[2] * share)


def tile_of(pattern: str, rgb: RGB) -> Tile:
    """The 2×2 factors of a pattern for per-colour light `rgb`."""
    index = {"R": 0, "G": 1, "B": 2}
    f = [rgb[index[letter]] for letter in pattern]
    return ((f[0], f[1]), (f[2], f[3]))


def tile_mean(tile: Tile) -> float:
    return (tile[0][0] + tile[0][1] + tile[1][0] + tile[1][1]) / 4.0
