"""Applying a mutation to a scratch copy of the code and running its catching tests there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.mutations.catalogue import MUTATIONS, Mutation

REPO = Path(__file__).resolve().parents[2]
COPIED = ("sequencer", "drivers", "simulators", "tests")


def scratch_copy(root: Path) -> Path:
    """The packages, the tests and pyproject.toml under `root` (caches left out)."""
    for name in COPIED:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def apply(root: Path, mutation: Mutation) -> None:
    path = root / mutation.file
    text = path.read_text(encoding="utf-8")
    found = text.count(mutation.old)
    if found != mutation.count:
        raise AssertionError(f"{mutation.file}: {mutation.old!r} occurs {found} times, expected {mutation.count}")
    path.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")


def run_mutant(root: Path, mutation: Mutation) -> subprocess.CompletedProcess[str]:
    """Apply `mutation` in `root` and run its catchers there (the copy shadows the installed packages)."""
    apply(root, mutation)
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.catchers]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def main() -> int:
    """Run every mutation, print caught / SURVIVED for each; exit 1 if any survived."""
    import tempfile

    survived = 0
    with tempfile.TemporaryDirectory(prefix="flatseq-mutants-") as tmp:
        pristine = scratch_copy(Path(tmp) / "pristine")
        for i, mutation in enumerate(MUTATIONS):
            root = Path(tmp) / f"mutant-{i}"
            shutil.copytree(pristine, root)
            result = run_mutant(root, mutation)
            caught = result.returncode == 1
            survived += not caught
            print(f"{'caught  ' if caught else 'SURVIVED'} {mutation.name}  ({mutation.file})")
    return 1 if survived else 0
