"""The FITS writer when the disk says no: the failure names the file, surfaces once, and leaves no temporary
file; a filesystem without hard links still never overwrites."""

from __future__ import annotations

import errno
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from drivers.clock import VirtualClock
from sequencer.core.atomicfile import OutputError
from sequencer.output.writer import FrameWriter
from tests.support.frames import files_in, make_frame, make_header


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def file_size_limit() -> Iterator[int]:
    """A real write failure without root tricks: the kernel refuses writes past RLIMIT_FSIZE (EFBIG),
    exactly as it refuses them on a full disk."""
    limit = 64 * 1024
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old_limit[1]))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def test_write_failure_surfaces_names_the_file_and_leaves_no_temp(
    tmp_path: Path, clock: VirtualClock, file_size_limit: int
) -> None:
    writer = FrameWriter(tmp_path, clock=clock)
    future = writer.submit(make_frame(), make_header(), "Ha_4s/flat_001.fits")  # 137 kB > the limit
    error = future.exception(timeout=10)
    assert isinstance(error, OutputError)
    assert "flat_001.fits" in str(error) and "too large" in str(error).lower()
    with pytest.raises(OutputError, match=r"flat_001\.fits"):  # the next submit refuses the frame
        writer.submit(make_frame(2), make_header(2), "Ha_4s/flat_002.fits")
    writer.flush()  # already reported: flush and close don't raise it again
    writer.close()
    assert files_in(tmp_path) == []  # no frame, no .part


def test_write_failure_is_raised_by_flush_when_no_submit_follows(
    tmp_path: Path, clock: VirtualClock, file_size_limit: int
) -> None:
    writer = FrameWriter(tmp_path, clock=clock)
    writer.submit(make_frame(1, rows=20, cols=20), make_header(1), "small.fits")
    writer.submit(make_frame(2), make_header(2), "big.fits")
    with pytest.raises(OutputError, match=r"big\.fits: write failed"):
        writer.flush()
    writer.close()
    assert files_in(tmp_path) == ["small.fits"]


def test_context_manager_raises_an_unreported_failure_on_exit(
    tmp_path: Path, clock: VirtualClock, file_size_limit: int
) -> None:
    with pytest.raises(OutputError, match=r"big\.fits"), FrameWriter(tmp_path, clock=clock) as writer:
        writer.submit(make_frame(), make_header(), "big.fits")
    assert files_in(tmp_path) == []


def test_a_file_in_the_way_of_a_directory_is_an_output_error(tmp_path: Path, clock: VirtualClock) -> None:
    (tmp_path / "Ha_4s").write_text("not a directory")
    with FrameWriter(tmp_path, clock=clock) as writer:
        future = writer.submit(make_frame(), make_header(), "Ha_4s/flat_001.fits")
        with pytest.raises(OutputError, match="cannot create directory"):
            future.result(10)
        with pytest.raises(OutputError):
            writer.submit(make_frame(), make_header(2), "other.fits")
    assert files_in(tmp_path) == ["Ha_4s"]


def test_bad_frames_and_names_are_refused_at_submit(tmp_path: Path, clock: VirtualClock) -> None:
    with FrameWriter(tmp_path, clock=clock) as writer:
        with pytest.raises(OutputError, match="2-D uint16"):
            writer.submit(np.zeros((4, 4), dtype=np.float32), make_header(), "x.fits")
        with pytest.raises(OutputError, match="2-D uint16"):
            writer.submit(np.zeros((2, 4, 4), dtype=np.uint16), make_header(), "x.fits")
        for name in ("../escape.fits", "/abs/x.fits", "a/../../x.fits"):
            with pytest.raises(OutputError, match="inside"):
                writer.submit(make_frame(), make_header(), name)
        with pytest.raises(OutputError, match="inside"):
            writer.submit(make_frame(), make_header(), tmp_path.parent / "outside.fits")
        writer.submit(make_frame(), make_header(), "fine.fits")  # the writer is not broken by refusals
        writer.submit(make_frame(), make_header(), tmp_path / "sub" / "absolute.fits")  # inside: fine
    assert files_in(tmp_path) == ["fine.fits", "sub/absolute.fits"]


def test_filesystem_without_hard_links_still_never_overwrites(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:  # FAT/exFAT: link(2) is not permitted
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "f.fits").write_text("keep me")
    with FrameWriter(tmp_path, clock=clock) as writer:
        first = writer.submit(make_frame(1), make_header(1), "f.fits").result()
        second = writer.submit(make_frame(2), make_header(2), "f.fits").result()
    assert (first.name, second.name) == ("f_1.fits", "f_2.fits")
    assert (tmp_path / "f.fits").read_text() == "keep me"
    with fits.open(second) as hdul:
        assert np.array_equal(hdul[0].data, make_frame(2))
    assert files_in(tmp_path) == ["f.fits", "f_1.fits", "f_2.fits"]
