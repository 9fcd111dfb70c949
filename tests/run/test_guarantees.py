"""The guarantees proven on what the devices did: dark-flats asked and timed exactly like their flats, taken
with the flats' settings as the camera reads them back, saturated flats never counted, a set that rejects too
many flats stopped safely. Each test here catches a deliberate bug in tests/mutations/."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from astropy.time import Time

from drivers.base import CameraSettings, LightState
from drivers.clock import VirtualClock
from sequencer.brightness.trials import Window
from sequencer.run.report import RunReport
from simulators.devices.bench import Bench
from tests.support.recording import CallLog
from tests.support.runs import recorded_run, write_sequence

ONE_SET = "  - {filter: Ha, exposure: 4s, count: 4, dark_flats: 3}\n"


def _manifest(report: RunReport) -> dict[str, Any]:
    assert report.manifest_path is not None
    data: dict[str, Any] = json.loads(report.manifest_path.read_text())
    return data


def _run_dir(report: RunReport) -> Path:
    assert report.manifest_path is not None
    return report.manifest_path.parent


def _light_is_off(bench: Bench) -> bool:
    """What the panel itself says once the run is over (the run disconnected it)."""
    bench.panel.connect()
    return bench.panel.light_state() is LightState.OFF


def _exposures(log: CallLog, light: bool) -> list[float]:
    """Seconds asked of the camera for light (flats, trials) or dark (dark-flats) frames, bias left out."""
    return [c.args[0] for c in log.of("start_exposure") if c.args[1] is light and c.args[0] > 0.01]


def test_flats_and_dark_flats_are_asked_the_same_exposure(tmp_path: Path) -> None:
    report, _, log = recorded_run(write_sequence(tmp_path, ONE_SET), tmp_path / "out")
    assert report.exit_code == 0, report.summary()
    lights, darks = _exposures(log, True), _exposures(log, False)
    assert len(darks) == 3 and len(lights) >= 4
    assert set(lights) == set(darks) == {4.0}


def test_headers_state_what_the_camera_did(tmp_path: Path) -> None:
    clock = VirtualClock()
    bench = Bench(sensor="small", seed=3, clock=clock)
    report, bench, _ = recorded_run(write_sequence(tmp_path, ONE_SET), tmp_path / "out", bench=bench)
    assert report.exit_code == 0, report.summary()
    manifest = _manifest(report)
    (record,) = manifest["sets"]
    assert record["settings_read"] == {"gain": 100, "offset": 50, "binning": 1, "readout_mode": 0, "set_temp": -10.0}
    run_dir = _run_dir(report)
    for frame in record["flats"] + record["dark_flats"]:
        assert (frame["exposure"], frame["exposure_requested"], frame["exposure_reported"]) == (4.0, 4.0, True)
        with fits.open(run_dir / frame["file"]) as hdul:
            header = hdul[0].header
        assert (header["EXPTIME"], header["EXPREQ"]) == (4.0, 4.0)
        assert header.comments["EXPTIME"] == "[s] exposure time, as the camera timed it"
        assert (header["GAIN"], header["OFFSET"], header["XBINNING"], header["SET-TEMP"]) == (100, 50, 1, -10.0)
        assert header.comments["GAIN"] == "camera gain setting"
        assert header["READOUTM"] == "Photographic 16bit"
        assert header["DATE-OBS"] == frame["date_obs"].removesuffix("Z")


def test_dark_flats_the_camera_exposes_five_percent_long_are_refused(tmp_path: Path) -> None:
    """A camera whose timing is off for dark frames: the dark-flat is kept, marked, and stops the set; its
    header shows what the camera did, and the message names both exposures."""
    bench = Bench(sensor="small", seed=4, clock=VirtualClock(), dark_exposure_error=0.05)
    report, bench, _ = recorded_run(write_sequence(tmp_path, ONE_SET), tmp_path / "out", bench=bench)
    (ha,) = report.sets
    assert (ha.status, report.exit_code) == ("failed", 1)
    assert "the camera exposed the dark-flat 4.2 s, its flats 4 s (both asked 4 s)" in (ha.reason or "")
    (record,) = _manifest(report)["sets"]
    assert [f["rejected"] for f in record["flats"]] == [False] * 4
    (dark,) = record["dark_flats"]
    assert dark["rejected"] and "4.2 s" in dark["reason"] and dark["exposure"] == pytest.approx(4.2)
    with fits.open(_run_dir(report) / dark["file"]) as hdul:
        header = hdul[0].header
    assert header["EXPTIME"] == pytest.approx(4.2) and header["EXPREQ"] == 4.0 and header["REJECTED"] is True
    assert _light_is_off(bench)


SETTING_CHANGES: dict[str, dict[str, Any]] = {
    "gain": {"gain": 120},
    "offset": {"offset": 60},
    "binning": {"binning": 2},
    "readout_mode": {"readout_mode": 1},
    "temperature": {"temperature": -5.0},
}


@pytest.mark.parametrize("setting", list(SETTING_CHANGES))
def test_dark_flats_refused_when_any_setting_changed_after_the_flats(tmp_path: Path, setting: str) -> None:
    """Another program changes one setting between the flats and the dark-flats: the camera's read-back shows
    it and the dark-flats are refused, naming the setting."""
    bench = Bench(sensor="small", seed=2, clock=VirtualClock())
    original_off = bench.panel.light_off
    switched: list[bool] = []

    def light_off_and_touch_the_camera() -> None:
        original_off()
        if bench.camera.read_settings().gain and len(switched) == 1:  # the set's light off, not the run's first
            bench.camera.apply(dataclasses.replace(bench.camera.read_settings(), **SETTING_CHANGES[setting]))
        switched.append(True)

    bench.panel.light_off = light_off_and_touch_the_camera  # type: ignore[method-assign]
    report, _, log = recorded_run(write_sequence(tmp_path, ONE_SET), tmp_path / "out", bench=bench)
    (ha,) = report.sets
    assert ha.status == "failed" and report.exit_code == 1
    asked = CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=-10.0)
    changed = dataclasses.replace(asked, **SETTING_CHANGES[setting])
    expected = f"{setting} {getattr(changed, setting)!r} != {getattr(asked, setting)!r}"
    assert "refusing dark-flats" in (ha.reason or "") and expected in (ha.reason or "")
    assert _exposures(log, False) == []


HOT_SENSOR = """\
name: hot pixels
equipment:
  camera: sim://camera?sensor=small&dark=2
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50}
brightness: {target: 50%, tolerance: 10%}
flat_sets:
  - {filter: Ha, exposure: 4s, count: 6}
  - {filter: L, exposure: 0.05s, count: 3}
