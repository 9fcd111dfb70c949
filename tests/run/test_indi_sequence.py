"""Whole runs through flatseq's INDI drivers and a real indiserver.

- The field notes' narrowband routine on `flatseq sim indi` (our INDI server on the same VirtualClock as the
  run, chained by a real indiserver): the brightness search converges through INDI as on `sim://`.
- The example `sequences/indi.yaml` against INDI's own simulators on the real clock: a fixed brightness (the
  CCD simulator ignores the panel), flats and dark-flats through every filter, headers from the simulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from drivers.clock import VirtualClock
from sequencer.run.context import RunContext
from sequencer.run.runner import run_file
from simulators.devices.bench import Bench
from simulators.indi.server import IndiServer
from tests.support.indi import IndiServer as IndiServerProcess
from tests.support.indi import indiserver

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
FAST_BENCH = {"cover": True, "cool_rate": 2.0, "warmup": 0.1, "cover_time": 0.5, "move_time": 0.2}
"""The bench of `sim://`, with a quicker cooler, panel warm-up, cover and wheel: each poll of something still
moving costs real time over INDI, even on a virtual clock."""


@pytest.fixture
def chained_bench(tmp_path: Path) -> Iterator[tuple[IndiServerProcess, Bench]]:
    bench = Bench(sensor="small", seed=6, clock=VirtualClock(), **FAST_BENCH)
    with (
        IndiServer.for_bench(bench, port=0) as ours,
        indiserver(tmp_path / "home", [f"@127.0.0.1:{ours.port}"], ["flatseq Camera"]) as chained,
    ):
        yield chained, bench


def narrowband(path: Path, server: IndiServerProcess, output: Path, *, count: int = 3) -> Path:
    text = (REPO / "sequences" / "narrowband.yaml").read_text()
    text = text.replace("sim://camera?sensor=small", server.url("flatseq Camera"))
    text = text.replace("sim://panel", server.url("flatseq Panel"))
    text = text.replace("sim://filterwheel?filters=L,R,G,B,Ha,OIII,SII", server.url("flatseq Wheel"))
    text = text.replace('"~/flats/{date}"', f'"{output}"').replace("count: 30", f"count: {count}")
    path.write_text(text.replace("dark_flats: 30", f"dark_flats: {count}"))
    return path


def files_on_disk(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*.fits")}


def listed(manifest: dict[str, Any]) -> set[str]:
    return {f["file"] for s in manifest["sets"] for f in s["flats"] + s["dark_flats"]}


def test_narrowband_routine_through_indi_converges_like_sim(chained_bench, tmp_path: Path) -> None:
    server, bench = chained_bench
    sequence = narrowband(tmp_path / "narrowband.yaml", server, tmp_path / "flats")
    report = run_file(sequence, RunContext(clock=bench.clock, output_dir=tmp_path / "flats", quiet=True))

    assert report.exit_code == 0, report.error
    assert [s.status for s in report.sets] == ["ok", "ok", "ok"]
    assert report.manifest_path is not None
    run_dir = report.manifest_path.parent
    manifest = json.loads(report.manifest_path.read_text())
    assert manifest["equipment"]["camera"] == server.url("flatseq Camera")
    assert listed(manifest) == files_on_disk(run_dir)
    full_scale = 65535
    for flat_set in manifest["sets"]:
        assert any(t["in_window"] for t in flat_set["trials"]), flat_set["id"]  # the search converged
        flats = [run_dir / f["file"] for f in flat_set["flats"]]
        darks = [run_dir / f["file"] for f in flat_set["dark_flats"]]
        assert len(flats) == 3 and len(darks) == 3
        for flat in flats:
            assert 0.45 * full_scale <= float(np.mean(fits.getdata(flat))) <= 0.55 * full_scale
        flat_header = fits.getheader(flats[0])
        for dark in darks:
            header = fits.getheader(dark)
            assert header["IMAGETYP"] == "DARK" and float(np.mean(fits.getdata(dark))) < 0.05 * full_scale
            for key in ("EXPTIME", "GAIN", "OFFSET", "XBINNING", "READOUTM", "FILTER"):
                assert header[key] == flat_header[key], key
    assert bench.panel.light_state().value == "off" and bench.panel.cover_state().value == "closed"


def test_example_sequence_against_indis_own_simulators(tmp_path: Path) -> None:
    devices = ["CCD Simulator", "Filter Simulator", "Light Panel Simulator"]
    drivers_ = ["indi_simulator_ccd", "indi_simulator_wheel", "indi_simulator_lightpanel"]
    with indiserver(tmp_path / "home", drivers_, devices) as server:
        text = (REPO / "sequences" / "indi.yaml").read_text().replace("localhost:7624", f"127.0.0.1:{server.port}")
        sequence = tmp_path / "indi.yaml"
        sequence.write_text(text.replace('"~/flats/{date}"', f'"{tmp_path / "flats"}"'))
        report = run_file(sequence, RunContext(output_dir=tmp_path / "flats", quiet=True))
        light_off = server.get("Light Panel Simulator.FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF")
        names = [server.get(f"Filter Simulator.FILTER_NAME.FILTER_SLOT_NAME_{slot}") for slot in (4, 5, 6)]

    assert report.exit_code == 0, report.error
    assert [(s.status, s.flats, s.dark_flats) for s in report.sets] == [("ok", 3, 3)] * 3
    assert light_off == "On"  # the panel ends off, as INDI reports it
    assert report.manifest_path is not None
    run_dir = report.manifest_path.parent
    manifest = json.loads(report.manifest_path.read_text())
    assert listed(manifest) == files_on_disk(run_dir)
    filters = []
    for flat_set in manifest["sets"]:
        headers = [fits.getheader(run_dir / f["file"]) for f in flat_set["flats"] + flat_set["dark_flats"]]
        assert {h["IMAGETYP"] for h in headers[:3]} == {"FLAT"} and {h["IMAGETYP"] for h in headers[3:]} == {"DARK"}
        assert {(h["GAIN"], h["XBINNING"], h["YBINNING"]) for h in headers} == {(60, 2, 2)}  # read back via INDI
        assert all(h["CCD-TEMP"] == pytest.approx(-1.0, abs=0.5) for h in headers)  # CCD_TEMPERATURE
        assert {h["EXPTIME"] for h in headers} == {0.5}  # the simulator's own EXPTIME
        assert fits.getdata(run_dir / flat_set["flats"][0]["file"]).shape == (512, 640)
        filters.append(headers[0]["FILTER"])
    assert filters == ["H_Alpha", "OIII", "SII"] and set(filters) == set(names)  # the names FILTER_NAME gives
