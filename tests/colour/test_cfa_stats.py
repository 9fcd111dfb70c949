"""Statistics per Bayer channel from the same histogram pass: equal to numpy on each channel's pixels, for every
placement of the mosaic, odd frame sizes, a central region and the threaded path; and the level each colour
rule reads."""

from __future__ import annotations

import numpy as np
import pytest

from sequencer.core.stats import FrameStats, frame_stats

PATTERNS = ("RGGB", "GRBG", "GBRG", "BGGR")


def channel_pixels(frame: np.ndarray, pattern: str) -> dict[str, np.ndarray]:
    found: dict[str, list[np.ndarray]] = {}
    for i, letter in enumerate(pattern):
        found.setdefault(letter, []).append(frame[i // 2 :: 2, i % 2 :: 2].ravel())
    return {k: np.concatenate(v) for k, v in found.items()}


def colour_frame(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """A frame whose four cell positions have clearly different levels, with a few clipped pixels."""
    rng = np.random.default_rng(seed)
    frame = rng.normal(20000, 3000, (rows, cols))
    frame[0::2, 0::2] += 25000
    frame[1::2, 1::2] -= 12000
    frame = frame.clip(0, 65535).astype(np.uint16)
    frame.ravel()[rng.integers(0, frame.size, 50)] = 65535
    return frame


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_channel_equals_numpy_on_its_own_pixels(pattern: str) -> None:
    frame = colour_frame(215, 321)  # odd: the last row and column hold one colour of the cell only
    stats = frame_stats(frame, bayer=pattern)
    mono = frame_stats(frame)
    assert (stats.mean, stats.median, stats.std, stats.percentiles) == (
        mono.mean,
        mono.median,
        mono.std,
        mono.percentiles,
    )
    assert set(stats.channels) == {"R", "G", "B"}
    for letter, pixels in channel_pixels(frame, pattern).items():
        channel = stats.channels[letter]
        assert channel.count == pixels.size
        assert channel.mean == pytest.approx(float(pixels.astype(np.float64).mean()), rel=1e-12)
        assert channel.median == float(np.median(pixels))
        assert channel.max == int(pixels.max())
        assert channel.saturated_fraction == float((pixels >= 65535).sum() / pixels.size)


def test_a_central_region_keeps_the_mosaic_where_it_was() -> None:
    frame = np.zeros((100, 100), np.uint16)
    frame[0::2, 0::2], frame[0::2, 1::2], frame[1::2, 0::2], frame[1::2, 1::2] = 4000, 2000, 2000, 1000
    stats = frame_stats(frame, bayer="RGGB", region=0.33)  # a crop of odd start would swap the colours
    assert {k: c.mean for k, c in stats.channels.items()} == {"R": 4000.0, "G": 2000.0, "B": 1000.0}


def test_the_threaded_pass_gives_the_same_channels() -> None:
    frame = colour_frame(2051, 2049, seed=3)  # > 4 Mpx: split in bands, each starting on an even row
    one = frame_stats(frame, bayer="GBRG", workers=1)
    four = frame_stats(frame, bayer="GBRG", workers=4)
    assert one == four


def test_the_level_each_colour_rule_reads() -> None:
    frame = np.zeros((4, 4), np.uint16)
    frame[0::2, 0::2], frame[0::2, 1::2], frame[1::2, 0::2], frame[1::2, 1::2] = 40000, 20000, 20000, 10000
    brightest = frame_stats(frame, bayer="RGGB")
    assert brightest.level == 40000.0 and brightest.colour == "brightest"
    assert frame_stats(frame, bayer="RGGB", colour="mean").level == 22500.0
    assert frame_stats(frame, bayer="RGGB", colour="each").level == 25000.0  # midway between R and B
    assert frame_stats(frame).level == 22500.0  # mono: the mean, whatever the rule
    assert FrameStats.from_dict(brightest.to_dict()) == brightest
    assert "channels" not in frame_stats(frame).to_dict()
