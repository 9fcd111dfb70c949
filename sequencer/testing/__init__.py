"""Sequences under test in your own suite: `dry_run("my.yaml", faults=[...])` rehearses a sequence on the
simulators, on a virtual clock, and gives back what the run's summary and manifest say as typed objects.

    from sequencer.testing import dry_run

    result = dry_run("my.yaml", faults=["panel=dead@switch_on:2..switch_on:3"], at="2026-03-01T20:00Z")
    assert result.exit_code == 1
    assert result.sets["OIII 1.5s"].status == "failed"
    assert len(result.sets["Ha 4s"].dark_flats) == 30
    assert result.light_was_off_at_end

With pytest, the `flatseq_dry_run` fixture (installed with flatseq as a pytest plugin) does the same with its
frames in the test's own temporary directory.
"""

from sequencer.testing.dryrun import DryRunResult, FrameResult, SetResult, SetResults, dry_run

__all__ = ["DryRunResult", "FrameResult", "SetResult", "SetResults", "dry_run"]
