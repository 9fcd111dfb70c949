"""A light box that can only be switched, over INDI (no FLAT_LIGHT_INTENSITY: `flatseq sim indi --option
dimmable=0`): flatseq's INDI driver gives it one level, and an `exposure: auto` set finds its exposure through
the protocol, its dark-flats at exactly that exposure."""

from __future__ import annotations

from pathlib import Path

import pytest
from astropy.io import fits

from drivers.clock import VirtualClock
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from simulators.indi.server import IndiServer
from tests.support.runs import manifest_of

pytestmark = pytest.mark.slow


def test_an_indi_light_box_without_intensity_finds_its_exposure(tmp_path: Path) -> None:
    bench = Bench(sensor="small", seed=6, clock=VirtualClock(), dimmable=False, warmup=0.1, move_time=0.2)
    with IndiServer.for_bench(bench, port=0) as server:
        urls = server.equipment_urls
        path = tmp_path / "indi-auto.yaml"
        equipment = ", ".join(f"{role}: '{url}'" for role, url in urls.items())
        path.write_text(
            "name: switch-only over INDI\n"
            f"equipment: {{{equipment}}}\n"
            "camera: {gain: 100, offset: 50}\n"
            "settle: {after_light_on: 1s, after_light_off: 1s}\n"
            "flat_sets:\n  - {filter: OIII, exposure: auto, count: 2}\n"
        )
        report = run_file(path, RunContext(clock=bench.clock, output_dir=tmp_path / "out", quiet=True))
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    (record,) = manifest_of(report.run_dir)["sets"]
    assert (record["status"], record["brightness"]) == ("ok", 1)  # the box's one level
    exposure = record["exposure"]
    assert exposure is not None and len(record["trials"]) <= 3
    flats = [fits.getheader(report.run_dir / f["file"]) for f in record["flats"]]
    darks = [fits.getheader(report.run_dir / f["file"]) for f in record["dark_flats"]]
    assert all(0.45 * 65536 <= h["STATMEAN"] <= 0.55 * 65536 for h in flats)
    assert {h["EXPTIME"] for h in flats + darks} == {exposure}
    assert bench.panel.light_state().value == "off"