"""


def test_a_saturated_flat_inside_the_window_is_rejected_as_saturated(tmp_path: Path) -> None:
    """An uncooled sensor whose hot pixels clip in 4 s: the mean is in the window, every flat is still refused,
    and once the set has rejected too many the light goes off at once (before the wheel moves on); the short
    set after it has no clipped pixels and is taken."""
    path = tmp_path / "hot.yaml"
    path.write_text(HOT_SENSOR)
    bench = Bench(sensor="small", seed=1, clock=VirtualClock(), dark=2.0, pwm_hz=0)  # the URL's options
    report, _, log = recorded_run(path, tmp_path / "out", bench=bench)
    ha, lum = report.sets
    assert ha.status == "failed" and "flats rejected (last: saturated" in (ha.reason or "")
    assert lum.status == "ok"
    calls = [c.method for c in log.calls]
    last_ha = max(i for i, c in enumerate(log.calls) if c.method == "start_exposure" and c.args[0] == 4.0)
    after = [m for m in calls[last_ha + 1 :] if m not in ("read_image", "last_exposure", "abort_exposure")]
    assert after[0] == "light_off", "the light goes off as soon as the set fails, before anything else moves"
    record = _manifest(report)["sets"][0]
    window = Window.from_target(0.5, 0.1)
    first = record["flats"][0]
    assert window.contains(first["stats"]["mean"]) and 0 < first["stats"]["sat"] < 1e-3
    assert first["rejected"] and first["reason"].startswith("saturated (")
    assert all(f["rejected"] for f in record["flats"])


FIXED_TOO_BRIGHT = """\
name: budget
equipment:
  camera: sim://camera?sensor=small
  panel: sim://panel
  filter_wheel: sim://filterwheel
