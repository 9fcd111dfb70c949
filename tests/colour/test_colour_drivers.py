"""A colour camera through each protocol: the simulators serve its mosaic as ASCOM and INDI define it (checked by
alpyca and INDI's own indi_getprop), flatseq's drivers bring it to the pattern at pixel (0, 0), and the frames'
BAYERPAT says where the red pixel really is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from alpaca.camera import Camera, SensorType
from alpaca.exceptions import NotImplementedException
from astropy.io import fits

from drivers.bayer import pattern_at_origin, shifted
from drivers.clock import SystemClock, VirtualClock, wait_until
from sequencer.run.context import RunContext
from sequencer.run.report import RunReport
from sequencer.run.runner import run_file
from simulators.alpaca.server import AlpacaServer
from simulators.devices.bench import Bench
from simulators.indi.server import IndiServer
from tests.support.indi import indiserver
from tests.support.runs import manifest_of

CAMERA = "flatseq Camera"


def test_the_four_placements_fold_to_one_form() -> None:
    assert [shifted("RGGB", x, y) for y in (0, 1) for x in (0, 1)] == ["RGGB", "GRBG", "GBRG", "BGGR"]
    assert pattern_at_origin("gbrg", 1, 1) == "GRBG"
    with pytest.raises(ValueError, match="'CMYG' is not a Bayer pattern"):
        pattern_at_origin("CMYG", 0, 0)


@pytest.fixture
def colour_alpaca() -> Iterator[tuple[AlpacaServer, Bench]]:
    bench = Bench(sensor="smallc", seed=2, clock=VirtualClock(), bayer="GRBG", warmup=0.1, move_time=0.2)
    server = AlpacaServer.for_bench(bench).start()
    try:
        yield server, bench
    finally:
        server.stop()


def test_alpyca_reads_an_rggb_sensor_with_the_offsets_of_its_placement(
    colour_alpaca: tuple[AlpacaServer, Bench],
) -> None:
    server, _ = colour_alpaca
    camera = Camera(f"127.0.0.1:{server.port}", 0)
    camera.Connect()
    assert camera.SensorType == SensorType.RGGB
    assert (camera.BayerOffsetX, camera.BayerOffsetY) == (1, 0)  # GRBG: the frame starts on RGGB's green
    camera.Disconnect()


def test_a_mono_camera_says_so_and_has_no_bayer_offsets() -> None:
    bench = Bench(sensor="small", seed=2, clock=VirtualClock())
    server = AlpacaServer.for_bench(bench).start()
    try:
        camera = Camera(f"127.0.0.1:{server.port}", 0)
        camera.Connect()
        assert camera.SensorType == SensorType.Monochrome
        with pytest.raises(NotImplementedException):
            _ = camera.BayerOffsetX
    finally:
        server.stop()


def _run(tmp_path: Path, urls: dict[str, str], clock: VirtualClock | SystemClock) -> RunReport:
    equipment = ", ".join(f"{role}: '{url}'" for role, url in urls.items())
    path = tmp_path / "colour.yaml"
    path.write_text(
        "name: colour over a protocol\n"
        f"equipment: {{{equipment}}}\n"
        "camera: {gain: 100, offset: 50}\n"
        "settle: {after_light_on: 1s, after_light_off: 1s}\n"
        "flat_sets:\n  - {filter: Ha, exposure: 2s, count: 2, dark_flats: 1}\n"
    )
    return run_file(path, RunContext(clock=clock, output_dir=tmp_path / "out", quiet=True))


def _red_sits_where_bayerpat_says(report: RunReport, pattern: str) -> None:
    assert report.exit_code == 0, report.summary()
    assert report.run_dir is not None
    (record,) = manifest_of(report.run_dir)["sets"]
    for frame in record["flats"] + record["dark_flats"]:
        assert fits.getheader(report.run_dir / frame["file"])["BAYERPAT"] == pattern
    data = fits.getdata(report.run_dir / record["flats"][0]["file"]).astype(np.float64)
    cells = [data[i // 2 :: 2, i % 2 :: 2].mean() for i in range(4)]
    assert pattern[int(np.argmax(cells))] == "R"  # through Ha, the red pixel is the bright one


def test_an_alpaca_colour_run_writes_the_pattern_its_frames_have(
    colour_alpaca: tuple[AlpacaServer, Bench], tmp_path: Path
) -> None:
    server, bench = colour_alpaca
    assert isinstance(bench.clock, VirtualClock)
    _red_sits_where_bayerpat_says(_run(tmp_path, server.equipment_urls, bench.clock), "GRBG")


@pytest.mark.slow
def test_indi_serves_ccd_cfa_to_its_own_tools_and_an_indi_colour_run_writes_the_pattern(tmp_path: Path) -> None:
    bench = Bench(sensor="smallc", seed=3, clock=SystemClock(), bayer="BGGR", warmup=0.05, move_time=0.1)
    with (
        IndiServer.for_bench(bench, port=0) as ours,
        indiserver(tmp_path / "home", [f"@127.0.0.1:{ours.port}"], [CAMERA]) as chained,
    ):
        chained.set(f"{CAMERA}.CONNECTION.CONNECT=On")
        assert wait_until(
            SystemClock(), lambda: chained.get(f"{CAMERA}.CCD_CFA.CFA_TYPE") == "BGGR", timeout=15, poll=0.1
        )
        assert chained.get(f"{CAMERA}.CCD_CFA.CFA_OFFSET_X") == "0"
    virtual = Bench(sensor="smallc", seed=3, clock=VirtualClock(), bayer="BGGR", warmup=0.1, move_time=0.2)
    assert isinstance(virtual.clock, VirtualClock)
    with IndiServer.for_bench(virtual, port=0) as server:
        _red_sits_where_bayerpat_says(_run(tmp_path, server.equipment_urls, virtual.clock), "BGGR")
