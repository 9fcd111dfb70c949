"""The output side of a run: frames become FITS files on a background thread while the next exposure runs.

`FrameWriter.submit` hands a frame over and returns at once; one writer thread writes frames in the
order they were submitted, each atomically and never over an existing file (see `sequencer.core.atomicfile`),
then records it in the manifest and the journal. At most `max_pending` frames (default 2: 245 MB of
IMX455 data) are held at a time; `submit` blocks beyond that, so a slow disk slows the run down instead of
filling memory. A failed write is reported to the caller: its `Future` holds the `OutputError`, and the
next `submit` (which then refuses the frame) or `flush`/`close` raises it.

The caller must not modify a frame after submitting it (the writer reads it later, without a copy).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from queue import SimpleQueue
from types import TracebackType
from typing import Any, TypeAlias

from astropy.io import fits

from drivers.base import Frame
from drivers.clock import Clock
from sequencer.core.atomicfile import OutputError
from sequencer.output.fitsio import check_frame, write_fits
from sequencer.output.header import FrameHeader
from sequencer.output.journal import Journal
from sequencer.output.manifest import Manifest

HeaderInput: TypeAlias = FrameHeader | fits.Header | Mapping[str, object]


@dataclass(frozen=True)
class WrittenFrame:
    """A frame that is now on disk. `started`/`finished` are clock times around the write."""

    path: Path
    name: str
    header: FrameHeader | None
    nbytes: int
    started: float
    finished: float


@dataclass
class _Job:
    frame: Frame | None
    header: HeaderInput
    target: Path
    name: str
    future: Future[Path]


class FrameWriter:
    """Writes frames as FITS files under `directory` on one background thread, in submission order.

    With a `manifest`, every frame (which must then come with a `FrameHeader`) is added to it right after
    its file lands; with a `journal`, a ``frame_written`` event is logged; `on_written` is called last.
    All three run on the writer thread.
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: Clock,
        max_pending: int = 2,
        manifest: Manifest | None = None,
        journal: Journal | None = None,
        on_written: Callable[[WrittenFrame], object] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.directory = Path(directory)
        self._clock = clock
        self._manifest = manifest
        self._journal = journal
        self._on_written = on_written
        self._slots = threading.Semaphore(max_pending)
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._idle = threading.Condition()
        self._pending = 0
        self._failure: OutputError | None = None
        self._reported = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="flatseq-fits-writer", daemon=True)
        self._thread.start()

    # ---- the caller's side ----------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Frames submitted and not yet written (or failed)."""
        with self._idle:
            return self._pending

    def submit(self, frame: Frame, header: HeaderInput, name: str | os.PathLike[str]) -> Future[Path]:
        """Queue `frame` to be written as `name` (relative to the directory, or an absolute path inside it).

        Returns at once unless `max_pending` frames are already waiting. The future's result is the path
        actually written (``NAME_1.fits`` … if the name was taken).
        """
        with self._idle:
            if self._closed:
                raise OutputError(f"{self.directory}: the FITS writer is closed")
            if self._failure is not None:
                self._reported = True
                raise OutputError(f"{self._failure} (no further frames are written)")
        check_frame(frame)
        if self._manifest is not None and not isinstance(header, FrameHeader):
            raise TypeError("a FrameWriter with a manifest needs a FrameHeader for every frame")
        target = self._target(name)
        self._slots.acquire()
        future: Future[Path] = Future()
        with self._idle:
            self._pending += 1
        self._jobs.put(_Job(frame, header, target, str(name), future))
        return future

    def flush(self) -> None:
        """Wait until everything submitted is on disk; raise a failure not yet reported."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0)
            self._raise_unreported()

    def close(self) -> None:
        """Write what is queued, stop the thread; raise a failure not yet reported."""
        with self._idle:
            if self._closed:
                return
            self._idle.wait_for(lambda: self._pending == 0)
            self._closed = True
        self._jobs.put(None)
        self._thread.join()
        with self._idle:
            self._raise_unreported()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
            return
        with contextlib.suppress(OutputError):  # already failing: finish the writes, keep that error
            self.close()

    def _target(self, name: str | os.PathLike[str]) -> Path:
        """`name` relative to the directory, or an absolute path inside it; never a way out of it."""
        text = os.fspath(name)
        if os.path.isabs(text):
            text = os.path.relpath(os.path.abspath(text), os.path.abspath(self.directory))
        relative = PurePosixPath(text.replace(os.sep, "/"))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts or relative.parts == (".",):
            raise OutputError(f"{name}: a frame's name must be a path inside {self.directory}")
        return self.directory.joinpath(*relative.parts)

    def _raise_unreported(self) -> None:
        if self._failure is not None and not self._reported:
            self._reported = True
            raise OutputError(str(self._failure))

    # ---- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if job.future.set_running_or_notify_cancel():
                    self._write(job)
            except BaseException as exc:  # never let the thread die with a future left hanging
                if not job.future.done():
                    self._fail(job, OutputError(f"{job.target}: {exc!r}"))
            finally:
                job.frame = None  # let a 122 MB frame go as soon as it is written
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
                self._slots.release()

    def _write(self, job: _Job) -> None:
        assert job.frame is not None
        started = self._clock.now()
        try:
            path = write_fits(job.target, job.frame, job.header)
        except Exception as exc:
            self._fail(job, exc if isinstance(exc, OutputError) else OutputError(f"{job.target}: {exc}"))
            return
        frame_header = job.header if isinstance(job.header, FrameHeader) else None
        try:
            written = WrittenFrame(
                path=path,
                name=job.name,
                header=frame_header,
                nbytes=path.stat().st_size,
                started=started,
                finished=self._clock.now(),
            )
            if self._manifest is not None and frame_header is not None:
                self._manifest.add_written(path, frame_header)
            if self._journal is not None:
                details: dict[str, Any] = {}
                if frame_header is not None:
                    details = {"set": frame_header.flat_set, "kind": frame_header.kind, "n": frame_header.frame_no}
                self._journal.log(
                    "frame_written",
                    file=os.path.relpath(path, self._journal.path.parent),
                    bytes=written.nbytes,
                    seconds=round(written.finished - written.started, 6),
                    **details,
                )
            if self._on_written is not None:
                self._on_written(written)
        except Exception as exc:
            self._fail(job, OutputError(f"{path}: written, but recording it failed: {exc}"))
            return
        job.future.set_result(path)

    def _fail(self, job: _Job, error: OutputError) -> None:
        with self._idle:
            if self._failure is None:
                self._failure = error
        job.future.set_exception(error)
