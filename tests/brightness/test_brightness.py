"""The brightness search as a pure function: trials, bracket, saturation, unreachable targets, suggestions."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.errors import ConfigError
from sequencer.brightness.response import PanelShape
from sequencer.brightness.search import find_brightness
from sequencer.brightness.state import initial_brightness
from sequencer.brightness.trials import Verdict, Window, is_saturated
from sequencer.core.stats import frame_stats
from tests.support.search import PEDESTAL, RANGE, TARGET_SIGNAL, WINDOW, assert_found, search
from tests.support.synthetic_panel import SyntheticPanel, full_for, gamma, linear, threshold

# -- the window ------------------------------------------------------------------------------------------------


def test_window_is_ninas_relative_tolerance_of_2_to_the_bits() -> None:
    assert WINDOW.full_scale == 65536
    assert WINDOW.target_adu == 32768
    assert WINDOW.low_adu == pytest.approx(0.45 * 65536)
    assert WINDOW.high_adu == pytest.approx(0.55 * 65536)
    assert WINDOW.contains(WINDOW.low_adu) and WINDOW.contains(WINDOW.high_adu)
    assert not WINDOW.contains(WINDOW.low_adu - 0.01)
    assert "45.0%-55.0%" in WINDOW.describe()
    twelve_bit = Window.from_target(0.4, 0.05, max_adu=4095)
    assert twelve_bit.target_adu == pytest.approx(0.4 * 4096)
    assert Window.from_target(0.95, 0.1).high_adu == 65535  # never above what the camera can read


@pytest.mark.parametrize(
    ("target", "tolerance", "words"), [(0, 0.1, "target"), (1.0, 0.1, "target"), (0.5, 1.0, "tolerance")]
)
def test_window_refuses_impossible_targets(target: float, tolerance: float, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Window.from_target(target, tolerance)


def test_saturation_is_clipped_pixels_or_a_mean_at_full_well() -> None:
    frame = np.full((10, 100), 30000, dtype=np.uint16)
    assert not is_saturated(frame_stats(frame), WINDOW)
    frame[0, :2] = 65535  # 0.2 % clipped
    assert is_saturated(frame_stats(frame), WINDOW)
    frame[0, 1] = 30000  # 0.1 %: hot-pixel level, allowed
    assert not is_saturated(frame_stats(frame), WINDOW)
    assert is_saturated(frame_stats(np.full((4, 4), 63000, dtype=np.uint16)), WINDOW)


# -- finding the brightness -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "trials"), [(66.0, 1), (100.0, 2), (150.0, 2), (200.0, 3), (240.0, 3), (30.0, 2), (20.0, 3)]
)
def test_linear_panel_takes_two_trials_cold(wanted: float, trials: int) -> None:
    """Two trials: one to measure the scale, one on target. Cold, the curve is unknown: a step up of more
    than about 2.5x is hedged (a gamma panel would clip every pixel there), and a first trial clipped all over
    tells only that the light is too much; either costs a linear panel a third trial."""
    panel = SyntheticPanel(linear(), full_for(linear(), wanted, TARGET_SIGNAL))
    result = search(panel)
    assert_found(result, panel)
    assert len(result.trials) == trials
    assert result.brightness is not None and abs(result.brightness - wanted) <= 0.1 * wanted


@pytest.mark.parametrize(
    ("curve", "wanted"),
    [(gamma(2.2), 150.0), (gamma(2.2), 60.0), (gamma(1.8), 220.0), (threshold(25), 120.0), (threshold(40), 70.0)],
)
def test_curved_panels_take_three_or_four_trials_cold(curve: object, wanted: float) -> None:
    panel = SyntheticPanel(curve, full_for(curve, wanted, TARGET_SIGNAL))  # type: ignore[arg-type]
    result = search(panel)
    assert_found(result, panel)
    assert len(result.trials) <= 4


def test_trained_start_takes_one_trial() -> None:
    panel = SyntheticPanel(gamma(2.2), full_for(gamma(2.2), 150, TARGET_SIGNAL))
    result = search(panel, start=150)
    assert_found(result, panel)
    assert len(result.trials) == 1 and result.kept == 0


def test_first_trial_is_a_quarter_up_the_range_without_anything_known() -> None:
    assert initial_brightness(WINDOW, (0, 255)) == 64
    assert initial_brightness(WINDOW, (20, 100)) == 40
    panel = SyntheticPanel(linear(), full_for(linear(), 150, TARGET_SIGNAL))
    search(panel)
    assert panel.calls[0] == 64


def test_the_previous_sets_response_carries_the_panel_shape_over() -> None:
    """A gamma panel: cold, the search learns the curve; the next filter (a third of the light) then needs two
    trials at most, the first aimed by the carried-over response."""
    full = full_for(gamma(2.2), 100, TARGET_SIGNAL)
    first = SyntheticPanel(gamma(2.2), full)
    learnt = search(first)
    assert_found(learnt, first)
    assert learnt.response is not None
    assert learnt.response.gamma == pytest.approx(2.2, rel=0.1)
    dimmer = SyntheticPanel(gamma(2.2), full / 3)
    result = search(dimmer, prior=learnt.response)
    assert_found(result, dimmer)
    assert len(result.trials) <= 2
    assert dimmer.calls[0] == learnt.brightness  # same exposure, same light assumed: start where it worked
    shape_only = SyntheticPanel(gamma(2.2), full / 3)
    assert len(search(shape_only, prior=PanelShape(0, 2.2)).trials) <= 2


def test_saturated_trials_still_tell_their_level() -> None:
    """An overshoot that clips the centre keeps unclipped percentiles: the search reads the level from them
    instead of bisecting blindly."""
    panel = SyntheticPanel(linear(), full_for(linear(), 40, TARGET_SIGNAL))
    result = search(panel, start=75)  # ~1.9x the target: the centre clips, the corners do not
    assert result.trials[0].verdict is Verdict.SATURATED
    assert_found(result, panel)
    assert len(result.trials) == 2


def test_a_saturated_frame_is_never_in_the_window() -> None:
    """A hot spot that clips while the mean sits in the window: rejected, the search goes dimmer."""

    def measure(brightness: int) -> object:
        frame = np.full((20, 50), 500 + 250 * brightness, dtype=np.uint16)
        if brightness >= 120:
            frame[:2, :] = 65535  # 10 % clipped: a bright spot
            frame[2:, :] = 500 + 230 * brightness
        return frame_stats(frame)

    result = find_brightness(measure, WINDOW, RANGE, exposure=1.0, pedestal_adu=500, start=128)  # type: ignore[arg-type]
    assert result.trials[0].verdict is Verdict.SATURATED
    assert WINDOW.contains(result.trials[0].mean)
    assert result.ok and result.brightness is not None and result.brightness < 120
    assert all(t.verdict is Verdict.SATURATED for t in result.trials if t.brightness >= 120)


def test_never_leaves_the_range_and_never_repeats_a_brightness() -> None:
    for wanted in (3.2, 9.7, 33.0, 77.7, 131.0, 254.0):
        for curve in (linear(), gamma(2.2), threshold(2)):
            panel = SyntheticPanel(curve, full_for(curve, wanted, TARGET_SIGNAL))
            search(panel)
            assert len(set(panel.calls)) == len(panel.calls), panel.calls
            assert all(0 <= b <= 255 for b in panel.calls)


# -- unreachable targets ------------------------------------------------------------------------------------------


def test_too_dim_at_the_maximum_suggests_an_exposure_that_works() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 0.3, exposure=2.0, reference_exposure=2.0)
    result = search(panel)
    assert not result.ok and result.brightness is None and result.kept is None
    assert result.reason is not None and result.reason.startswith("too dim at the maximum brightness 255")
    assert result.trials[-1].brightness == 255
    assert len(result.trials) <= 3
    assert result.suggested_exposure == pytest.approx(2.0 / 0.3, rel=0.02)
    longer = panel.at_exposure(result.suggested_exposure)  # type: ignore[arg-type]
    retry = search(longer, start=255)
    assert retry.ok and len(retry.trials) == 1


def test_too_bright_at_the_minimum_suggests_an_exposure_that_works() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 1.4 * 255 / 20)  # 1.4x the target at brightness 20
    result = find_brightness(panel.measure, WINDOW, (20, 255), exposure=1.0, pedestal_adu=PEDESTAL)
    assert not result.ok
    assert result.reason is not None and result.reason.startswith("too bright at the minimum brightness 20")
    assert result.suggested_exposure == pytest.approx(1 / 1.4, rel=0.02)
    shorter = panel.at_exposure(result.suggested_exposure)  # type: ignore[arg-type]
    retry = find_brightness(
        shorter.measure, WINDOW, (20, 255), exposure=shorter.exposure, pedestal_adu=PEDESTAL, start=20
    )
    assert retry.ok and len(retry.trials) == 1


def test_saturated_at_the_minimum_estimates_from_unclipped_pixels() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 1.9 * 255 / 20)  # centre clipped at brightness 20
    result = find_brightness(panel.measure, WINDOW, (20, 255), exposure=1.0, pedestal_adu=PEDESTAL)
    assert not result.ok and result.trials[-1].verdict is Verdict.SATURATED
    assert result.reason is not None and result.reason.startswith("too bright at the minimum brightness 20 (saturated")
    assert result.suggested_exposure is not None
    retry = panel.at_exposure(result.suggested_exposure)
    assert abs(retry.mean(20) - WINDOW.target_adu) < 0.25 * TARGET_SIGNAL  # a rough estimate, in reach


def test_fully_saturated_at_the_minimum_suggests_a_safely_shorter_exposure() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 4 * 255)  # 4x the target at brightness 1: all clipped
    result = find_brightness(panel.measure, WINDOW, (1, 255), exposure=1.0, pedestal_adu=PEDESTAL)
    assert not result.ok and result.trials[-1].stats.saturated_fraction == 1.0
    assert result.reason is not None and result.reason.startswith("too bright at the minimum brightness 1 (saturated")
    assert "must be well under" in result.reason
    bound = float(result.reason.split("well under ")[1].split(" s")[0])
    assert result.suggested_exposure == pytest.approx(bound / 4, rel=0.01)
    shorter = panel.at_exposure(bound / 4)
    retry = find_brightness(shorter.measure, WINDOW, (1, 255), exposure=shorter.exposure, pedestal_adu=PEDESTAL)
    assert retry.ok  # brightness to spare: the search finds it


def test_dark_at_zero_and_too_bright_at_one_is_too_bright_at_the_minimum() -> None:
    """A panel that is off at 0: the lowest brightness that gives light is the real minimum."""
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 1.5 * 255)  # 1.5x the target at brightness 1
    result = search(panel)
    assert not result.ok and {0, 1} <= set(panel.calls)
    assert result.reason is not None
    assert result.reason.startswith("too bright at the minimum brightness 1 (the lowest that gives light: 0 is dark)")
    assert result.suggested_exposure == pytest.approx(1 / 1.5, rel=0.02)


def test_a_panel_too_coarse_for_the_window_is_reported_with_a_shorter_exposure() -> None:
    """Brightness 2 is too dim and 3 too bright: no step lands in the window at this exposure; a shorter one
    needs a higher brightness, where one step changes the light by less."""
    panel = SyntheticPanel(linear(), full_for(linear(), 2.5, TARGET_SIGNAL), exposure=4.0, reference_exposure=4.0)
    result = search(panel)
    assert not result.ok
    assert result.reason is not None and result.reason.startswith("no brightness step lands in the window")
    assert {2, 3} <= set(panel.calls)
    assert result.suggested_exposure is not None and result.suggested_exposure < 4.0
    retry = search(panel.at_exposure(result.suggested_exposure))
    assert retry.ok and retry.brightness is not None and retry.brightness > 10


def test_gives_up_after_max_trials() -> None:
    panel = SyntheticPanel(threshold(25), full_for(threshold(25), 30.3, TARGET_SIGNAL))
    result = search(panel, max_trials=2)
    assert not result.ok and len(result.trials) == 2
    assert result.reason == "did not converge in 2 trials"


def test_no_light_at_all() -> None:
    panel = SyntheticPanel(linear(), 0.0)
    result = search(panel)
    assert not result.ok and result.reason is not None
    assert result.reason.startswith("too dim at the maximum brightness 255")
    assert "no light above the pedestal" in result.reason
    assert result.suggested_exposure is None


def test_bad_arguments() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL)
    with pytest.raises(ConfigError, match="empty"):
        find_brightness(panel.measure, WINDOW, (10, 5), exposure=1.0)
    with pytest.raises(ConfigError, match="at least one trial"):
        find_brightness(panel.measure, WINDOW, RANGE, exposure=1.0, max_trials=0)


# -- without a measured pedestal ---------------------------------------------------------------------------------


def test_unknown_pedestal_is_absorbed_by_the_model() -> None:
    for curve, wanted in ((linear(), 120.0), (gamma(2.2), 150.0), (threshold(25), 90.0)):
        panel = SyntheticPanel(curve, full_for(curve, wanted, WINDOW.target_adu - 3000), pedestal=3000)
        result = search(panel, pedestal_adu=None)
        assert_found(result, panel)
        assert len(result.trials) <= 4


def test_unknown_pedestal_estimate_makes_a_usable_suggestion() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 0.5, pedestal=2000)
    result = search(panel, pedestal_adu=None)
    assert not result.ok and result.pedestal_adu is not None
    assert 0 <= result.pedestal_adu <= min(t.mean for t in result.trials)
    assert result.suggested_exposure is not None
    assert WINDOW.contains(panel.at_exposure(result.suggested_exposure).mean(255))
