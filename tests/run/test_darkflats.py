"""The dark-flat check's arithmetic: when two exposures are the same exposure, when a dark-flat saw light, and what
a set's flats hand to their dark-flats (from this run or a resumed one)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivers.base import CameraInfo, CameraSettings, Equipment, ExposureReport
from drivers.clock import VirtualClock
from sequencer.plan.model import FlatSet
from sequencer.run.capture import LightReachedDarkFlat, Measured, Tally, capture_dark_flats
from sequencer.run.darkflats import (
    FlatSample,
    FlatsTaken,
    dark_flat_verdict,
    exposure_tolerance,
    refusal_before,
    sample_of,
)
from sequencer.run.operator import Exposure, Operator, Timeline
from sequencer.run.stop import StopToken
from simulators.devices.bench import Bench
from simulators.devices.camera import SimCamera


def _dark(asked: float, timed: float | None) -> Exposure:
    frame = np.zeros((2, 2), dtype=np.uint16)
    return Exposure(frame, 0.0, asked, asked, asked, -10.0, ExposureReport(duration=timed))


def _verdict(
    dark: Exposure,
    mean: float,
    *,
    flat_level: float = 30000.0,
    flats_seconds: float | None = None,
    resolution: float = 0.0,
) -> str | None:
    """The verdict on a dark-flat of mean `mean` over a dark level of 800 ADU."""
    return dark_flat_verdict(
        dark, mean, flat_level=flat_level, dark_level=800.0, flats_seconds=flats_seconds, resolution=resolution
    )


def test_two_exposures_are_the_same_within_a_microsecond() -> None:
    assert exposure_tolerance(4.0, 0.0) == pytest.approx(4e-6)  # a millionth of a long exposure
    assert exposure_tolerance(0.01, 0.0) == pytest.approx(1e-6)  # never finer than a microsecond


def test_a_dark_flat_timed_exactly_at_the_tolerance_matches() -> None:
    assert _verdict(_dark(4.0, 4.5), 800.0, flats_seconds=4.0, resolution=0.5) is None
    assert _verdict(_dark(4.0, 4.5), 800.0, flats_seconds=4.0, resolution=0.25) is not None


def test_a_camera_that_times_coarsely_is_judged_by_its_own_resolution() -> None:
    assert exposure_tolerance(4.0, 0.001) == pytest.approx(0.001)
    # so a 4 s dark-flat the camera timed 0.5 ms long passes on it, and fails on a microsecond camera
    dark = _dark(4.0, 4.0005)
    assert _verdict(dark, 800.0, flats_seconds=4.0, resolution=0.001) is None
    reason = _verdict(dark, 800.0, flats_seconds=4.0)
    assert reason == (
        "the camera exposed the dark-flat 4.0005 s, its flats 4 s (both asked 4 s): "
        "a dark-flat must match its flats' exposure"
    )


def test_a_dark_flat_above_a_twentieth_of_the_way_to_its_flats_saw_light() -> None:
    dark = _dark(4.0, 4.0)
    assert _verdict(dark, 1800.0, flat_level=20800.0, flats_seconds=4.0) is None  # 800 + 5 % of 20000 = 1800
    reason = _verdict(dark, 1801.0, flat_level=20800.0, flats_seconds=4.0)
    assert reason == (
        "light reached the dark-flat: mean 1801 ADU, flats at 20800 ADU (is the panel off and the scope covered?)"
    )


def test_flats_with_no_light_above_the_pedestal_still_allow_one_adu_of_noise() -> None:
    dark = _dark(4.0, None)
    assert _verdict(dark, 800.9, flat_level=800.0) is None
    assert _verdict(dark, 801.1, flat_level=800.0) is not None


def test_a_camera_that_does_not_time_its_exposures_is_not_judged_on_timing() -> None:
    assert _verdict(_dark(4.0, None), 800.0, flats_seconds=4.0) is None
    assert _verdict(_dark(4.0, 9.0), 800.0, flats_seconds=None) is None


def test_flats_taken_sum_up_level_temperature_and_the_median_timed_exposure() -> None:
    samples = [FlatSample(30000.0, -10.0, 4.0), FlatSample(31000.0, None, 4.1), FlatSample(32000.0, -9.0, 3.9)]
    taken = FlatsTaken.of(samples)
    assert taken == FlatsTaken(level=31000.0, temperature=-9.5, seconds=4.0)


def test_flats_the_camera_did_not_time_give_the_dark_flats_nothing_to_match_timing_against() -> None:
    taken = FlatsTaken.of([FlatSample(30000.0, None, None), FlatSample(30010.0, None, None)])
    assert taken == FlatsTaken(level=30005.0, temperature=None, seconds=None)
    assert FlatsTaken.of([]) == FlatsTaken(level=0.0, temperature=None, seconds=None)


SETTINGS = CameraSettings(gain=100, offset=50)


class _SaysNothingOfItsReadoutMode(SimCamera):
    """A camera whose driver cannot read back the readout mode (INDI without CCD_READ_MODE)."""

    @property
    def info(self) -> CameraInfo:
        return dataclasses.replace(super().info, unreported=("readout_mode",))


def _operator(camera: type[SimCamera] = SimCamera) -> Operator:
    bench = Bench(sensor="small", seed=1, clock=VirtualClock())
    equipment = Equipment(camera=camera(bench), panel=bench.panel, wheel=bench.wheel)
    for device in (equipment.camera, bench.panel, bench.wheel):
        device.connect()
    equipment.camera.apply(SETTINGS)
    return Operator(equipment, bench.clock, StopToken(), Timeline())


def test_dark_flats_start_only_dark_with_the_flats_settings_and_temperature() -> None:
    op = _operator()
    assert op.eq.camera.temperature() == 15.0  # uncooled: the ambient
    assert refusal_before(op, SETTINGS, 16.0, 1.0) is None  # exactly at the tolerance
    assert refusal_before(op, SETTINGS, None, 1.0) is None  # flats with no temperature: nothing to compare
    assert refusal_before(op, SETTINGS, 16.5, 1.0) == (
        "refusing dark-flats: sensor at 15.0 °C, flats at 16.5 °C (tolerance ±1 °C)"
    )
    changed = CameraSettings(gain=120, offset=40)
    assert refusal_before(op, changed, 15.0, 1.0) == (
        "refusing dark-flats: the camera's settings differ from the flats' (gain 100 != 120; offset 50 != 40)"
    )
    op.eq.panel.light_on(10)
    assert refusal_before(op, SETTINGS, 15.0, 1.0) == "refusing dark-flats: sim panel reports its light settling"


def test_a_flat_sampled_for_its_dark_flats_keeps_its_level_temperature_timing_and_exposure_asked() -> None:
    flat = _dark(4.0, 4.000002)
    assert sample_of(flat, 30000.0) == FlatSample(30000.0, -10.0, 4.000002, asked=4.0)


def test_a_setting_the_camera_cannot_read_back_is_not_held_against_the_dark_flats() -> None:
    flats = dataclasses.replace(SETTINGS, readout_mode=1)
    assert refusal_before(_operator(_SaysNothingOfItsReadoutMode), flats, None, 1.0) is None
    assert refusal_before(_operator(), flats, None, 1.0) == (
        "refusing dark-flats: the camera's settings differ from the flats' (readout_mode 0 != 1)"
    )


class _Kept:
    """The recorder at the edge of this unit: what `capture_dark_flats` hands on, in order."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, float, str | None]] = []

    def flat(self, fs: FlatSet, m: Measured, *, brightness: int, frame_no: int, rejected: str | None) -> None:
        raise AssertionError("dark-flats record no flats")

    def dark_flat(self, fs: FlatSet, m: Measured, *, frame_no: int, rejected: str | None) -> None:
        self.frames.append((frame_no, m.stats.mean, rejected))


