"""A whole sequence through Alpaca: flatseq's drivers drive the simulated bench behind flatseq's server.

The server runs in this process on the same VirtualClock as the bench and the sequencer, so exposures
and waits cost no wall time while every device call still crosses real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.io import fits

from sequencer.plan.compile import load_plan
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from tests.support.alpaca import served_bench

REPO = Path(__file__).resolve().parents[2]


def _sequence(path: Path, urls: dict[str, str], output: Path) -> Path:
    text = (REPO / "sequences" / "alpaca.yaml").read_text()
    for role, url in urls.items():
        default = {
            "camera": "alpaca://127.0.0.1:11111/camera/0",
            "panel": "alpaca://127.0.0.1:11111/covercalibrator/0",
            "filter_wheel": "alpaca://127.0.0.1:11111/filterwheel/0",
        }[role]
        text = text.replace(default, url)
    text = text.replace('"~/flats/{date}"', f'"{output}"')
    for count in ("count: 30}  #", "count: 30}"):
        text = text.replace(count, count.replace("30", "3"))
    path.write_text(text)
    return path


def test_example_sequence_names_alpaca_devices() -> None:
    plan = load_plan(REPO / "sequences" / "alpaca.yaml")
    assert all(url.startswith("alpaca://127.0.0.1:11111/") for url in plan.equipment.values())


def test_narrowband_run_through_alpaca_converges_and_writes_matching_dark_flats(tmp_path: Path) -> None:
    with served_bench(seed=6) as (server, bench):
        sequence = _sequence(tmp_path / "alpaca.yaml", server.equipment_urls, tmp_path / "flats")
        report = run_file(sequence, RunContext(clock=bench.clock, output_dir=tmp_path / "flats", quiet=True))
        assert not bench.camera.connected  # the run let go of the camera over Alpaca

    assert report.exit_code == 0, report.error
    assert [s.status for s in report.sets] == ["ok", "ok", "ok"]
    assert all(s.trials >= 1 and s.flats == 3 and s.dark_flats == 3 for s in report.sets)
    assert report.manifest_path is not None
    manifest = json.loads(report.manifest_path.read_text())
    assert manifest["equipment"]["camera"] == server.equipment_urls["camera"]

    full_scale = 65535
    for flat_set in manifest["sets"]:
        accepted = [t for t in flat_set["trials"] if t["in_window"]]
        assert accepted, flat_set["id"]  # the brightness search converged
        flats = [fits.getheader(report.manifest_path.parent / f["file"]) for f in flat_set["flats"]]
        darks = [fits.getheader(report.manifest_path.parent / f["file"]) for f in flat_set["dark_flats"]]
        for entry in flat_set["flats"]:
            data = fits.getdata(report.manifest_path.parent / entry["file"])
            assert 0.45 * full_scale <= float(np.mean(data)) <= 0.55 * full_scale
        assert {h["IMAGETYP"] for h in flats} == {"FLAT"} and {h["IMAGETYP"] for h in darks} == {"DARK"}
        for key in ("EXPTIME", "GAIN", "OFFSET", "XBINNING", "FILTER"):
            assert {h[key] for h in darks} == {flats[0][key]}, key
        dark_means = [
            float(np.mean(fits.getdata(report.manifest_path.parent / f["file"]))) for f in flat_set["dark_flats"]
        ]
        assert max(dark_means) < 0.05 * full_scale  # the light was off for the dark-flats
