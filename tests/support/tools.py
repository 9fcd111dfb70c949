"""Third-party programs the tests drive: a missing one fails the test that needs it (with how to get it),
never skips it quietly, so a CI log that passes has really run them."""

from __future__ import annotations

import shutil

import pytest

HOW = {
    "indiserver": "indi-bin",
    "indi_flipflat": "indi-bin",
    "indi_getprop": "indi-bin",
    "indi_setprop": "indi-bin",
    "indi_simulator_ccd": "indi-bin",
    "indi_simulator_wheel": "indi-bin",
    "indi_simulator_lightpanel": "indi-bin",
    "cc": "gcc",
    "siril-cli": "siril",
}


def require(*tools: str) -> None:
    """Fail now unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        packages = sorted({HOW.get(tool, tool) for tool in missing})
        pytest.fail(
            f"needs {', '.join(missing)} on PATH: apt-get install {' '.join(packages)} (.ci/run installs them)",
            pytrace=False,
        )
