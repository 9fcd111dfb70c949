"""Tests of a sequence's logic, run in CI on the simulators (no hardware, a virtual clock: seconds per run).

Copy this file and `github-actions.yml` into your repository; `flatseq_dry_run` is a pytest fixture that comes
with flatseq. Faults are named as `flatseq run --dry-run --fault` takes them (README: "Fault injection").
"""

from __future__ import annotations

from pathlib import Path

SEQUENCE = Path(__file__).with_name("narrowband.yaml")


def test_every_set_completes_with_matching_dark_flats(flatseq_dry_run):
    result = flatseq_dry_run(SEQUENCE, at="2026-03-01T20:00:00Z", seed=1)
    assert result.exit_code == 0
    assert list(result.sets) == ["Ha 4s", "OIII 1.5s", "SII 4s"]
    for s in result.sets.values():
        assert s.status == "ok"
        assert len(s.flats) == 5 and len(s.dark_flats) == 5
        assert {f.exposure for f in s.dark_flats} == {f.exposure for f in s.flats}
    assert all(f.path.exists() for f in result.frames())
    assert result.light_was_off_at_end


def test_a_panel_dying_in_set_2_skips_only_set_2(flatseq_dry_run):
    # The panel dies when set 2 switches it on, and works again when set 3 does.
    result = flatseq_dry_run(SEQUENCE, faults=["panel=dead@switch_on:2..switch_on:3"])
    assert result.exit_code == 1
    assert result.sets["Ha 4s"].status == "ok" and len(result.sets["Ha 4s"].dark_flats) == 5
    assert result.sets["OIII 1.5s"].status == "failed"
    assert "panel" in (result.sets["OIII 1.5s"].reason or "")
    assert result.frames(set="OIII 1.5s") == []
    assert result.sets["SII 4s"].status == "ok" and len(result.sets["SII 4s"].flats) == 5
    assert result.light_was_off_at_end


def test_a_stuck_cooler_takes_no_flat_and_leaves_the_light_off(flatseq_dry_run):
    result = flatseq_dry_run(SEQUENCE, faults=["cooler=stuck"])
    assert result.exit_code == 1
    assert result.frames(kind="flat") == []
    assert "cooler did not reach -10" in (result.sets["Ha 4s"].reason or "")
    assert result.light_was_off_at_end


def test_a_camera_lost_mid_run_keeps_what_it_took(flatseq_dry_run):
    result = flatseq_dry_run(SEQUENCE, faults=["camera=disconnect_after:12"])
    assert result.exit_code == 1
    assert result.status == "failed"
    taken = result.frames(kind="flat") + result.frames(kind="darkflat")
    assert taken and all(f.path.exists() for f in taken)
    assert result.light_was_off_at_end
