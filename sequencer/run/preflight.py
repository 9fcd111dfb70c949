"""Before anything moves or lights up: every flat set checked against what the camera and the wheel say they
can do (ranges, readout modes, cooling, filter names), so a run that cannot work stops with exit 2 and
nothing on disk."""

from __future__ import annotations

from drivers.base import CameraInfo, CameraSettings, Equipment
from drivers.errors import ConfigError
from sequencer.brightness.exposuretrials import ExposureRange
from sequencer.plan.model import FlatSet, Plan


def settings_for(plan: Plan, fs: FlatSet, info: CameraInfo) -> tuple[CameraSettings, str]:
    """The camera settings a flat set asks for, its readout mode as an index, and that mode's name."""
    mode = fs.readout_mode
    where = f"{plan.file}:{fs.line}:{fs.column}"
    if isinstance(mode, str):
        names = [m.lower() for m in info.readout_modes]
        if mode.lower() not in names:
            raise ConfigError(
                f"{where}: readout_mode {mode!r} is not one of the camera's modes ({', '.join(info.readout_modes)})"
            )
        index = names.index(mode.lower())
    else:
        if not 0 <= mode < len(info.readout_modes):
            raise ConfigError(
                f"{where}: readout_mode {mode} is out of range "
                f"(the camera has {len(info.readout_modes)}: {', '.join(info.readout_modes)})"
            )
        index = mode
    roi = fs.roi if info.subframe else None  # a camera that reads no region: the full frame (noted at preflight)
    settings = CameraSettings(fs.gain, fs.offset, fs.binning, index, fs.temperature, roi)
    return settings, info.readout_modes[index]


def _check_region(plan: Plan, fs: FlatSet, info: CameraInfo, where: str) -> None:
    """A set's region inside the camera's binned frame; on a camera that reads no region, a note: its flats and
    dark-flats are full frame (crop them to the lights' region before calibrating)."""
    if fs.roi is None:
        return
    x, y, w, h = fs.roi
    if not info.subframe:
        plan.warnings.append(
            f"{where}: {fs.label}: {info.name} reads out no region of interest: its flats and dark-flats are full "
            f"frame; crop them to the lights' {w}×{h} at ({x}, {y}) before calibrating"
        )
        return
    cols, rows = info.width // fs.binning, info.height // fs.binning
    if x + w > cols or y + h > rows:
        raise ConfigError(
            f"{where}: roi: {w}×{h} at ({x}, {y}) is outside {info.name}'s {cols}×{rows} frame at binning {fs.binning}"
        )


def _check_exposure(fs: FlatSet, info: CameraInfo, where: str) -> None:
    """The set's exposure within the camera's range; one found at run time: its range overlaps the camera's
    (and its grid has a point there)."""
    camera = f"the camera's range {info.exposure_min:g}-{info.exposure_max:g}s"
    if fs.exposure is not None:
        if not info.exposure_min <= fs.exposure <= info.exposure_max:
            raise ConfigError(f"{where}: exposure {fs.exposure:g}s is outside {camera}")
        return
    assert fs.auto is not None
    low, high = max(fs.auto.min, info.exposure_min, 1e-6), min(fs.auto.max, info.exposure_max)
    try:
        ExposureRange(low, high, fs.auto.step)
    except ConfigError:
        raise ConfigError(
            f"{where}: the exposures the search may use ({fs.auto.min:g}-{fs.auto.max:g}s"
            + (f" in steps of {fs.auto.step:g}s" if fs.auto.step else "")
            + f") leave none within {camera}"
        ) from None


def _check_brightness(fs: FlatSet, eq: Equipment, where: str) -> None:
    """The brightness an exposure search holds, within the panel's range (a switch-only panel has one level)."""
    held = fs.auto.brightness if fs.auto is not None else None
    if held is None:
        return
    low, high = eq.panel.brightness_range
    if low == high and held != low:
        raise ConfigError(f"{where}: brightness {held}: {eq.panel.name} can only be switched (one level, {low})")
    if not low <= held <= high:
        raise ConfigError(f"{where}: brightness {held} is outside {eq.panel.name}'s range {low}-{high}")


def check_against_equipment(plan: Plan, eq: Equipment) -> None:
    """Refuse settings the camera cannot take and filters the wheel does not have (ConfigError, file:line)."""
    info = eq.camera.info
    for fs in plan.sets.values():
        settings_for(plan, fs, info)
        where = f"{plan.file}:{fs.line}:{fs.column}"
        checks = [
            ("gain", fs.gain, info.gain_min, info.gain_max),
            ("offset", fs.offset, info.offset_min, info.offset_max),
            ("binning", fs.binning, 1, info.max_binning),
        ]
        for name, value, low, high in checks:
            if high >= low and not low <= value <= high:
                raise ConfigError(f"{where}: {name} {value} is outside the camera's range {low}-{high}")
        _check_exposure(fs, info, where)
        _check_brightness(fs, eq, where)
        _check_region(plan, fs, info, where)
        if fs.temperature is not None and not info.can_cool:
            raise ConfigError(f"{where}: camera.temperature is set but {info.name} cannot cool")
    if eq.wheel is not None:
        names = eq.wheel.names()
        for fs in plan.sets.values():
            if fs.filter is not None and fs.filter not in names:
                raise ConfigError(
                    f"{plan.file}:{fs.line}:{fs.column}: unknown filter {fs.filter!r} for the wheel "
                    f"(it has: {', '.join(names)})"
                )
