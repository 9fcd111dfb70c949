"""`flatseq master` reads every input file once (flats held in memory), within `--max-memory`; a budget too
small for the flats reads some twice, says so, and gives the same masters to the bit.

Reads are counted where the pixels come from: every pixel read goes through `os.preadv`, which the tests
wrap to note the file (from the descriptor) and the byte range; and the process's own count of bytes read
(/proc/self/io rchar, page-cache hits included) checks that nothing else read the files again."""

from __future__ import annotations

import itertools
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from sequencer.calibration.combine import ArrayPixels, default_workers
from sequencer.calibration.fitspixels import FitsPixels
from sequencer.calibration.master import MasterOptions, build_masters
from sequencer.calibration.masterplan import plan_masters
from sequencer.calibration.stack import (
    DEFAULT_MAX_MEMORY,
    GIB,
    available_memory,
    default_max_memory,
    hold_and_measure,
    plan_memory,
)
from sequencer.cli import main
from sequencer.output.header import software_version
from tests.support.masterframes import ShotBook, rig, shoot_set, write_shots

FLATS = 10
DARK_FLATS = 8


@pytest.fixture(scope="module")
def shots() -> ShotBook:
    bench = rig(seed=11)
    return ShotBook(bench, {"R": shoot_set(bench, "R", 2.0, FLATS, DARK_FLATS)})


def write_run(root: Path, shots: ShotBook) -> Path:
    write_shots(root, shots.flats("R"), flat_set="R_2s")
    write_shots(root, shots.darks("R"), flat_set="R_2s")
    return root


@dataclass
class ReadLog:
    """Byte ranges read with os.preadv, per file."""

    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pixel_reads(self, path: Path) -> float:
        """How many times the file's pixel data was read, in whole frames (1.0 = every byte once)."""
        with FitsPixels(path) as pixels:
            rows, cols = pixels.shape
        return sum(stop - start for start, stop in self.ranges[str(path.resolve())]) / (rows * cols * 2)

    def overlaps(self, path: Path) -> bool:
        spans = sorted(self.ranges[str(path.resolve())])
        return any(b[0] < a[1] for a, b in itertools.pairwise(spans))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadLog]:
    log = ReadLog()
    real = os.preadv

    def counting(fd: int, buffers: list[memoryview], offset: int, *flags: int) -> int:
        n = real(fd, buffers, offset, *flags)
        path = os.readlink(f"/proc/self/fd/{fd}")
        with log.lock:
            log.ranges[path].append((offset, offset + n))
        return n

    monkeypatch.setattr(os, "preadv", counting)
    yield log


def rchar() -> int | None:
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return None
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("rchar:")))


def masters(directory: Path) -> dict[str, np.ndarray]:
    return {p.name: fits.getdata(p) for p in sorted(directory.glob("master*.fits"))}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name a descriptor's file")
def test_every_file_is_read_once_by_default(tmp_path: Path, shots: ShotBook, reads: ReadLog) -> None:
    run = write_run(tmp_path / "run", shots)
    plan = plan_masters(run)
    files = [f.path for f in plan.sets[0].flats + plan.sets[0].calibration]
    software_version()  # read once per process from the package metadata (the README in it): not the frames' cost
    before = rchar()
    [result] = build_masters(plan, MasterOptions(output=tmp_path / "m"))
    after = rchar()
    assert result.flats_in_memory == FLATS
    for path in files:
        assert reads.pixel_reads(path) == 1.0, path.name
        assert not reads.overlaps(path), path.name
    if before is not None and after is not None:
        # the process as a whole (headers, anything else) read little more than the files hold, once
        total = sum(p.stat().st_size for p in files)
        assert total <= after - before < 1.1 * total


def test_a_budget_too_small_reads_the_flats_twice_says_so_and_gives_the_same_masters(
    tmp_path: Path, shots: ShotBook, reads: ReadLog, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "run", shots)
    assert main(["master", str(run), "--output", str(tmp_path / "held")]) == 0
    assert "note:" not in capsys.readouterr().err
    reads.ranges.clear()
    assert main(["master", str(run), "--output", str(tmp_path / "short"), "--max-memory", "1M"]) == 0
    err = capsys.readouterr().err
    assert f"note: R_2s: holding its {FLATS} flats in memory needs" in err
    assert f"none held, {FLATS} read twice" in err
    plan = plan_masters(run)
    for frame in plan.sets[0].flats:
        assert reads.pixel_reads(frame.path) == 2.0
    for frame in plan.sets[0].calibration:
        assert reads.pixel_reads(frame.path) == 1.0
    held, short = masters(tmp_path / "held"), masters(tmp_path / "short")
    assert list(held) == ["masterdarkflat_R_2s.fits", "masterflat_R_2s.fits"] == list(short)
    for name in held:
        assert np.array_equal(held[name], short[name]), name