camera: {gain: 100, offset: 50, temperature: -10}
settle: {after_light_on: 3s, after_light_off: 3s}
steps:
  - select_filter: L
  - light_on: {brightness: 255}
  - wait: 3s
  - flats: {count: 3, exposure: 30s}
  - light_off
  - wait: 3s
  - dark_flats: {count: 3}
  - select_filter: Ha
  - light_on
  - wait: 3s
  - find_brightness: {exposure: 4s}
  - flats: {count: 3}
  - light_off
  - wait: 3s
  - dark_flats: {count: 3}
"""


def test_too_many_rejected_flats_stop_the_set_safely_and_the_next_set_runs(tmp_path: Path) -> None:
    """A fixed brightness that saturates every flat: after the rejection budget (5) the set fails, the flat in
    flight is aborted, the light goes off, and the next set is taken normally."""
    path = tmp_path / "budget.yaml"
    path.write_text(FIXED_TOO_BRIGHT)
    report, bench, log = recorded_run(path, tmp_path / "out")
    first, second = report.sets
    assert first.status == "failed" and "6 flats rejected (last: saturated" in (first.reason or "")
    assert second.status == "ok" and (second.flats, second.dark_flats) == (3, 3)
    assert report.exit_code == 1
    names = [(c.method, c.args) for c in log.calls]
    sixth = [i for i, (m, a) in enumerate(names) if m == "start_exposure" and a == (30.0, True)][6]
    after = [m for m, _ in names[sixth + 1 :]]
    # the 7th 30 s exposure was in flight when the budget ran out: aborted before the light went off
    assert after.index("abort_exposure") < after.index("light_off") < after.index("move_to")
    bad = _manifest(report)["sets"][0]
    assert len(bad["flats"]) == 6 and all(f["rejected"] for f in bad["flats"]) and bad["dark_flats"] == []
    assert _light_is_off(bench)


class RoundingCamera:
    """A camera (at the edge of this test) that takes only even gains and rounds an odd one up, silently, as
    some cameras quantise their settings."""

    def __init__(self, camera: Any) -> None:
        self._camera = camera

    def __getattr__(self, name: str) -> Any:
        return getattr(self._camera, name)

    def apply(self, settings: CameraSettings) -> None:
        self._camera.apply(dataclasses.replace(settings, gain=settings.gain + settings.gain % 2))


def test_a_camera_that_does_not_take_the_settings_fails_the_set_before_any_light(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=5, clock=VirtualClock())
    bench.camera = RoundingCamera(bench.camera)  # type: ignore[assignment]
    sets = "  - {filter: Ha, exposure: 4s, count: 3, gain: 101}\n  - {filter: OIII, exposure: 1.5s, count: 3}\n"
    report, bench, log = recorded_run(write_sequence(tmp_path, sets), tmp_path / "out", bench=bench)
    odd, even = report.sets
    assert odd.status == "failed" and "did not take the set's settings" in (odd.reason or "")
    assert "gain 101 != 102" in (odd.reason or "")
    assert even.status == "ok"
    calls = [c.method for c in log.calls]
    second_filter = [i for i, m in enumerate(calls) if m == "move_to"][1]
    assert "light_on" not in calls[:second_filter]  # the Ha set was refused before its light came on
    assert _light_is_off(bench)


def test_every_frame_header_says_what_the_devices_did(tmp_path: Path) -> None:
    """FILTER from the set, the time span from the exposure, PANELBRT from the light_on the panel was sent, the
    camera's pixel size; dark-flats carry no brightness (their light was off)."""
    report, bench, log = recorded_run(write_sequence(tmp_path, ONE_SET), tmp_path / "out")
    assert report.exit_code == 0, report.summary()
    sent = [c.args[0] for c in log.of("light_on")]
    record = _manifest(report)["sets"][0]
    assert record["brightness"] == sent[-1]  # the flats were lit at the last brightness sent
    for frame in record["flats"] + record["dark_flats"]:
        h = fits.getheader(_run_dir(report) / frame["file"])
        span = (Time(h["DATE-END"]) - Time(h["DATE-OBS"])).sec
        assert span == pytest.approx(h["EXPTIME"], abs=1e-3), frame["file"]
        assert (h["FILTER"], h["XPIXSZ"]) == ("Ha", bench.camera.info.pixel_size_um)
        if frame["kind"] == "flat":
            assert (h["PANELBRT"], h["PANELMAX"]) == (sent[-1], bench.panel.brightness_range[1])
        else:
            assert "PANELBRT" not in h and "PANELMAX" not in h
