"""A night's lights → one planned sequence per camera (`flatseq plan`), with the profile each camera uses.

A profile is picked by `--profile`, else by the INSTRUME its `instrument` names; a camera with none gets the
simulated bench (the sequence still checks and dry-runs, and says to replace it). The profile's camera URL
tells the sensor size (`Scheme.facts`), which tells a region of interest from the full frame.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import ConfigError
from drivers.registry import Registry, default_registry
from sequencer.calibration.lightkeys import group_lights
from sequencer.calibration.lightplan import PlannedSequence, plan_sequence
from sequencer.calibration.lights import LightScan, scan_lights
from sequencer.plan.profiles import ProfileModel, load_profile, profile_names


@dataclass
class NightPlan:
    scan: LightScan
    sequences: list[tuple[PlannedSequence, str | None]]
    """Each camera's sequence and the profile it names (None: the simulated bench)."""


def _profiles_by_instrument() -> dict[str, tuple[str, ProfileModel]]:
    out: dict[str, tuple[str, ProfileModel]] = {}
    for name in profile_names():
        _, model = load_profile(name)
        if model.instrument:
            out.setdefault(model.instrument.strip().lower(), (name, model))
    return out


def slug(text: str | None) -> str:
    """'ZWO ASI2600MC Pro' → 'zwo-asi2600mc-pro', for one file per camera."""
    return re.sub(r"[^a-z0-9]+", "-", (text or "camera").lower()).strip("-") or "camera"


def plan_night(
    paths: Sequence[Path], *, profile: str | None = None, name: str = "", registry: Registry | None = None
) -> NightPlan:
    """Read every light's header under `paths` and plan the flats per camera."""
    scan = scan_lights(paths)
    cameras = list(dict.fromkeys(light.instrument for light in scan.lights))
    if profile is not None and len(cameras) > 1:
        shown = ", ".join(c or "(no INSTRUME)" for c in cameras)
        raise ConfigError(f"--profile {profile}: the lights come from {len(cameras)} cameras ({shown}); name each "
                          "camera's INSTRUME in its profile's `instrument` instead")  # fmt: skip
    chosen = {cameras[0]: (profile, load_profile(profile)[1])} if profile is not None and cameras else {}
    by_instrument = _profiles_by_instrument() if profile is None else {}
    registry = registry or default_registry()
    sequences = []
    for camera in cameras:
        picked = chosen.get(camera) or by_instrument.get((camera or "").strip().lower())
        profile_name, model = picked if picked is not None else (None, None)
        sensors = {}
        if model is not None and (size := registry.facts(model.equipment.camera).sensor) is not None:
            sensors[camera] = size
        lights = [light for light in scan.lights if light.instrument == camera]
        groups = group_lights(lights, sensors)
        title = name or f"flats for {len(lights)} lights" + (f" ({camera})" if camera else "")
        sequences.append((plan_sequence(groups, profile_name=profile_name, profile=model, name=title), profile_name))
    return NightPlan(scan, sequences)
