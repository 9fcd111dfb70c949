"""Frame statistics from one histogram pass equal numpy's, on random, saturated and constant frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sequencer.core.stats import (
    DEFAULT_PERCENTILES,
    FrameStats,
    central_region,
    frame_histogram,
    frame_stats,
    stats_from_histogram,
)


def assert_matches_numpy(frame: np.ndarray, stats: FrameStats, max_adu: int = 65535) -> None:
    assert stats.count == frame.size
    assert stats.mean == pytest.approx(np.mean(frame), rel=1e-12, abs=1e-12)
    assert stats.std == pytest.approx(np.std(frame), rel=1e-9, abs=1e-9)
    assert stats.median == float(np.median(frame))
    assert stats.min == int(frame.min())
    assert stats.max == int(frame.max())
    clipped = int(np.count_nonzero(frame >= max_adu))
    assert stats.saturated == clipped
    assert stats.saturated_fraction == clipped / frame.size
    expected = np.percentile(frame, list(stats.percentiles))
    for (p, ours), theirs in zip(stats.percentiles.items(), expected, strict=True):
        assert ours == float(theirs), f"percentile {p}"


def test_random_flat_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    frame = rng.normal(30000, 900, (301, 457)).clip(0, 65535).astype(np.uint16)
    stats = frame_stats(frame)
    assert_matches_numpy(frame, stats)
    assert tuple(stats.percentiles) == DEFAULT_PERCENTILES


def test_saturated_frame_counts_clipped_pixels() -> None:
    rng = np.random.default_rng(2)
    frame = rng.normal(60000, 4000, (200, 300)).clip(0, 65535).astype(np.uint16)
    stats = frame_stats(frame)
    assert stats.saturated > 0
    assert stats.saturated == int(np.count_nonzero(frame == 65535))
    assert stats.max == 65535
    assert_matches_numpy(frame, stats)


def test_saturation_threshold_follows_max_adu() -> None:
    """A 12-bit camera's clipped level is its own max ADU, not 65535."""
    frame = np.array([[4000, 4095, 4095, 100]], dtype=np.uint16)
    stats = frame_stats(frame, max_adu=4095)
    assert stats.saturated == 2
    assert stats.saturated_fraction == 0.5
    assert frame_stats(frame).saturated == 0


def test_constant_frame() -> None:
    frame = np.full((64, 48), 1234, dtype=np.uint16)
    stats = frame_stats(frame)
    assert stats.mean == 1234 and stats.median == 1234 and stats.std == 0
    assert stats.min == stats.max == 1234
    assert all(v == 1234 for v in stats.percentiles.values())
    assert_matches_numpy(frame, stats)


def test_even_count_median_is_the_half_way_value() -> None:
    frame = np.array([[10, 11, 20, 21]], dtype=np.uint16)
    assert frame_stats(frame).median == 15.5
    assert frame_stats(np.array([[7, 8]], dtype=np.uint16)).median == 7.5


def test_extreme_percentiles_and_single_pixel() -> None:
    frame = np.array([[5]], dtype=np.uint16)
    stats = frame_stats(frame, percentiles=(0, 50, 100))
    assert stats.percentiles == {0.0: 5.0, 50.0: 5.0, 100.0: 5.0}
    frame = np.array([[0, 65535, 3, 9, 9]], dtype=np.uint16)
    stats = frame_stats(frame, percentiles=(0, 0.1, 33.3, 99.9, 100))
    assert_matches_numpy(frame, stats)


def test_region_is_the_central_fraction_in_each_dimension() -> None:
    frame = np.zeros((100, 60), dtype=np.uint16)
    frame[25:75, 15:45] = 1000
    centre = frame_stats(frame, region=0.5)
    assert centre.count == 50 * 30
    assert centre.mean == 1000 and centre.min == 1000
    assert frame_stats(frame).mean == pytest.approx(250)
    view = central_region(frame, 0.5)
    assert view.shape == (50, 30)
    assert np.shares_memory(view, frame)
    with pytest.raises(ValueError, match="region"):
        frame_stats(frame, region=0)
    with pytest.raises(ValueError, match="region"):
        frame_stats(frame, region=1.5)


def test_threaded_histogram_equals_single_pass() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 65536, (2100, 2050), dtype=np.uint16)  # above the threading threshold
    threaded = frame_histogram(frame, workers=3)
    single = frame_histogram(frame, workers=1)
    assert np.array_equal(threaded, single)
    assert np.array_equal(single, np.bincount(frame.ravel(), minlength=65536))
    assert_matches_numpy(frame, frame_stats(frame, workers=2))


def test_region_of_threaded_frame() -> None:
    rng = np.random.default_rng(4)
    frame = rng.integers(100, 60000, (2400, 2400), dtype=np.uint16)
    stats = frame_stats(frame, region=0.9, workers=2)
    assert_matches_numpy(central_region(frame, 0.9), stats)


def test_to_dict_is_json_safe_and_round_trips() -> None:
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 65536, (50, 40), dtype=np.uint16)
    stats = frame_stats(frame, percentiles=(1, 99.5))
    data = json.loads(json.dumps(stats.to_dict()))
    assert data["percentiles"].keys() == {"1", "99.5"}
    assert isinstance(data["min"], int) and isinstance(data["mean"], float)
    assert FrameStats.from_dict(data) == stats
    assert stats.fraction_of(65536) == stats.mean / 65536


def test_bad_frames_are_refused() -> None:
    with pytest.raises(TypeError, match="uint16"):
        frame_stats(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="empty"):
        frame_stats(np.zeros((0, 4), dtype=np.uint16))
    with pytest.raises(ValueError, match="percentile"):
        frame_stats(np.zeros((4, 4), dtype=np.uint16), percentiles=(101,))


def test_uint8_frames_are_widened() -> None:
    frame = np.array([[1, 2, 255]], dtype=np.uint8)
    stats = frame_stats(frame)  # type: ignore[arg-type]
    assert stats.max == 255 and stats.mean == pytest.approx(86)


def test_histogram_input_is_exact_for_huge_counts() -> None:
    """Counts past 2^31 pixels switch to exact Python integers instead of overflowing int64."""
    hist = np.zeros(65536, dtype=np.int64)
    hist[65535] = 3_000_000_000
    hist[0] = 1_000_000_000
    stats = stats_from_histogram(hist)
    assert stats.mean == pytest.approx(65535 * 0.75)
    assert stats.std == pytest.approx(65535 * np.sqrt(0.75 * 0.25))
    assert stats.saturated_fraction == 0.75


frames = arrays(
    np.uint16,
    st.tuples(st.integers(1, 40), st.integers(1, 40)),
    elements=st.one_of(
        st.integers(0, 65535),
        st.sampled_from([0, 1, 65534, 65535]),  # clipped and floor values appear often
        st.integers(30000, 30010),  # ties
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    frame=frames,
    percentiles=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=6),
    max_adu=st.sampled_from([65535, 65534, 4095]),
)
def test_matches_numpy_on_any_frame(frame: np.ndarray, percentiles: list[float], max_adu: int) -> None:
    stats = frame_stats(frame, percentiles=percentiles, max_adu=max_adu)
    assert_matches_numpy(frame, stats, max_adu=max_adu)


@settings(max_examples=50, deadline=None)
@given(frame=frames, region=st.floats(0.05, 1.0))
def test_region_matches_numpy_on_the_same_view(frame: np.ndarray, region: float) -> None:
    stats = frame_stats(frame, region=region)
    assert_matches_numpy(central_region(frame, region), stats)
