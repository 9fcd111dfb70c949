"""Each planted bug of the catalogue, applied to a scratch copy of the code, makes its catching tests fail.

This is the proof that the guarantees are tested, not copied: a test that still passes with the bug in place
would be comparing the plan with itself. `python -m tests.mutations` runs the same catalogue by hand, with
the output of each run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.mutations.catalogue import MUTATIONS, Mutation
from tests.mutations.runner import run_mutant, scratch_copy


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scratch_copy(tmp_path_factory.mktemp("pristine"))


@pytest.mark.slow
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_the_mutant_is_caught(mutation: Mutation, pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "mutant"
    shutil.copytree(pristine, root)
    result = run_mutant(root, mutation)
    assert result.returncode == 1, f"the suite did not catch {mutation.name!r}:\n{result.stdout[-3000:]}"
    assert " failed" in result.stdout
