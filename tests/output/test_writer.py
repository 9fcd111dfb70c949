"""The FITS writer thread: files really on disk, read back with astropy."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from sequencer.core.atomicfile import OutputError
from sequencer.output import fitsio
from sequencer.output.header import FrameHeader
from sequencer.output.journal import Journal
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import Manifest
from sequencer.output.writer import FrameWriter, WrittenFrame
from tests.support.frames import COLS, ROWS, files_in, make_frame, make_header


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def test_round_trip_is_identical_uint16_with_bzero(tmp_path: Path, clock: VirtualClock) -> None:
    frame = make_frame()
    with FrameWriter(tmp_path, clock=clock) as writer:
        path = writer.submit(frame, make_header(), "Ha_4s/flat_Ha_4s_001.fits").result()
    assert path == tmp_path / "Ha_4s" / "flat_Ha_4s_001.fits"
    with fits.open(path) as hdul:
        data = hdul[0].data
        header = hdul[0].header
        assert data.dtype == np.uint16
        assert np.array_equal(data, frame)
    assert (header["BITPIX"], header["BZERO"], header["BSCALE"], header["NAXIS1"], header["NAXIS2"]) == (
        16,
        32768,
        1,
        COLS,
        ROWS,
    )
    with fits.open(path, do_not_scale_image_data=True) as raw:  # on disk: value - 32768 as int16
        assert raw[0].data.dtype.kind == "i"
        assert np.array_equal(raw[0].data.astype(np.int32), frame.astype(np.int32) - 32768)
    assert path.stat().st_size % 2880 == 0
    assert files_in(tmp_path) == ["Ha_4s/flat_Ha_4s_001.fits"]


def test_data_bytes_equal_what_astropy_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fitsio, "CHUNK_BYTES", 1000)  # many chunks, the last one partial
    frame = make_frame(seed=3, rows=37, cols=53)  # data not a whole number of blocks
    ours = fitsio.write_fits(tmp_path / "ours.fits", frame, {"OBJECT": ("flat", "what")})
    fits.PrimaryHDU(frame).writeto(tmp_path / "astropy.fits")
    mine, theirs = ours.read_bytes(), (tmp_path / "astropy.fits").read_bytes()
    assert len(mine) == len(theirs)
    data_start = 2880  # both headers fit one block
    assert mine[data_start:] == theirs[data_start:]
    with fits.open(ours) as hdul:
        assert hdul[0].header["OBJECT"] == "flat"
        assert np.array_equal(hdul[0].data, frame)


def test_never_overwrites_an_existing_file(tmp_path: Path, clock: VirtualClock) -> None:
    taken = tmp_path / "flat_001.fits"
    taken.write_bytes(b"somebody else's frame")
    (tmp_path / "flat_001_1.fits").mkdir()  # a directory in the way is skipped too
    with FrameWriter(tmp_path, clock=clock) as writer:
        path = writer.submit(make_frame(), make_header(), "flat_001.fits").result()
    assert path == tmp_path / "flat_001_2.fits"
    assert taken.read_bytes() == b"somebody else's frame"
    with fits.open(path) as hdul:
        assert np.array_equal(hdul[0].data, make_frame())


def test_two_writers_racing_for_the_same_names_never_clobber(tmp_path: Path, clock: VirtualClock) -> None:
    names = [f"flat_{n:03d}.fits" for n in range(1, 7)]
    results: list[list[Path]] = [[], []]

    def run(which: int) -> None:
        with FrameWriter(tmp_path, clock=clock) as writer:
            futures = [
                writer.submit(make_frame(seed=10 * which + i), make_header(n=i + 1), name)
                for i, name in enumerate(names)
            ]
            results[which] = [f.result() for f in futures]

    threads = [threading.Thread(target=run, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    written = results[0] + results[1]
    assert len(set(written)) == 12
    for which in (0, 1):
        for i, path in enumerate(results[which]):
            with fits.open(path) as hdul:
                assert np.array_equal(hdul[0].data, make_frame(seed=10 * which + i))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_submit_returns_before_the_write_completes(tmp_path: Path, clock: VirtualClock) -> None:
    release = threading.Event()
    first_in_callback = threading.Event()

    def hold_first(written: WrittenFrame) -> None:
        if written.name == "a.fits":
            first_in_callback.set()
            release.wait()

    with FrameWriter(tmp_path, clock=clock, on_written=hold_first) as writer:
        first = writer.submit(make_frame(1), make_header(1), "a.fits")
        assert first_in_callback.wait(10)
        second = writer.submit(make_frame(2), make_header(2), "b.fits")
        # submit came back while the writer is still busy with the first frame: the second is not written
        assert not first.done() and not second.done()
        assert not (tmp_path / "b.fits").exists()
        assert writer.pending == 2
        release.set()
        writer.flush()
        assert first.done() and second.done()
        assert (tmp_path / "b.fits").exists()


def test_submit_blocks_when_max_pending_frames_are_waiting(tmp_path: Path, clock: VirtualClock) -> None:
    release = threading.Event()
    submitted_third = threading.Event()
    writer = FrameWriter(tmp_path, clock=clock, max_pending=2, on_written=lambda w: release.wait())
    writer.submit(make_frame(1), make_header(1), "a.fits")
    writer.submit(make_frame(2), make_header(2), "b.fits")

    def third() -> None:
        writer.submit(make_frame(3), make_header(3), "c.fits")
        submitted_third.set()

    thread = threading.Thread(target=third)
    thread.start()
    assert not submitted_third.wait(0.3)  # held back: two frames already pending
    release.set()
    thread.join(10)
    assert submitted_third.is_set()
    writer.close()
    assert files_in(tmp_path) == ["a.fits", "b.fits", "c.fits"]


def test_frames_are_written_in_submission_order(tmp_path: Path, clock: VirtualClock) -> None:
    order: list[str] = []
    with FrameWriter(tmp_path, clock=clock, on_written=lambda w: order.append(w.name)) as writer:
        for n in range(1, 8):
            writer.submit(make_frame(n), make_header(n), f"f{n}.fits")
    assert order == [f"f{n}.fits" for n in range(1, 8)]


def test_writer_records_each_frame_in_manifest_and_journal(tmp_path: Path, clock: VirtualClock) -> None:
    manifest = Manifest.create(tmp_path / "manifest.json", run_id="r1", clock=clock)
    manifest.begin_set("Ha_4s", filter="Ha", exposure=4.0, settings=make_header().settings)
    seen: list[int] = []

    def check_manifest(written: WrittenFrame) -> None:
        seen.append(len(Manifest.load(tmp_path / "manifest.json").get_set("Ha_4s").flats))

    with (
        Journal(tmp_path / "journal.jsonl", clock=clock) as journal,
        FrameWriter(tmp_path, clock=clock, manifest=manifest, journal=journal, on_written=check_manifest) as writer,
    ):
        writer.submit(make_frame(1), make_header(1), "Ha_4s/flat_001.fits")
        writer.submit(
            make_frame(2), make_header(2, rejected=True, reject_reason="mean 71 % above window"), "Ha_4s/flat_002.fits"
        )
        writer.submit(make_frame(3), make_header(1, kind=FrameKind.DARK_FLAT), "Ha_4s/darkflat_001.fits")
        with pytest.raises(TypeError):
            writer.submit(make_frame(4), {"IMAGETYP": "FLAT"}, "loose.fits")
    assert seen == [1, 2, 2]  # the manifest on disk already listed each frame when it landed
    loaded = Manifest.load(tmp_path / "manifest.json").get_set("Ha_4s")
    assert [f.file for f in loaded.flats] == ["Ha_4s/flat_001.fits", "Ha_4s/flat_002.fits"]
    assert [f.file for f in loaded.dark_flats] == ["Ha_4s/darkflat_001.fits"]
    assert loaded.flats[1].rejected and loaded.flats[1].reason == "mean 71 % above window"
    events = Journal.read(tmp_path / "journal.jsonl")
    assert [(e["event"], e["file"], e["kind"], e["n"]) for e in events] == [
        ("frame_written", "Ha_4s/flat_001.fits", "flat", 1),
        ("frame_written", "Ha_4s/flat_002.fits", "flat", 2),
        ("frame_written", "Ha_4s/darkflat_001.fits", "darkflat", 1),
    ]
    assert all(e["bytes"] == (tmp_path / e["file"]).stat().st_size for e in events)


def test_closed_writer_refuses_frames(tmp_path: Path, clock: VirtualClock) -> None:
    writer = FrameWriter(tmp_path, clock=clock)
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(OutputError, match="closed"):
        writer.submit(make_frame(), make_header(), "x.fits")


def test_cancelled_future_is_not_written(tmp_path: Path, clock: VirtualClock) -> None:
    release = threading.Event()
    with FrameWriter(tmp_path, clock=clock, on_written=lambda w: release.wait()) as writer:
        writer.submit(make_frame(1), make_header(1), "a.fits")
        second: Future[Path] = writer.submit(make_frame(2), make_header(2), "b.fits")
        assert second.cancel()
        release.set()
    assert files_in(tmp_path) == ["a.fits"]


def test_a_failure_after_the_file_landed_is_reported_and_the_file_kept(tmp_path: Path, clock: VirtualClock) -> None:
    def broken(written: WrittenFrame) -> None:
        raise RuntimeError("progress display went away")

    writer = FrameWriter(tmp_path, clock=clock, on_written=broken)
    future = writer.submit(make_frame(), make_header(), "a.fits")
    with pytest.raises(OutputError, match=r"a\.fits: written, but recording it failed: progress display went away"):
        future.result(10)
    with pytest.raises(OutputError, match="recording it failed"):
        writer.close()  # not reported by a submit or flush yet: close raises it
    assert files_in(tmp_path) == ["a.fits"]


def test_frames_from_the_simulated_bench_land_with_their_measured_header(tmp_path: Path) -> None:
    from drivers.clock import wait_until
    from sequencer.core.stats import frame_stats
    from simulators.devices.bench import Bench

    clock = VirtualClock()
    bench = Bench(sensor="small", seed=3, clock=clock)
    camera, panel = bench.camera, bench.panel
    camera.connect()
    panel.connect()
    settings = CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=None)
    camera.apply(settings)
    manifest = Manifest.create(tmp_path / "manifest.json", run_id="sim", clock=clock)
    manifest.begin_set("L_1s", filter="L", exposure=1.0, settings=settings)

    def expose(light: bool) -> tuple[np.ndarray, float, float | None]:
        start = clock.now()
        camera.start_exposure(1.0, light)
        assert wait_until(clock, camera.image_ready, timeout=30)
        return camera.read_image(), start, camera.temperature()

    panel.light_on(60)
    clock.advance(5)  # settle after light on
    flat, flat_start, flat_temp = expose(True)
    panel.light_off()
    clock.advance(5)
    dark, dark_start, dark_temp = expose(False)
    common = {
        "flat_set": "L_1s",
        "run_id": "sim",
        "frame_no": 1,
        "exposure": 1.0,
        "settings": settings,
        "readout_mode_name": camera.info.readout_modes[0],
        "camera": camera.info.name,
        "filter": "L",
    }
    flat_header = FrameHeader(
        kind=FrameKind.FLAT, date_obs=flat_start, ccd_temp=flat_temp, panel_brightness=60, panel_max=255,
        stats=frame_stats(flat), **common,  # type: ignore[arg-type]
    )  # fmt: skip
    dark_header = FrameHeader(
        kind=FrameKind.DARK_FLAT, date_obs=dark_start, ccd_temp=dark_temp, stats=frame_stats(dark),
        **common,  # type: ignore[arg-type]
    )  # fmt: skip
    with FrameWriter(tmp_path, clock=clock, manifest=manifest) as writer:
        flat_path = writer.submit(flat, flat_header, "L_1s/flat_001.fits").result()
        dark_path = writer.submit(dark, dark_header, "L_1s/darkflat_001.fits").result()
    with fits.open(flat_path) as f, fits.open(dark_path) as d:
        assert np.array_equal(f[0].data, flat) and np.array_equal(d[0].data, dark)
        fh, dh = f[0].header, d[0].header
    assert fh["STATMEAN"] == pytest.approx(float(flat.mean()), abs=1e-3)
    assert dh["STATMEAN"] == pytest.approx(float(dark.mean()), abs=1e-3)
    assert fh["STATMEAN"] > 5 * dh["STATMEAN"]  # the panel lit the flat; the dark-flat is pedestal + dark
    # Known values, not one header compared with another built from the same dictionary:
    expected = {
        "FLATSET": "L_1s", "RUNID": "sim", "FRAMENO": 1, "EXPTIME": 1.0, "EXPOSURE": 1.0, "GAIN": 100, "OFFSET": 50,
        "XBINNING": 1, "YBINNING": 1, "READOUTM": "Photographic 16bit", "FILTER": "L",
        "INSTRUME": "sim camera (small)", "XPIXSZ": None, "REJECTED": False,
    }  # fmt: skip
    for keyword, value in expected.items():
        if value is None:
            assert keyword not in fh and keyword not in dh
        else:
            assert fh[keyword] == dh[keyword] == value, keyword
    assert (fh["IMAGETYP"], fh["DARKFLAT"], fh["PANELBRT"], fh["PANELMAX"]) == ("FLAT", False, 60, 255)
    assert (dh["IMAGETYP"], dh["DARKFLAT"]) == ("DARK", True) and "PANELBRT" not in dh
    assert fh["DATE-OBS"] == "2026-01-01T00:00:05.000" and fh["CCD-TEMP"] == pytest.approx(15.0)
    assert "SET-TEMP" not in fh  # no set-point: the cooler is off
    record = Manifest.load(tmp_path / "manifest.json").get_set("L_1s")
    assert [f.file for f in record.flats + record.dark_flats] == ["L_1s/flat_001.fits", "L_1s/darkflat_001.fits"]
