"""The panel response model: its algebra, and fits that recover linear, gamma and threshold panels."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.panel_response import LINEAR, PanelResponse, PanelShape, fit_response

TARGET = 32768.0


def test_mean_and_brightness_are_inverse() -> None:
    response = PanelResponse(pedestal=480.0, scale=3.5, threshold=20.0, gamma=1.7)
    for b in (21.0, 60.0, 200.0):
        assert response.brightness_for(response.mean_at(b)) == pytest.approx(b)
    assert response.mean_at(10) == 480.0  # dark below the threshold
    assert response.brightness_for(400.0) is None  # below the pedestal: no brightness gives it
    assert response.local_gamma(40.0) == pytest.approx(1.7 * 40 / 20)


def test_rescaling_multiplies_the_light_not_the_pedestal() -> None:
    response = PanelResponse(500.0, 100.0)
    doubled = response.rescaled(2.0)
    assert doubled.signal_at(50) == 2 * response.signal_at(50)
    assert doubled.pedestal == 500.0 and doubled.shape == response.shape


def test_through_one_point_keeps_the_shape() -> None:
    shape = PanelShape(threshold=10.0, gamma=2.0)
    response = PanelResponse.through(30.0, 500.0 + 800.0, 500.0, shape)
    assert response is not None
    assert response.mean_at(30.0) == pytest.approx(1300.0)
    assert response.shape == shape
    assert PanelResponse.through(30.0, 400.0, 500.0, shape) is None
    assert PanelResponse.through(5.0, 900.0, 500.0, shape) is not None  # lit below the prior threshold


def test_dict_round_trip() -> None:
    response = PanelResponse(512.5, 1.25, 7.0, 2.2)
    assert PanelResponse.from_dict(response.to_dict()) == response
    assert PanelShape.from_dict(response.shape.to_dict()) == response.shape


def test_no_lit_point_no_model() -> None:
    assert fit_response([(10.0, 500.0), (20.0, 480.0)], pedestal=500.0, target_adu=TARGET) is None


def test_one_point_uses_the_prior() -> None:
    fitted = fit_response([(50.0, 10500.0)], pedestal=500.0, target_adu=TARGET, prior=PanelShape(0.0, 2.0))
    assert fitted is not None and fitted.gamma == 2.0
    assert fitted.mean_at(50.0) == pytest.approx(10500.0)


@pytest.mark.parametrize(
    ("truth", "points"),
    [
        (PanelResponse(500.0, 130.0), (40.0, 200.0)),
        (PanelResponse(500.0, 32268.0 / 150.0**2.2, 0.0, 2.2), (64.0, 210.0)),
    ],
    ids=["linear", "gamma"],
)
def test_two_points_recover_linear_and_gamma_panels(truth: PanelResponse, points: tuple[float, float]) -> None:
    fitted = fit_response([(b, truth.mean_at(b)) for b in points], pedestal=500.0, target_adu=TARGET)
    assert fitted is not None
    wanted = truth.brightness_for(TARGET)
    assert fitted.brightness_for(TARGET) == pytest.approx(wanted, rel=0.01)


def test_a_dark_trial_below_makes_two_points_a_threshold_panel() -> None:
    truth = PanelResponse(500.0, 300.0, 40.0, 1.0)
    points = [(60.0, truth.mean_at(60.0)), (120.0, truth.mean_at(120.0))]
    fitted = fit_response(points, pedestal=500.0, target_adu=TARGET, dark_below=35.0)
    assert fitted is not None
    assert fitted.threshold == pytest.approx(40.0, abs=0.5)
    assert fitted.brightness_for(TARGET) == pytest.approx(truth.brightness_for(TARGET), rel=0.01)


@settings(max_examples=60, deadline=None)
@given(
    gamma=st.floats(0.8, 2.5),
    start=st.floats(0.0, 50.0),
    brightnesses=st.lists(st.sampled_from(range(60, 256, 15)), min_size=3, max_size=5, unique=True),
)
def test_three_points_recover_any_panel_of_the_family(gamma: float, start: float, brightnesses: list[int]) -> None:
    truth = PanelResponse(500.0, 1.0, start, gamma)
    truth = truth.rescaled(30000.0 / truth.signal_at(150.0))
    points = [(float(b), truth.mean_at(b)) for b in brightnesses]
    fitted = fit_response(points, pedestal=500.0, target_adu=TARGET, prior=LINEAR)
    assert fitted is not None
    wanted = truth.brightness_for(TARGET)
    assert wanted is not None
    assert fitted.brightness_for(TARGET) == pytest.approx(wanted, rel=0.03)
