"""The strip combiner: sorting networks, rejection against a plain numpy reference, strip and thread
independence, exact per-frame medians, and reading FITS rows exactly as astropy reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ConfigError
from sequencer.calibration.combine import ArrayPixels, combine
from sequencer.calibration.fitspixels import FitsPixels
from sequencer.calibration.frames import FrameError
from sequencer.calibration.normalise import calibrated_median, calibrated_medians
from sequencer.calibration.rejection import Rejection, run_network, sorting_network


def reference_sigma(stack: np.ndarray, low: float = 3.0, high: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """One pass of sigma clipping about the median with the standard deviation, then the mean of the rest,
    written the obvious numpy way (what ccdproc.combine does with sigma_clip_func='median')."""
    centre = np.median(stack, axis=0)
    spread = np.std(stack, axis=0)
    bad = (stack < centre - low * spread) | (stack > centre + high * spread)
    kept = np.where(bad, 0.0, stack)
    return kept.sum(axis=0) / (~bad).sum(axis=0), bad


def noisy_stack(n: int, rows: int = 23, cols: int = 31, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    stack = rng.normal(1000.0, 10.0, (n, rows, cols))
    hits = rng.random(stack.shape) < 0.01
    stack[hits] += rng.normal(0.0, 200.0, hits.sum())
    return stack


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_sorting_network_sorts_any_count(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 5, (n, 6)).astype(np.float64)  # many ties
    planes = [row.copy() for row in data]
    run_network(planes, sorting_network(n))
    assert np.array_equal(np.stack(planes), np.sort(data, axis=0))


@pytest.mark.parametrize("n", [2, 3, 10, 29, 30, 31])
def test_pruned_network_puts_the_middle_in_place(n: int) -> None:
    data = np.random.default_rng(n).normal(size=(n, 50))
    middle = sorted({(n - 1) // 2, n // 2})
    planes = [row.copy() for row in data]
    run_network(planes, sorting_network(n, middle))
    assert len(sorting_network(n, middle)) <= len(sorting_network(n))
    for k in middle:
        assert np.array_equal(planes[k], np.sort(data, axis=0)[k])


@pytest.mark.parametrize("n", [5, 12, 30, 31])
def test_sigma_rejection_equals_the_numpy_reference_exactly(n: int) -> None:
    stack = noisy_stack(n)
    expected, bad = reference_sigma(stack)
    result = combine([ArrayPixels(frame) for frame in stack], Rejection("sigma"))
    assert np.array_equal(result.image, expected)
    assert np.array_equal(result.rejected_per_frame, bad.sum(axis=(1, 2)))
    # one value among n lies at most (n - 1)/sqrt(n) standard deviations out: under 3 for n <= 10
    assert (result.rejected > 0) == (n > 10)


def test_result_does_not_depend_on_strips_or_threads() -> None:
    stack = noisy_stack(15, rows=40, cols=17)
    sources = [ArrayPixels(frame) for frame in stack]
    base = combine(sources, Rejection("winsorized", iterations=2), workers=1)
    for strip_rows, workers in ((1, 1), (3, 2), (7, 3), (40, 2)):
        other = combine(sources, Rejection("winsorized", iterations=2), workers=workers, strip_rows=strip_rows)
        assert np.array_equal(other.image, base.image)
        assert np.array_equal(other.rejected_per_frame, base.rejected_per_frame)


def test_uint16_frames_sort_natively_with_the_same_result() -> None:
    stack = np.clip(noisy_stack(11), 0, 65535).round().astype(np.uint16)
    as_int = combine([ArrayPixels(frame) for frame in stack], Rejection("sigma"))
    as_float = combine([ArrayPixels(frame.astype(np.float64)) for frame in stack], Rejection("sigma"))
    assert np.array_equal(as_int.image, as_float.image)


def test_subtract_and_scale_happen_before_rejection() -> None:
    rng = np.random.default_rng(5)
    dark = rng.normal(500.0, 5.0, (20, 30))
    levels = np.linspace(0.9, 1.1, 9) * 20000.0
    frames = [dark + level * (1 + rng.normal(0, 0.01, dark.shape)) for level in levels]
    result = combine([ArrayPixels(f) for f in frames], Rejection("sigma"), subtract=dark, scales=levels)
    normalised = np.stack([(f - dark) / level for f, level in zip(frames, levels, strict=True)])
    expected, _ = reference_sigma(normalised)
    assert np.array_equal(result.image, expected)
    assert result.mean == pytest.approx(1.0, abs=1e-3)


def test_one_bright_outlier_is_rejected_and_the_rest_averaged() -> None:
    stack = np.full((10, 4, 4), 100.0)
    stack[:, 0, 0] = [99, 101, 100, 100, 99, 101, 100, 100, 99, 5000]
    result = combine([ArrayPixels(f) for f in stack], Rejection("sigma"))
    assert result.image[0, 0] == pytest.approx(np.mean([99, 101, 100, 100, 99, 101, 100, 100, 99]))
    assert result.rejected_per_frame.tolist() == [0] * 9 + [1]
    plain = combine([ArrayPixels(f) for f in stack], Rejection("none"))
    assert plain.image[0, 0] == pytest.approx(stack[:, 0, 0].mean())


def test_winsorized_catches_two_outliers_that_hide_each_other_from_plain_sigma() -> None:
    values = [100, 101, 99, 100, 102, 98, 100, 101, 99, 100, 160, 161]
    stack = np.array(values, dtype=np.float64).reshape(-1, 1, 1) * np.ones((1, 2, 2))
    plain = combine([ArrayPixels(f) for f in stack], Rejection("sigma"))
    robust = combine([ArrayPixels(f) for f in stack], Rejection("winsorized"))
    assert plain.rejected == 0  # the pair inflates σ past 3σ of the median
    assert robust.rejected_per_frame[-2:].tolist() == [4, 4]
    assert robust.image[0, 0] == pytest.approx(np.mean(values[:-2]))


def test_more_sigma_passes_reject_what_the_first_pass_uncovers() -> None:
    values = [100, 101, 99, 100, 102, 98, 100, 101, 99, 100, 130, 400]
    stack = np.array(values, dtype=np.float64).reshape(-1, 1, 1)
    one = combine([ArrayPixels(f) for f in stack], Rejection("sigma", iterations=1))
    three = combine([ArrayPixels(f) for f in stack], Rejection("sigma", iterations=3))
    assert one.rejected == 1 and three.rejected == 2
    assert three.image[0, 0] == pytest.approx(np.mean(values[:-2]))


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [({"method": "median"}, "rejection 'median'"), ({"low": 0}, "positive"), ({"iterations": 0}, "at least 1")],
)
def test_bad_rejection_settings_are_config_errors(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        Rejection(**kwargs)  # type: ignore[arg-type]


def test_frames_of_different_sizes_are_refused_by_name() -> None:
    a = ArrayPixels(np.zeros((4, 5)), "a.fits")
    b = ArrayPixels(np.zeros((4, 6)), "b.fits")
    with pytest.raises(ConfigError, match=r"b\.fits: image is 6×4, a\.fits is 5×4"):
        combine([a, b], Rejection())


# --- the per-frame median -----------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "cols"), [(5, 7), (300, 41), (513, 64), (1000, 33)])
def test_calibrated_median_is_numpys_median_exactly(rows: int, cols: int) -> None:
    rng = np.random.default_rng(rows)
    frame = rng.poisson(20000, (rows, cols)).astype(np.uint16)
    dark = rng.normal(500.0, 3.0, (rows, cols))
    assert calibrated_median(ArrayPixels(frame), dark) == np.median(frame - dark)
    assert calibrated_median(ArrayPixels(frame)) == np.median(frame)


def test_calibrated_median_survives_a_sample_that_misleads_it() -> None:
    rows, cols = 1000, 20
    frame = np.full((rows, cols), 1000.0)
    sampled = np.unique(np.linspace(0, rows - 1, 64).round().astype(int))
    frame[sampled] = 0.0  # every sampled row is dark: the bracket misses, the fallback must still be exact
    frame[::3] += np.arange(cols)
    assert calibrated_median(ArrayPixels(frame)) == np.median(frame)


def test_calibrated_medians_in_threads_match_one_by_one() -> None:
    rng = np.random.default_rng(9)
    frames = [ArrayPixels(rng.normal(1000.0 + i, 5.0, (400, 30))) for i in range(5)]
    assert calibrated_medians(frames, workers=3) == [calibrated_median(f) for f in frames]


# --- reading FITS rows --------------------------------------------------------------------------------


STORED_FRAMES = (
    np.arange(0, 65535, 65535 // 600, dtype=np.uint16)[:600].reshape(20, 30),
    (np.arange(600, dtype=np.int16) - 300).reshape(20, 30),
    np.linspace(-1, 1, 600, dtype=np.float32).reshape(20, 30),
    np.arange(600, dtype=np.uint8).reshape(20, 30) % 251,
)


@pytest.mark.parametrize("data", STORED_FRAMES)
def test_fits_rows_are_what_astropy_reads(tmp_path: Path, data: np.ndarray) -> None:
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(data).writeto(path)
    with FitsPixels(path) as pixels:
        assert pixels.shape == (20, 30)
        rows = pixels.read_rows(3, 11)
    expected = fits.getdata(path)
    assert rows.dtype == expected.dtype.newbyteorder("=")
    assert np.array_equal(rows, expected[3:11])


@pytest.mark.parametrize("data", STORED_FRAMES)
def test_a_whole_frame_read_into_an_array_is_what_astropy_reads(tmp_path: Path, data: np.ndarray) -> None:
    path = tmp_path / "frame.fits"
    fits.PrimaryHDU(data).writeto(path)
    with FitsPixels(path) as pixels:
        out = np.full(pixels.shape, 7, dtype=pixels.dtype)
        assert pixels.read_into(out) is out
    assert np.array_equal(out, fits.getdata(path))
    with pytest.raises(ValueError, match="read_into needs"):
        FitsPixels(path).read_into(np.empty((30, 20), dtype=out.dtype))


def test_scaled_fits_rows_apply_bscale_and_bzero(tmp_path: Path) -> None:
    path = tmp_path / "scaled.fits"
    hdu = fits.PrimaryHDU(np.arange(12, dtype=np.int16).reshape(3, 4))
    hdu.header["BSCALE"], hdu.header["BZERO"] = 0.5, 10.0
    hdu.writeto(path)
    assert np.array_equal(FitsPixels(path).read(), np.arange(12).reshape(3, 4) * 0.5 + 10.0)


def test_truncated_and_foreign_files_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.fits"
    fits.PrimaryHDU(np.zeros((50, 50), dtype=np.uint16)).writeto(path)
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(FrameError, match=r"cut\.fits: truncated"):
        FitsPixels(path)
    text = tmp_path / "notes.fits"
    text.write_text("not a fits file at all\n" * 200)
    with pytest.raises(FrameError, match=r"notes\.fits: not a FITS file"):
        FitsPixels(text)
