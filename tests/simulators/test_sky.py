"""The simulated twilight sky: brightness following the Sun's altitude at the site and the bench clock's date,
frames that integrate it as it changes during the exposure, its gradient across the field; and the sequencer's
predictive plan against it, every flat in the window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from drivers.base import CameraSettings
from drivers.clock import VirtualClock, wait_until
from sequencer.brightness.skyplan import SkyPlan
from sequencer.brightness.sun import Site, SunPath
from sequencer.brightness.twilight import DEFAULT_WINDOW, Ladder, twilight_window
from sequencer.core.stats import frame_stats
from simulators.devices.bench import Bench
from simulators.physics.sky import SkyModel, StarField, TwilightSky

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def sky() -> TwilightSky:
    return TwilightSky(45.0, 2.0, 100.0, start=NOON, hours=8)


def test_the_sky_darkens_about_a_magnitude_a_degree_then_stops_at_night() -> None:
    model = SkyModel()
    assert float(model.flux(-5.0)) == pytest.approx(model.flux95 + model.night)
    ratio = float(model.flux(-6.0) / model.flux(-5.0))
    assert 10 ** (-0.4 * 1.1) < ratio < 10 ** (-0.4 * 0.9)
    assert float(model.flux(-30.0)) == pytest.approx(model.night)


def test_the_sky_follows_the_sun_of_the_date(sky: TwilightSky) -> None:
    t = NOON + 4.5 * 3600  # 16:30 UTC, about 16:38 local solar time at 2° E, 2 December: in twilight
    altitude = float(sky.altitude(t))
    assert -6 < altitude < -1
    assert sky.flux(t) == pytest.approx(float(sky.model.flux(altitude)))
    assert sky.flux(t + 600) < sky.flux(t) / 3  # ten minutes later it is much darker


def test_an_exposure_integrates_the_changing_sky(sky: TwilightSky) -> None:
    t = NOON + 4.7 * 3600
    brute = np.trapezoid([sky.flux(x) for x in np.linspace(t, t + 60, 2001)], dx=60 / 2000)
    assert sky.electrons(t, t + 60) == pytest.approx(brute, rel=1e-4)
    assert sky.electrons(t, t + 60) < 60 * sky.flux(t)


def test_the_gradient_is_slight_and_has_mean_one(sky: TwilightSky) -> None:
    gradient = sky.gradient_map((214, 320))
    assert float(gradient.mean()) == pytest.approx(1.0, abs=1e-9)
    assert float(gradient.max() - gradient.min()) == pytest.approx(sky.model.gradient, rel=1e-6)


def test_stars_drift_from_frame_to_frame_and_keep_their_light() -> None:
    stars = StarField(count=5, flux=1000.0, seed=2)
    first = stars.electrons((214, 320), 1, 100.0, 101.0, epoch=0.0)
    later = stars.electrons((214, 320), 1, 130.0, 131.0, epoch=0.0)
    assert float(first.sum()) == pytest.approx(5 * 1000.0, rel=0.02)
    assert float(later.sum()) == pytest.approx(float(first.sum()), rel=0.02)
    peak = np.unravel_index(int(np.argmax(first)), first.shape)
    assert later[peak] < 0.05 * first[peak]  # 30 s later they are elsewhere (tracking off)
    binned = stars.electrons((107, 160), 2, 100.0, 101.0, epoch=0.0)
    assert float(binned.sum()) == pytest.approx(float(first.sum()), rel=0.02)


def test_a_bench_frame_sees_the_sky_through_the_filter(sky: TwilightSky) -> None:
    start = NOON + 4.6 * 3600
    clock = VirtualClock(start)
    bench = Bench(sensor="small", seed=3, clock=clock)
    camera, wheel = bench.camera, bench.wheel
    camera.connect()
    wheel.connect()
    camera.apply(CameraSettings(gain=100, offset=50))
    bias = frame_stats(bench.take(camera.info.exposure_min), max_adu=camera.info.max_adu).median
    bench.sky = sky
    levels = {}
    for name in ("L", "Ha"):
        wheel.move_to(wheel.names().index(name))
        wait_until(clock, lambda: wheel.position() is not None, timeout=30)
        t0 = clock.now()
        frame = bench.take(0.05)
        expected = sky.electrons(t0, t0 + 0.05) * bench.transmission(name) / bench.sensor.e_per_adu(100)
        levels[name] = frame_stats(frame, max_adu=camera.info.max_adu).mean - bias
        assert levels[name] == pytest.approx(expected, rel=0.03)
    assert levels["Ha"] < 0.05 * levels["L"]
    bench.close()


def test_predicted_flats_land_in_the_window_through_a_dusk(sky: TwilightSky) -> None:
    """The plan against the simulated sky, signal as the sky gives it: after the trials, every flat lands
    within the window (50 % ± 10 %) and in the Sun's altitude window, on the ladder."""
    path = SunPath(Site(45.0, 2.0, 100.0), NOON, NOON + 8 * 3600)
    window = twilight_window(path, "dusk", DEFAULT_WINDOW, NOON)
    ladder = Ladder(0.01, 60.0)
    plan = SkyPlan(path, window, ladder, target=20_000.0, tolerance=0.1)
    now, trials = window.opens, 0
    flats: list[tuple[float, float, float]] = []
    while now < window.closes and len(flats) < 40:
        exposure = plan.trial()
        if exposure is None:
            choice = plan.next(now)
            if choice is None:
                break
            now, exposure = choice.start, choice.exposure
        signal = sky.electrons(now, now + exposure) * 0.1  # a tenth of the L sky: e⁻ → ADU and a filter
        saturated = signal > 60_000
        if plan.trial() is None:
            flats.append((now, exposure, signal))
        else:
            trials += 1
        plan.record(now, exposure, signal, saturated=saturated)
        now += exposure + 2.0
    assert trials <= 3 and len(flats) == 40
    assert all(abs(s / 20_000 - 1) <= 0.1 for _, _, s in flats)
    assert all(plan.in_window(t, e) and e in ladder for t, e, _ in flats)
    assert len({e for _, e, _ in flats}) <= 12  # a handful of distinct exposures


