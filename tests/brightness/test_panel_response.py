"""The panel response model (its algebra) and the odds over panel curves: fits, outcomes, the next trial."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.brightness.curves import Observation, Targets
from sequencer.brightness.odds import PanelOdds
from sequencer.brightness.response import PanelResponse, PanelShape

PEDESTAL = 500.0
TARGET = 32768.0 - PEDESTAL  # signal, ADU above the pedestal
TARGETS = Targets(low=0.9 * TARGET, high=1.1 * TARGET, clip=2.2 * TARGET, dark=0.005 * TARGET, noise=0.002 * TARGET)


def levels(truth: PanelResponse, brightnesses: list[float]) -> list[Observation]:
    return [Observation(b, "level", truth.signal_at(b)) for b in brightnesses]


def test_mean_and_brightness_are_inverse() -> None:
    response = PanelResponse(pedestal=480.0, scale=3.5, threshold=20.0, gamma=1.7)
    for b in (21.0, 60.0, 200.0):
        assert response.brightness_for(response.mean_at(b)) == pytest.approx(b)
    assert response.mean_at(10) == 480.0  # dark below the threshold
    assert response.brightness_for(400.0) is None  # below the pedestal: no brightness gives it
    assert response.local_gamma(40.0) == pytest.approx(1.7 * 40 / 20)


def test_rescaling_multiplies_the_light_not_the_pedestal() -> None:
    response = PanelResponse(500.0, 100.0, levels=3)
    doubled = response.rescaled(2.0)
    assert doubled.signal_at(50) == 2 * response.signal_at(50)
    assert doubled.pedestal == 500.0 and doubled.shape == response.shape and doubled.levels == 3


def test_through_one_point_keeps_the_shape() -> None:
    shape = PanelShape(threshold=10.0, gamma=2.0)
    response = PanelResponse.through(30.0, 500.0 + 800.0, 500.0, shape)
    assert response is not None
    assert response.mean_at(30.0) == pytest.approx(1300.0)
    assert response.shape == shape
    assert PanelResponse.through(30.0, 400.0, 500.0, shape) is None
    assert PanelResponse.through(5.0, 900.0, 500.0, shape) is not None  # lit below the prior threshold


def test_dict_round_trip_and_older_tables() -> None:
    response = PanelResponse(512.5, 1.25, 7.0, 2.2, levels=1)
    assert PanelResponse.from_dict(response.to_dict()) == response
    assert PanelShape.from_dict(response.shape.to_dict()) == response.shape
    older = {"pedestal": 500.0, "scale": 2.0, "threshold": 0.0, "gamma": 1.0}  # written before `levels`
    assert PanelResponse.from_dict(older).shape_known
    assert not response.shape_known  # one level: the curve is only assumed


# -- the odds ---------------------------------------------------------------------------------------------------


def test_no_level_no_likeliest_curve() -> None:
    odds = PanelOdds([Observation(10.0, "dark", TARGETS.dark)], TARGETS, (0, 255))
    assert odds.likeliest(PEDESTAL) is None


def test_one_level_takes_the_learnt_shape() -> None:
    odds = PanelOdds([Observation(50.0, "level", 10000.0)], TARGETS, (0, 255), prior=PanelShape(0.0, 2.0))
    fitted = odds.likeliest(PEDESTAL)
    assert fitted is not None and fitted.gamma == pytest.approx(2.0, rel=0.05)
    assert fitted.signal_at(50.0) == pytest.approx(10000.0, rel=0.01)


@pytest.mark.parametrize(
    ("truth", "points"),
    [
        (PanelResponse(PEDESTAL, 130.0), [40.0, 200.0]),
        (PanelResponse(PEDESTAL, TARGET / 150.0**2.2, 0.0, 2.2), [64.0, 210.0]),
    ],
    ids=["linear", "gamma"],
)
def test_two_levels_recover_linear_and_gamma_panels(truth: PanelResponse, points: list[float]) -> None:
    fitted = PanelOdds(levels(truth, points), TARGETS, (0, 255)).likeliest(PEDESTAL)
    assert fitted is not None
    wanted = truth.brightness_for(PEDESTAL + TARGET)
    assert fitted.brightness_for(PEDESTAL + TARGET) == pytest.approx(wanted, rel=0.02)


def test_a_dark_trial_below_makes_two_levels_a_threshold_panel() -> None:
    truth = PanelResponse(PEDESTAL, 300.0, 40.0, 1.0)
    seen = [Observation(35.0, "dark", TARGETS.dark), *levels(truth, [60.0, 120.0])]
    fitted = PanelOdds(seen, TARGETS, (0, 255)).likeliest(PEDESTAL)
    assert fitted is not None
    assert fitted.brightness_for(PEDESTAL + TARGET) == pytest.approx(truth.brightness_for(PEDESTAL + TARGET), rel=0.02)


@settings(max_examples=40, deadline=None)
@given(
    gamma=st.floats(0.8, 2.5),
    start=st.floats(0.0, 0.2),
    top=st.sampled_from([100, 255, 1023, 4095]),
    fractions=st.sampled_from([(0.3, 0.55, 0.85), (0.35, 0.5, 0.75), (0.4, 0.7, 0.9)]),
)
def test_three_levels_around_the_target_recover_any_panel_of_the_family(
    gamma: float, start: float, top: int, fractions: tuple[float, float, float]
) -> None:
    """On any range, three exact levels spread around the target (at 60 % of the range) of a panel in the
    family put it inside a ±10 % window. Not exactly: the odds allow each level 3 % of scatter, which leaves a
    threshold traded against a gamma (two close levels and a far one can miss by more)."""
    truth = PanelResponse(PEDESTAL, 1.0, start * top, gamma)
    truth = truth.rescaled(TARGET / truth.signal_at(0.6 * top))
    fitted = PanelOdds(levels(truth, [f * top for f in fractions]), TARGETS, (0, top)).likeliest(PEDESTAL)
    assert fitted is not None
    got = fitted.brightness_for(PEDESTAL + TARGET)
    assert got is not None
    assert truth.signal_at(got) == pytest.approx(TARGET, rel=0.1)


def test_a_clipped_frame_bounds_the_curve_from_below() -> None:
    """One level at 30, every pixel clipped at 64: a linear panel from 0 would not clip there, so the odds
    move to steeper curves and put the target lower than a straight line would."""
    level = Observation(30.0, "level", 0.5 * TARGET)
    free = PanelOdds([level], TARGETS, (0, 255)).likeliest(PEDESTAL)
    bounded = PanelOdds([level, Observation(64.0, "at_least", 2.2 * TARGET)], TARGETS, (0, 255)).likeliest(PEDESTAL)
    assert free is not None and bounded is not None
    assert free.gamma == pytest.approx(1.0, abs=0.05) and free.threshold == 0.0
    assert bounded.signal_at(64.0) >= 2.0 * TARGET
    free_at, bounded_at = free.brightness_for(PEDESTAL + TARGET), bounded.brightness_for(PEDESTAL + TARGET)
    assert free_at is not None and bounded_at is not None and bounded_at < free_at


def test_outcomes_add_up_and_follow_the_level() -> None:
    odds = PanelOdds([Observation(64.0, "level", 0.25 * TARGET)], TARGETS, (0, 255))
    at = odds.outcomes([65, 128, 255])
    total = sum(at[kind] for kind in ("hit", "dim", "bright", "clipped", "dark"))
    assert np.allclose(total, 1.0, atol=1e-3)
    assert at["dim"][0] > 0.95  # one step up from a quarter of the target: still too dim
    assert at["clipped"][2] > at["clipped"][1]  # the brighter, the likelier to clip


def test_a_learnt_linear_panel_goes_straight_to_the_target_and_an_unknown_one_hedges() -> None:
    """30 % of the target measured at 64. A panel learnt linear: the next trial is on target (213). Nothing
    learnt: the next trial is where every plausible curve measures a level (a steep one lands near the
    target, none clips), so that the trial after it lands whatever the curve."""
    seen = [Observation(64.0, "level", 0.3 * TARGET)]
    learnt = PanelOdds(seen, TARGETS, (0, 255), prior=PanelShape(0.0, 1.0), trials=1)
    choice = learnt.best(65, 255, {64}, ends_if_dim=255, ends_if_bright=None)
    assert choice is not None and abs(choice - 213) <= 5
    cold = PanelOdds(seen, TARGETS, (0, 255), trials=1)
    hedged = cold.best(65, 255, {64}, ends_if_dim=255, ends_if_bright=None)
    assert hedged is not None and 64 < hedged < 213
    for gamma in (1.0, 1.5, 2.0, 2.6):
        curve = PanelResponse(PEDESTAL, 0.3 * TARGET / 64.0**gamma, 0.0, gamma)
        assert TARGETS.dark < curve.signal_at(hedged) < TARGETS.clip