def test_a_budget_for_some_of_the_flats_holds_those(tmp_path: Path, shots: ShotBook, reads: ReadLog) -> None:
    run = write_run(tmp_path / "run", shots)
    plan = plan_masters(run)
    [everything] = build_masters(plan, MasterOptions(output=tmp_path / "held"))
    with FitsPixels(plan.sets[0].flats[0].path) as first:
        memory = plan_memory([first] * FLATS, DEFAULT_MAX_MEMORY, workers=2)
    budget = memory.fixed_bytes + 4 * memory.frame_bytes
    notes: list[str] = []
    reads.ranges.clear()
    options = MasterOptions(output=tmp_path / "some", workers=2, max_memory=budget)
    [some] = build_masters(plan, options, note=notes.append)
    assert some.flats_in_memory == 4
    assert len(notes) == 1 and f"4 of {FLATS} held, {FLATS - 4} read twice" in notes[0]
    assert [reads.pixel_reads(f.path) for f in plan.sets[0].flats] == [1.0] * 4 + [2.0] * (FLATS - 4)
    assert some.medians == everything.medians
    for name, image in masters(tmp_path / "held").items():
        assert np.array_equal(image, masters(tmp_path / "some")[name]), name


def test_thirty_imx455_flats_fit_the_default_budget() -> None:
    frame = np.broadcast_to(np.uint16(0), (6388, 9576))  # the shape and type, no memory
    sources = [ArrayPixels(frame, f"flat_{i:03d}.fits") for i in range(30)]
    memory = plan_memory(sources, DEFAULT_MAX_MEMORY, workers=4)
    assert memory.frame_bytes == 6388 * 9576 * 2
    assert memory.held == 30 and memory.read_twice == 0
    assert 3.4 * GIB < memory.needed < 4.5 * GIB  # 3.4 GiB of flats, the masters, the strips
    tight = plan_memory(sources, 3 * GIB, workers=4)
    assert 0 < tight.held < 30 and tight.peak <= 3 * GIB
    assert plan_memory(sources, 100 << 20, workers=4).held == 0


def test_held_and_unheld_flats_have_numpys_median(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    dark = rng.normal(800.0, 4.0, (600, 50))  # more than 256 rows: the bracketed median, not np.median
    frames = [rng.poisson(20000 + 500 * i, dark.shape).astype(np.uint16) for i in range(4)]
    sources = []
    for i, frame in enumerate(frames):
        path = tmp_path / f"flat_{i}.fits"
        fits.PrimaryHDU(frame).writeto(path)  # BITPIX 16, BZERO 32768
        sources.append(FitsPixels(path).open())
    combined, medians = hold_and_measure(sources, dark, hold=2, workers=2)
    assert medians == [float(np.median(f - dark)) for f in frames]
    assert [type(s).__name__ for s in combined] == ["ArrayPixels", "ArrayPixels", "FitsPixels", "FitsPixels"]
    assert all(np.array_equal(s.read_rows(0, 600), f) for s, f in zip(combined, frames, strict=True))
    for source in sources:
        source.close()


def test_flats_of_different_types_are_held_each_in_its_own(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    frames: list[np.ndarray] = [
        rng.poisson(9000, (300, 40)).astype(np.uint16),
        rng.normal(9000.0, 50.0, (300, 40)).astype(np.float32),
    ]
    sources = []
    for i, frame in enumerate(frames):
        fits.PrimaryHDU(frame).writeto(tmp_path / f"flat_{i}.fits")
        sources.append(FitsPixels(tmp_path / f"flat_{i}.fits"))
    combined, medians = hold_and_measure(sources, None, hold=2, workers=1)
    assert medians == [float(np.median(f.astype(np.float64))) for f in frames]  # in float64, as always
    assert [s.read_rows(0, 300).dtype for s in combined] == [np.uint16, np.float32]
    assert all(np.array_equal(s.read_rows(0, 300), f) for s, f in zip(combined, frames, strict=True))


def test_default_budget_follows_the_available_memory(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8000000 kB\nMemAvailable:   4000000 kB\n")
    assert available_memory(meminfo) == 4_096_000_000
    assert available_memory(tmp_path / "missing") is None
    assert 0 < default_max_memory() <= DEFAULT_MAX_MEMORY
    assert default_workers() >= 1


@pytest.mark.parametrize(("text", "message"), [("lots", "is not a memory size"), ("0", "must be positive")])
def test_a_bad_max_memory_is_refused(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["master", str(tmp_path), "--max-memory", text])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
