"""Equipment profiles: a rig's `equipment` and `camera` kept once, named by sequences (`profile: rig1`).

A profile is a YAML file in the user's config directory (`$FLATSEQ_CONFIG_DIR/profiles/NAME.yaml`, else
platformdirs' user config directory for flatseq). Besides `equipment` and `camera` it may say which camera
the lights name (`instrument`, their INSTRUME) and the user's defaults for planned sets (`defaults`: counts,
exposure, target, settle), which `flatseq plan` writes. A sequence naming a profile may still give `camera`
keys, which override the profile's. An error inside a profile names the profile's file, line and column.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field

from drivers.errors import ConfigError, quoted
from sequencer.plan.loader import Located, SequenceFileError, load_file
from sequencer.plan.schema import (
    BrightnessModel,
    CameraModel,
    EquipmentModel,
    ExposureOrAuto,
    SettleModel,
    Strict,
)
from sequencer.plan.validation import validate

CONFIG_DIR_ENV = "FLATSEQ_CONFIG_DIR"
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PROFILE_KEY = "profile"


class PlanDefaults(Strict):
    """What `flatseq plan` gives every set it writes."""

    count: Annotated[int, Field(gt=0, le=10000)] = 30
    dark_flats: Annotated[int, Field(ge=0, le=10000)] | None = None
    exposure: ExposureOrAuto = "auto"
    brightness: BrightnessModel = BrightnessModel()
    settle: SettleModel = SettleModel()
    output: str | None = None
    """The output directory the planned sequence names (default: the sequence format's)."""


class ProfileModel(Strict):
    equipment: EquipmentModel
    camera: CameraModel
    instrument: str | None = None
    """INSTRUME as the camera writes it in the lights (how `flatseq plan` picks this profile)."""
    defaults: PlanDefaults = PlanDefaults()


def config_dir() -> Path:
    """`$FLATSEQ_CONFIG_DIR`, else the platform's user config directory for flatseq."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override).expanduser() if override else Path(platformdirs.user_config_dir("flatseq"))


def profiles_dir() -> Path:
    return config_dir() / "profiles"


def check_name(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            f"profile name {quoted(name, 70)}: letters, digits, '.', '_' and '-' only (at most 64, no '/')"
        )
    return name


def profile_path(name: str) -> Path:
    return profiles_dir() / f"{check_name(name)}.yaml"


def profile_names() -> list[str]:
    folder = profiles_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if PROFILE_NAME.fullmatch(p.stem))


def load_profile(name: str) -> tuple[Located, ProfileModel]:
    """A profile read and checked; every error names the profile's file, line and column."""
    path = profile_path(name)
    if not path.is_file():
        known = ", ".join(profile_names()) or "none yet: flatseq profile add"
        raise ConfigError(f"{path}: no profile {name!r} (profiles: {known})")
    located = load_file(path)
    if not isinstance(located.data, dict):
        raise located.error((), "a profile must be a mapping of keys (equipment, camera, ...)")
    return located, validate(located, ProfileModel, located.data, ())


def resolve_profile(located: Located) -> Located | None:
    """For a sequence naming a profile: its data with the profile's `equipment` and `camera` filled in (the
    sequence's own `camera` keys win), and the profile's Located (so the equipment's errors name the
    profile's file). None for a sequence without `profile`."""
    data = located.data
    if not isinstance(data, dict) or PROFILE_KEY not in data:
        return None
    name = data[PROFILE_KEY]
    if not isinstance(name, str):
        raise located.error((PROFILE_KEY,), "profile: expected a profile's name")
    if "equipment" in data:
        raise located.error(("equipment",), "equipment: give a profile or equipment, not both")
    try:
        profile_located, _ = load_profile(name)
    except SequenceFileError:
        raise  # inside the profile: its own file, line and column
    except ConfigError as exc:
        raise located.error((PROFILE_KEY,), f"profile: {exc}") from None
    own_camera = data.get("camera", {})
    if not isinstance(own_camera, dict):
        raise located.error(("camera",), "camera: expected a mapping of camera settings")
    profile_data: dict[str, Any] = profile_located.data
    merged = {**data, "equipment": profile_data["equipment"], "camera": {**profile_data["camera"], **own_camera}}
    located.data = merged
    at = located.marks.get((PROFILE_KEY,), (1, 1))
    for path in (("equipment",), ("camera",)):
        located.marks.setdefault(path, at)
        located.value_marks.setdefault(path, at)
    return profile_located


def profile_text(model: ProfileModel) -> str:
    """A profile as YAML, for `flatseq profile add`."""
    import yaml

    data = model.model_dump(exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
