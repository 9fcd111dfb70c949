"""A master flat from sky flats of several exposures on the simulated bench (a dusk at 45° N, faint stars
drifting, tracking off): each flat minus its own exposure's master dark-flat, normalised, combined. Mean 1,
correlation > 0.99 with the bench's true illumination, the stars rejected; flats given another exposure's
dark-flat show it (the amp glow left in); one dark-flat per exposure, never two groups of one exposure."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from drivers.base import CameraSettings
from drivers.clock import VirtualClock, wait_until
from drivers.errors import ConfigError
from sequencer.calibration.combine import ArrayPixels, Rejection, combine
from sequencer.calibration.exposuremix import ExposureGroup, combine_exposures
from simulators.devices.bench import Bench
from simulators.physics.sky import StarField, TwilightSky

NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()
EXPOSURES = (0.867, 1.08, 1.36)
FLATS, DARKS = 6, 5


@pytest.fixture(scope="module")
def frames() -> tuple[Bench, TwilightSky, dict[float, tuple[list[np.ndarray], list[np.ndarray]]]]:
    start = NOON + 4.85 * 3600  # the Sun about 6° down: faint stars begin to show
    clock = VirtualClock(start)
    bench = Bench(sensor="small", seed=11, clock=clock, glow=2.0)
    sky = TwilightSky(45.0, 2.0, 100.0, start=start - 600, hours=2, stars=StarField(count=25, seed=4))
    camera, wheel = bench.camera, bench.wheel
    camera.connect()
    wheel.connect()
    camera.apply(CameraSettings(gain=100, offset=50))
    wheel.move_to(wheel.names().index("L"))
    wait_until(clock, lambda: wheel.position() is not None, timeout=30)
    bench.sky = sky
    taken: dict[float, tuple[list[np.ndarray], list[np.ndarray]]] = {e: ([], []) for e in EXPOSURES}
    for _ in range(FLATS):
        for exposure in EXPOSURES:
            taken[exposure][0].append(bench.take(exposure))
            clock.sleep(20.0)  # the sky turns: the stars move on
    bench.sky = None  # the telescope capped
    for exposure in EXPOSURES:
        taken[exposure][1].extend(bench.take(exposure) for _ in range(DARKS))
    bench.close()
    return bench, sky, taken


def _groups(taken, rejection: Rejection, darks_of=None) -> list[ExposureGroup]:
    groups = []
    for exposure, (flats, darks) in taken.items():
        source = taken[darks_of[exposure]][1] if darks_of else darks
        dark = combine([ArrayPixels(d) for d in source], rejection).image.astype(np.float64)
        groups.append(ExposureGroup(exposure, [ArrayPixels(f, f"{exposure}s #{i}") for i, f in enumerate(flats)], dark))
    return groups


def test_a_master_from_three_exposures_matches_the_illumination_without_stars(frames) -> None:
    bench, sky, taken = frames
    rejection = Rejection("sigma", 3.0, 3.0, 2)
    master = combine_exposures(_groups(taken, rejection), rejection)
    image = master.combined.image
    assert float(image.mean()) == pytest.approx(1.0, abs=1e-9)
    truth = bench.illumination()
    assert float(np.corrcoef(image.ravel(), truth.ravel())[0, 1]) > 0.99
    expected = truth * sky.gradient_map(truth.shape)
    residual = image / (expected / expected.mean()) - 1
    assert float(np.percentile(np.abs(residual), 99.9)) < 0.02
    plain = combine_exposures(_groups(taken, Rejection("none")), Rejection("none")).combined.image
    trails = plain / (expected / expected.mean()) - 1
    # the stars' trails: thousands of pixels 2 % bright in a plain mean, a few dozen left after the rejection
    assert int((trails > 0.02).sum()) > 2000
    assert int((residual > 0.02).sum()) < 100
    assert sorted(master.medians) == list(EXPOSURES) and all(len(m) == FLATS for m in master.medians.values())


def test_each_exposure_needs_its_own_dark_flat(frames) -> None:
    """The 1.36 s flats given the 0.867 s dark-flat keep the glow of 0.49 s: the corners stand out."""
    bench, _sky, taken = frames
    rejection = Rejection("sigma", 3.0, 3.0, 2)
    right = combine_exposures(_groups(taken, rejection), rejection).combined.image
    wrong_darks = {e: EXPOSURES[0] for e in EXPOSURES}
    wrong = combine_exposures(_groups(taken, rejection, wrong_darks), rejection).combined.image
    truth = bench.illumination()
    assert np.corrcoef(wrong.ravel(), truth.ravel())[0, 1] < np.corrcoef(right.ravel(), truth.ravel())[0, 1]
    with pytest.raises(ConfigError, match="one group"):
        groups = _groups(taken, rejection)
        combine_exposures([groups[0], groups[0]], rejection)
