"""The pytest plugin flatseq installs (entry point `pytest11`): the `flatseq_dry_run` fixture."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from sequencer.testing.dryrun import DryRunResult, dry_run

DryRun = Callable[..., DryRunResult]


@pytest.fixture
def flatseq_dry_run(tmp_path: Path) -> DryRun:
    """`flatseq_dry_run("my.yaml", faults=[...], at=..., seed=...)`: `dry_run` with its frames in the test's
    temporary directory (a new run directory each call)."""

    def run(
        sequence: str | Path,
        *,
        faults: Sequence[str] = (),
        at: str | datetime | None = None,
        seed: int | None = None,
    ) -> DryRunResult:
        return dry_run(sequence, faults=faults, at=at, seed=seed, output=tmp_path / "flatseq-dry-runs")

    return run
