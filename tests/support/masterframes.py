"""Calibration frames for the master and audit tests: shot on the simulated bench (small sensor, virtual
clock) and written as FITS the way flatseq writes them (FLATSET, DARKFLAT) or the way N.I.N.A. does
(IMAGETYP DARK for dark-flats, EXPOSURE only, no set id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from drivers.base import CameraSettings, Frame
from drivers.clock import VirtualClock, wait_until
from sequencer.output.fitsio import write_fits
from simulators.devices.bench import Bench

TARGET_ADU = 30000.0


def rig(seed: int = 3, temperature: float | None = -10.0, **options: object) -> Bench:
    bench = Bench(sensor="small", seed=seed, clock=VirtualClock(), **options)
    for device in (bench.camera, bench.panel, bench.wheel):
        device.connect()
    bench.camera.apply(CameraSettings(gain=100, offset=50, temperature=temperature))
    if temperature is not None:
        bench.camera.wait_for_cooler(timeout=900)
    return bench


def select_filter(bench: Bench, name: str) -> None:
    bench.wheel.move_to(bench.wheel.names().index(name))
    assert wait_until(bench.clock, lambda: bench.wheel.position() is not None, timeout=60)


def brightness_for(bench: Bench, exposure: float, target: float = TARGET_ADU) -> int:
    """The panel brightness that puts a flat near `target` ADU (a linear panel), found from trial frames."""
    high = bench.panel.brightness_range[1]
    pedestal = bench.sensor.pedestal_adu(bench.camera.read_settings().offset)
    brightness = high
    for _ in range(6):
        bench.panel.light_on(brightness)
        bench.clock.sleep(5.0)
        level = float(np.mean(bench.take(exposure)))
        if level < 55000 or brightness == 1:
            break
        brightness = max(1, brightness // 8)
    scaled = round(brightness * (target - pedestal) / max(level - pedestal, 1.0))
    return max(1, min(high, scaled))


@dataclass(frozen=True)
class Shot:
    frame: Frame
    kind: str  # FLAT / DARK / BIAS
    exposure: float
    settings: CameraSettings
    ccd_temp: float | None
    filter: str
    brightness: int | None = None


def shoot_set(
    bench: Bench, filter_name: str, exposure: float, flats: int, dark_flats: int, target: float = TARGET_ADU
) -> tuple[list[Shot], list[Shot]]:
    """Flats at a brightness near `target`, then (light off, settled) dark-flats with the same settings."""
    select_filter(bench, filter_name)
    brightness = brightness_for(bench, exposure, target)
    bench.panel.light_on(brightness)
    bench.clock.sleep(5.0)
    settings = bench.camera.read_settings()
    lit = [
        Shot(bench.take(exposure), "FLAT", exposure, settings, bench.camera.temperature(), filter_name, brightness)
        for _ in range(flats)
    ]
    bench.panel.light_off()
    bench.clock.sleep(5.0)
    dark = [
        Shot(bench.take(exposure, light=False), "DARK", exposure, settings, bench.camera.temperature(), filter_name)
        for _ in range(dark_flats)
    ]
    return lit, dark


def shoot_bias(bench: Bench, count: int, filter_name: str = "L") -> list[Shot]:
    bench.panel.light_off()
    bench.clock.sleep(5.0)
    settings = bench.camera.read_settings()
    exposure = bench.camera.info.exposure_min
    return [
        Shot(bench.take(0.0, light=False), "BIAS", exposure, settings, bench.camera.temperature(), filter_name)
        for _ in range(count)
    ]


def header_for(shot: Shot, *, style: str, flat_set: str | None, frame_no: int) -> dict[str, object]:
    """flatseq's or N.I.N.A.'s keywords for one frame."""
    s = shot.settings
    h: dict[str, object] = {"IMAGETYP": shot.kind}
    if style == "flatseq":
        h["DARKFLAT"] = shot.kind == "DARK"
        if flat_set is not None:
            h["FLATSET"] = flat_set
        h["RUNID"] = "2026-01-01T000000Z"
        h["FRAMENO"] = frame_no
        h["EXPTIME"] = shot.exposure
    h["EXPOSURE"] = shot.exposure
    h["GAIN"] = s.gain
    h["OFFSET"] = s.offset
    h["XBINNING"] = s.binning
    h["YBINNING"] = s.binning
    h["READOUTM"] = "Normal"
    if shot.ccd_temp is not None:
        h["CCD-TEMP"] = shot.ccd_temp
    if s.temperature is not None:
        h["SET-TEMP"] = s.temperature
    h["FILTER"] = shot.filter
    h["INSTRUME"] = "sim camera (small)"
    h["DATE-OBS"] = f"2026-01-01T00:{frame_no // 60:02d}:{frame_no % 60:02d}.000"
    if shot.brightness is not None and style == "flatseq":
        h["PANELBRT"] = shot.brightness
    return h


def write_shots(
    directory: Path,
    shots: list[Shot],
    *,
    style: str = "flatseq",
    flat_set: str | None = None,
    prefix: str = "",
    overrides: Mapping[int, Mapping[str, object]] | None = None,
) -> list[Path]:
    """Write shots as FITS into `directory`; `overrides[i]` changes header cards of shot i (0-based)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, shot in enumerate(shots):
        header = header_for(shot, style=style, flat_set=flat_set, frame_no=i + 1)
        header.update((overrides or {}).get(i, {}))
        if shot.kind == "BIAS":
            name = f"{prefix}bias_{i + 1:03d}.fits"
        else:
            name = f"{prefix}{shot.kind.lower()}_{shot.filter}_{shot.exposure:g}s_{i + 1:03d}.fits"
        paths.append(write_fits(directory / name, shot.frame, header))
    return paths


def with_settings(shots: list[Shot], **changes: object) -> list[Shot]:
    """The same frames claiming other settings in their headers (a mismatched set on disk)."""
    return [replace(s, settings=replace(s.settings, **changes)) for s in shots]  # type: ignore[arg-type]


@dataclass
class ShotBook:
    """Frames shot once per test module: flat sets by name (flats, dark-flats), bias, and the bench."""

    bench: Bench
    sets: dict[str, tuple[list[Shot], list[Shot]]] = field(default_factory=dict)
    bias: list[Shot] = field(default_factory=list)

    def flats(self, name: str) -> list[Shot]:
        return self.sets[name][0]

    def darks(self, name: str) -> list[Shot]:
        return self.sets[name][1]