def _set(dark_count: int) -> FlatSet:
    return FlatSet(
        id="01-Ha-2s", index=0, filter="Ha", exposure=2.0, count=5, dark_count=dark_count, gain=100, offset=50,
        binning=1, readout_mode=0, temperature=None, temperature_tolerance=1.0, target=30000.0, tolerance=0.1,
        max_trials=8, on_error="skip_set",
    )  # fmt: skip


def _sim(op: Operator) -> SimCamera:
    assert isinstance(op.eq.camera, SimCamera)
    return op.eq.camera


def _dark_level(op: Operator) -> float:
    """The camera's level with no light, measured as the run measures it: one dark frame."""
    op.start_exposure(2.0, light=False)
    return float(np.mean(op.finish_exposure("dark level").frame))


def _capture(
    op: Operator, fs: FlatSet, tally: Tally | None, kept: _Kept, seen: list[tuple[str, int, int]], dark: float
) -> list[Measured]:
    return capture_dark_flats(
        op, fs, 2.0, kept, flat_level=30000.0, dark_level=dark, flats_seconds=None,
        max_adu=65535, progress=lambda what, n, of, m, b: seen.append((what, n, of)), tally=tally,
    )  # fmt: skip


def test_dark_flats_come_numbered_after_those_a_resumed_set_already_has_each_booked_and_returned() -> None:
    op, kept = _operator(), _Kept()
    seen: list[tuple[str, int, int]] = []
    taken = _capture(op, _set(5), Tally(wanted=2, total=5, next_no=4), kept, seen, _dark_level(op))
    assert [n for n, _, _ in kept.frames] == [4, 5] and all(r is None for _, _, r in kept.frames)
    assert seen == [("dark-flat", 4, 5), ("dark-flat", 5, 5)]
    assert [m.stats.mean for m in taken] == [mean for _, mean, _ in kept.frames]
    assert all(m.exposure.frame.size == 0 for m in taken)  # handed to the recorder; the set keeps no pixels
    assert op.timeline.as_dict()["dark-flats exposure"] == 4.0  # two 2 s frames, booked as such
    assert not op.exposing and not _sim(op).exposing


@pytest.mark.parametrize("wanted", [0, 1])
def test_a_set_that_wants_no_dark_flat_or_one_exposes_exactly_that(wanted: int) -> None:
    op, kept = _operator(), _Kept()
    seen: list[tuple[str, int, int]] = []
    assert len(_capture(op, _set(1), Tally(wanted=wanted, total=1, next_no=2 - wanted), kept, seen, 500.0)) == wanted
    assert len(kept.frames) == wanted and not op.exposing and not _sim(op).exposing


def test_a_dark_flat_that_saw_light_ends_its_set_naming_it_after_recording_it_rejected() -> None:
    op, kept = _operator(), _Kept()
    seen: list[tuple[str, int, int]] = []
    dark = _dark_level(op)
    op.eq.panel.light_on(255)
    op.clock.sleep(60.0)  # warmed up
    with pytest.raises(LightReachedDarkFlat, match=r"^set 01-Ha-2s: ") as caught:
        _capture(op, _set(3), None, kept, seen, dark)
    assert "light" in str(caught.value)
    assert len(kept.frames) == 1 and kept.frames[0][2] is not None  # recorded, rejected, and nothing after it
    assert not op.exposing and not _sim(op).exposing
