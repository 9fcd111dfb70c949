"""The exposure search at a fixed light, on a synthetic camera: two trials from cold on a linear camera, one from
a trained start, the in-window trial kept, saturation refused, a non-linear low end learnt, a grid kept, and
unreachable targets in both directions with what would work. N.I.N.A.'s Auto Exposure Flat as it behaves."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.brightness.autoexposure import nina_exposure_search
from sequencer.brightness.exposure import cold_start, find_exposure
from sequencer.brightness.exposuretrials import ExposureRange, ExposureResult, LightLevel
from sequencer.brightness.linearity import CameraResponse
from sequencer.brightness.suggest import nd_filter
from sequencer.brightness.trials import Verdict, Window
from tests.support.synthetic_camera import SyntheticCamera

WINDOW = Window.from_target(0.5, 0.1)
RANGE = ExposureRange(0.1, 30.0)
PANEL = LightLevel(brightness=100, low=0, high=255)


def camera_needing(seconds: float, lag: float = 0.0) -> SyntheticCamera:
    """A camera and light whose window centre is reached at `seconds`."""
    return SyntheticCamera(rate=1.0, lag=lag).for_exposure(seconds)


def search(camera: SyntheticCamera, exposures: ExposureRange = RANGE, **kwargs: object) -> ExposureResult:
    return find_exposure(
        camera.measure,
        WINDOW,
        exposures,
        pedestal_adu=camera.pedestal,
        light=kwargs.pop("light", PANEL),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def assert_found(result: ExposureResult, camera: SyntheticCamera, exposures: ExposureRange = RANGE) -> None:
    assert result.ok, result.reason
    assert result.exposure is not None and result.flat is not None
    assert result.kept == len(result.trials) - 1  # the in-window trial is the flat #1 the caller keeps
    assert result.flat.exposure == result.exposure
    assert result.flat.verdict is Verdict.IN_WINDOW and WINDOW.contains(result.flat.mean)
    assert result.flat.stats.saturated == 0
    assert camera.calls == [t.exposure for t in result.trials]
    assert all(exposures.low <= t <= exposures.high for t in camera.calls)


@pytest.mark.parametrize("needed", [0.2, 0.5, 1.0, 2.35, 7.0, 15.0, 29.0])
def test_a_linear_camera_from_cold_takes_two_trials(needed: float) -> None:
    camera = camera_needing(needed)
    result = search(camera)
    assert_found(result, camera)
    assert len(result.trials) == 2
    assert abs(result.exposure - needed) / needed < 0.01  # type: ignore[operator]


def test_the_pedestal_is_what_makes_the_second_trial_land() -> None:
    """With a high offset and a faint first trial, scaling the raw mean (N.I.N.A.) falls short; the signal above
    the pedestal does not."""
    camera = SyntheticCamera(rate=1.0, pedestal=3000.0).for_exposure(20.0)
    ours = search(camera)
    assert_found(ours, camera)
    assert len(ours.trials) == 2
    assert ours.trials[0].mean < 0.1 * WINDOW.target_adu + 3000  # a faint first trial, where the offset weighs


def test_a_trained_start_takes_one_trial() -> None:
    camera = camera_needing(3.2)
    trained = CameraResponse(pedestal=500.0, rate=(WINDOW.target_adu - 500.0) / 3.2)
    result = search(camera, prior=trained)
    assert_found(result, camera)
    assert len(result.trials) == 1


def test_a_saturated_trial_never_counts_even_with_its_mean_in_the_window() -> None:
    """A window reaching past 95 % of a 12-bit camera's top: a trial there is at full well, refused although its
    mean is inside, and the search goes on to one that is not saturated."""
    window = Window.from_target(0.9, 0.1, max_adu=4095)
    camera = SyntheticCamera(rate=(3960 - 500) / 2.0, max_adu=4095)
    first = camera.measure(2.0)
    assert window.contains(first.mean) and first.mean >= 0.95 * 4095
    camera.calls.clear()
    result = find_exposure(camera.measure, window, RANGE, pedestal_adu=camera.pedestal, start=2.0)
    assert result.ok
    assert result.trials[0].verdict is Verdict.SATURATED
    assert result.flat is not None and result.flat.mean < 0.95 * 4095 and window.contains(result.flat.mean)


def test_a_non_linear_low_end_is_learnt_and_carried_to_the_next_filter() -> None:
    """A shutter that adds 40 ms of light: the first proportional step misses, the line through two levels
    lands, and its lag (the camera's) makes the next filter's search land on its second trial."""
    first = camera_needing(4.0, lag=0.04)
    result = search(first)
    assert_found(result, first)
    assert len(result.trials) <= 3
    assert result.response is not None and result.response.lag_known
    assert result.response.lag == pytest.approx(0.04, abs=0.01)
    dimmer = camera_needing(12.0, lag=0.04)
    again = search(dimmer, start=result.exposure, prior=result.response)
    assert_found(again, dimmer)
    assert len(again.trials) <= 2


def test_found_exposures_stay_on_the_step_grid() -> None:
    grid = ExposureRange(0.1, 30.0, step=0.1)
    camera = camera_needing(2.37)
    result = search(camera, grid)
    assert_found(result, camera, grid)
    for seconds in camera.calls:
        assert abs(seconds / 0.1 - round(seconds / 0.1)) < 1e-9
    assert result.exposure == pytest.approx(2.4)


def test_a_grid_too_coarse_for_the_window_says_so() -> None:
    grid = ExposureRange(0.5, 30.0, step=0.5)
    window = Window.from_target(0.5, 0.02)  # ±2 %: 0.5 s steps at 0.75 s are ±33 %
    camera = camera_needing(0.75)
    result = find_exposure(camera.measure, window, grid, pedestal_adu=camera.pedestal, light=PANEL)
    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith("no exposure on the 0.5 s grid lands in the window")
    assert "0.5 s gives" in result.reason and "1 s gives" in result.reason
    assert "a finer exposure_step" in result.reason


def test_too_dim_even_at_the_longest_exposure_says_what_would_work() -> None:
    camera = camera_needing(41.0)
    result = search(camera)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("too dim even at the longest exposure 30 s")
    assert "a max_exposure of about 46 s" in result.reason
    assert "a brightness of about 151 (of 255)" in result.reason
    assert result.needed == pytest.approx(41.0, rel=0.02)
    assert result.light_factor == pytest.approx(41.0 / 30.0, rel=0.02)


def test_far_too_dim_fails_at_once_without_a_trial_at_the_longest_exposure() -> None:
    """A target ten times beyond the range: one measured level says so, no 30 s trial is spent on it; a light
    switched by hand is told to be brighter (it has no brightness)."""
    camera = camera_needing(300.0)
    result = search(camera, light=None)
    assert not result.ok and result.reason is not None
    assert max(camera.calls) < 30.0
    assert "too dim even at the longest exposure 30 s (it would take about 300 s)" in result.reason
    assert "a light about 10x as bright" in result.reason
    assert "brightness" not in result.reason


def test_no_light_at_all_asks_whether_the_light_is_on() -> None:
    camera = SyntheticCamera(rate=0.0)
    result = search(camera, light=None)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("too dim even at the longest exposure 30 s: no light above the pedestal at")
    assert "is the light on and the telescope uncapped?" in result.reason
    with_panel = search(SyntheticCamera(rate=0.0))
    assert with_panel.reason is not None and "is the light on and the cover closed?" in with_panel.reason


def test_too_bright_even_at_the_shortest_exposure_says_what_would_work() -> None:
    camera = camera_needing(0.06)  # 1.7x too bright at 0.1 s: measured, not clipped all over
    result = search(camera)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("too bright even at the shortest exposure 0.1 s")
    assert "an ND filter cutting the light 1.7x (ND4, density 0.6)" in result.reason
    assert "a brightness of about 49" in result.reason
    assert result.light_factor == pytest.approx(0.6, rel=0.05)


def test_clipped_all_over_at_the_shortest_exposure_gives_a_bound() -> None:
    camera = camera_needing(0.001)
    result = search(camera)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("too bright even at the shortest exposure 0.1 s (saturated: 100.0% of pixels")
    assert "an ND filter cutting the light at least" in result.reason
    assert result.trials[-1].exposure == 0.1


def test_nd_filters_are_the_ones_sold() -> None:
    assert nd_filter(1.5) == "ND2, density 0.3"
    assert nd_filter(3.0) == "ND4, density 0.6"
    assert nd_filter(50.0) == "ND64, density 1.8"
    assert nd_filter(5000.0) == "density 3.8"


def test_a_cold_start_measures_the_dimmest_reachable_light_and_does_not_clip_the_brightest() -> None:
    narrow = ExposureRange(1.0, 60.0)
    assert cold_start(narrow) == pytest.approx(1.0)  # 1 % of the target at 60 s is 0.6 s: the range starts above
    assert cold_start(ExposureRange(0.1, 10.0)) == pytest.approx(0.1)
    wide = cold_start(RANGE)
    assert RANGE.low < wide < RANGE.high
    assert wide == pytest.approx(math.sqrt(0.3 * 0.19), rel=0.01)


@settings(max_examples=60, deadline=None)
@given(
    needed=st.floats(min_value=0.12, max_value=25.0),
    lag=st.sampled_from([0.0, 0.0, 0.02]),
    pedestal=st.floats(min_value=100.0, max_value=3000.0),
    noise=st.sampled_from([0.0, 0.01]),
    seed=st.integers(0, 1000),
)
def test_any_reachable_target_is_found_within_three_trials(
    needed: float, lag: float, pedestal: float, noise: float, seed: int
) -> None:
    camera = SyntheticCamera(rate=1.0, pedestal=pedestal, lag=lag, noise=noise, seed=seed).for_exposure(needed)
    result = search(camera)
    assert_found(result, camera)
    assert len(result.trials) <= 3


# ---- N.I.N.A.'s Auto Exposure Flat, the baseline ----


def test_nina_starts_in_the_middle_then_scales_the_raw_mean() -> None:
    camera = camera_needing(6.0)
    result = nina_exposure_search(camera.measure, WINDOW, ExposureRange(1.0, 20.0))
    assert result.ok
    assert camera.calls[0] == 10.5
    assert len(result.trials) == 2  # the second frame on a linear camera, as its description says


def test_nina_bisects_from_a_clipped_frame_and_fails_at_the_end_of_the_range() -> None:
    camera = camera_needing(0.5)
    result = nina_exposure_search(camera.measure, WINDOW, RANGE)
    assert result.ok
    assert camera.calls[:2] == [15.05, 7.575]  # above 90 %: bisection, not the proportional step
    too_dim = camera_needing(100.0)
    failed = nina_exposure_search(too_dim.measure, WINDOW, RANGE)
    assert not failed.ok and failed.reason == "too dim at the maximum exposure 30 s"
    assert too_dim.calls[-1] == 30.0
