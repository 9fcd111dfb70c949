"""The import layers hold, and a back-arrow added later is caught: lint-imports runs on the tree as it is, and
on a scratch copy with one upward import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy's packages shadow the installed ones
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for package in ("sequencer", "drivers", "simulators"):
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_every_import_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "named"),
    [
        ("drivers/urls.py", "from sequencer.core import units", "drivers is not allowed to import sequencer"),
        ("sequencer/plan/machine.py", "import simulators.scheme", "sequencer is not allowed to import simulators"),
        ("sequencer/core/units.py", "from sequencer.plan import kinds", "sequencer.core.units -> sequencer.plan"),
        ("simulators/physics/light.py", "import simulators.devices.bench", "simulators.physics.light ->"),
        ("drivers/alpaca/url.py", "import drivers.alnitak.url", "drivers.alpaca.url -> drivers.alnitak.url"),
    ],
)
def test_an_upward_import_breaks_the_build(scratch: Path, module: str, line: str, named: str) -> None:
    path = scratch / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # a back-arrow\n", encoding="utf-8")
    result = _lint(scratch)
    assert result.returncode == 1
    assert named in result.stdout