def test_long_exposures_stay_in_the_window_where_a_reactive_scaler_falls_behind(sky: TwilightSky) -> None:
    """Narrowband in a dusk (exposures of 30-60 s): the sky fades by more than the tolerance between one
        frame and the next, so next = last × target / measured lands low, lower as exposures grow; the prediction,
    integrating the fading sky over the coming exposure, stays in the window."""
    path = SunPath(Site(45.0, 2.0, 100.0), NOON, NOON + 8 * 3600)
    window = twilight_window(path, "dusk", DEFAULT_WINDOW, NOON)
    scale, target, overhead = 0.012, 20_000.0, 3.0
    start = window.opens + 0.3 * (window.closes - window.opens)  # the Sun 4.3° down: 30 s exposures, growing

    def level(t: float, e: float) -> float:
        return sky.electrons(t, t + e) * scale

    plan = SkyPlan(path, window, Ladder(0.01, 120.0), target=target, tolerance=0.1)
    plan.record(start, 10.0, level(start, 10.0), saturated=False)  # one trial: the sky's level
    now, ours = start + 13.0, list[float]()
    while len(ours) < 8:
        choice = plan.next(now)
        assert choice is not None
        now, exposure = choice.start, choice.exposure
        ours.append(level(now, exposure) / target)
        plan.record(now, exposure, ours[-1] * target, saturated=False)
        now += exposure + overhead
    now, exposure, theirs = start + 13.0, 10.0 * target / level(start, 10.0), list[float]()
    while len(theirs) < 8:
        theirs.append(level(now, exposure) / target)
        now += exposure + overhead
        exposure = exposure / theirs[-1]
    assert all(abs(r - 1) <= 0.1 for r in ours)
    # it trails the fading sky, one frame late, and falls further behind as the exposures grow: out by the end
    assert all(b < a < 1 for a, b in itertools.pairwise(theirs))
    assert theirs[-1] < 0.9 and theirs[-2] < 0.9
