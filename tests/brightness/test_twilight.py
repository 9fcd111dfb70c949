"""The twilight model: the Sun's altitude from astropy at a site and instant, the window on a given date (and a
clear refusal when it has passed or never comes), the exposure ladder, the log-flux fit and the exposure
predicted across a changing sky."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from drivers.errors import ConfigError
from sequencer.brightness.sun import Site, SunPath, sun_altitudes
from sequencer.brightness.twilight import (
    DEFAULT_WINDOW,
    Ladder,
    LogFlux,
    SkySample,
    choose_exposure,
    filter_order,
    fit_log_flux,
    predicted_signal,
    twilight_window,
)

SITE = Site(45.0, 2.0, 100.0)
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def evening() -> SunPath:
    return SunPath(SITE, NOON, NOON + 12 * 3600)


def test_sun_altitude_at_the_june_solstice_noon_at_greenwich() -> None:
    """At Greenwich (51.48° N) near 12:02 UTC on 21 June the Sun stands at 90° − 51.48° + 23.44°."""
    t = datetime(2026, 6, 21, 12, 2, tzinfo=UTC).timestamp()
    (altitude,) = sun_altitudes(Site(51.4769, 0.0, 46.0), np.array([t]))
    assert altitude == pytest.approx(90 - 51.4769 + 23.44, abs=0.15)


def test_the_path_interpolates_astropy_closely(evening: SunPath) -> None:
    times = NOON + np.array([3 * 3600 + 17.0, 4 * 3600 + 41.5, 5 * 3600 + 29.0])
    direct = sun_altitudes(SITE, times)
    assert np.abs(evening.altitudes_at(times) - direct).max() < 1e-3
    assert evening.rate(NOON + 4.5 * 3600) < 0  # dusk: going down


def test_the_dusk_window_of_a_winter_evening_at_45_north(evening: SunPath) -> None:
    window = twilight_window(evening, "dusk", DEFAULT_WINDOW, NOON)
    opening = datetime.fromtimestamp(window.opens, UTC)
    assert (opening.hour, opening.minute // 10) == (16, 1)  # 16:1x UTC at 2° E: sunset was about 16:30 local time
    assert evening.altitude(window.opens) == pytest.approx(-2.0, abs=1e-3)
    assert evening.altitude(window.closes) == pytest.approx(-10.0, abs=1e-3)
    assert 40 < window.minutes < 60


def test_a_window_under_way_starts_now_and_a_passed_one_is_refused(evening: SunPath) -> None:
    opened = twilight_window(evening, "dusk", DEFAULT_WINDOW, NOON).opens
    later = opened + 600
    assert twilight_window(evening, "dusk", DEFAULT_WINDOW, later).opens == later
    with pytest.raises(ConfigError, match=r"the dusk window \(Sun from -2° to -10°\).*too late"):
        twilight_window(evening, "dusk", DEFAULT_WINDOW, NOON + 8 * 3600)


def test_a_dawn_window_runs_upwards() -> None:
    path = SunPath(SITE, NOON - 12 * 3600, NOON)
    window = twilight_window(path, "dawn", DEFAULT_WINDOW, NOON - 12 * 3600)
    assert window.altitudes == (-10.0, -2.0)
    assert path.altitude(window.opens) == pytest.approx(-10.0, abs=1e-3)
    assert window.closes > window.opens


def test_polar_night_has_no_window() -> None:
    """At 80° N in December the Sun never climbs to −2°: said, not waited for."""
    path = SunPath(Site(80.0, 15.0), NOON - 12 * 3600, NOON + 12 * 3600)
    with pytest.raises(ConfigError, match="does not reach it"):
        twilight_window(path, "dusk", DEFAULT_WINDOW, NOON - 12 * 3600)


def test_the_ladder_is_geometric_and_checked() -> None:
    rungs = Ladder(0.1, 10.0).rungs
    assert rungs[0] == 0.1 and rungs[-1] <= 10.0 and len(rungs) == 21
    assert all(b / a == pytest.approx(1.25, rel=0.01) for a, b in itertools.pairwise(rungs))
    assert 0.156 in Ladder(0.1, 10.0) and 0.15 not in Ladder(0.1, 10.0)
    with pytest.raises(ConfigError, match="ratio 1"):
        Ladder(0.1, 10.0, ratio=1.0)
    with pytest.raises(ConfigError, match="empty"):
        Ladder(10.0, 1.0)


def test_the_fit_recovers_the_slope_and_leans_on_the_prior_alone() -> None:
    truth = LogFlux(intercept=4.0, slope=0.37, pivot=-5.0)
    samples = [SkySample(a, float(truth.flux(a))) for a in np.linspace(-3.0, -6.0, 8)]
    fit = fit_log_flux(samples)
    assert fit is not None
    assert fit.flux(-4.5) == pytest.approx(float(truth.flux(-4.5)), rel=0.01)
    assert fit.slope == pytest.approx(0.37, abs=0.03)
    one = fit_log_flux([SkySample(-4.0, 1000.0)], prior_slope=0.4)
    assert one is not None and one.slope == pytest.approx(0.4) and float(one.flux(-4.0)) == pytest.approx(1000.0)
    assert fit_log_flux([SkySample(-4.0, 0.0)]) is None


def test_the_signal_integrates_the_changing_sky(evening: SunPath) -> None:
    model = LogFlux(4.0, 0.4, -5.0)
    start = twilight_window(evening, "dusk", DEFAULT_WINDOW, NOON).opens + 900
    exposure = 120.0
    times = np.linspace(start, start + exposure, 30001)
    brute = float(np.trapezoid(model.flux(evening.altitudes_at(times)), times))
    (signal,) = predicted_signal(model, evening, start, np.array([exposure]))
    assert signal == pytest.approx(brute, rel=1e-4)
    at_start = float(model.flux(evening.altitude(start))) * exposure
    assert signal < 0.95 * at_start  # the sky darkens during it: a scaler from the start's flux overshoots


def test_the_chosen_exposure_is_a_rung_landing_in_the_band_and_waits_for_a_bright_sky(evening: SunPath) -> None:
    window = twilight_window(evening, "dusk", DEFAULT_WINDOW, NOON)
    model = LogFlux(7.0, 0.4, -2.0)  # a bright sky: ten million per second at −2°
    ladder = Ladder(0.01, 30.0)
    target = 30_000.0
    choice = choose_exposure(model, evening, window.opens, ladder, target, 0.05, window.closes)
    assert choice is not None
    assert choice.exposure in ladder
    assert choice.start > window.opens  # 0.01 s would be too much: it waits for the sky to darken
    (signal,) = predicted_signal(model, evening, choice.start, np.array([choice.exposure]))
    assert abs(signal / target - 1) <= 0.05 and math.isclose(signal, choice.predicted)
    assert choose_exposure(LogFlux(-3.0, 0.4, -2.0), evening, window.opens, ladder, target, 0.05, window.closes) is None


def test_dusk_takes_the_filter_needing_most_light_first_dawn_the_reverse() -> None:
    names = ["L", "R", "G", "B", "Ha", "OIII"]
    dusk = filter_order(names, "dusk")
    assert dusk[:2] == ["Ha", "OIII"] and dusk[-1] == "L"
    assert filter_order(names, "dawn") == list(reversed(dusk))
    measured = {"L": 9000.0, "R": 3000.0, "G": 3500.0, "B": 2500.0, "Ha": 90.0, "OIII": 120.0}
    assert filter_order(names, "dusk", measured) == ["Ha", "OIII", "B", "R", "G", "L"]
