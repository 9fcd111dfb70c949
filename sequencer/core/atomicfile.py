"""Files that appear whole or not at all, and never replace a frame already on disk.

A frame is written to a hidden temporary file next to its final name (``.NAME.XXXXXXXX.part``),
flushed and fsynced, then hard-linked to the final name and the temporary name removed; the directory
is fsynced so the new name survives a power cut. ``os.link`` refuses an existing target atomically, so
two writers (two runs, two processes) can never overwrite each other's frames: the loser takes the next
free name (``NAME_1.fits``, ``NAME_2.fits`` …). On a filesystem without hard links (FAT/exFAT on a USB
stick, some network shares) the final name is first reserved with ``O_CREAT | O_EXCL`` and the temporary
file renamed over that reservation; a crash at that instant leaves an empty file, never a torn frame.

The manifest is the other kind of file: it is meant to be replaced, so ``replace_file`` writes a
temporary file and ``os.replace``s it over the old one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from drivers.errors import FlatseqError

MAX_SUFFIX = 9999
"""How many ``_N`` names `write_new_file` tries before giving up."""
TEMPORARY_NAME_EXTRA = len(".") + len(".") + 8 + len(".part")
"""Bytes a temporary name (``.NAME.XXXXXXXX.part``) adds to its file's name: a name that the filesystem
takes must leave room for them."""

_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}

Chunk = bytes | bytearray | memoryview


class OutputError(FlatseqError):
    """A frame, the manifest or the journal could not be written (disk full, permission, path in the way)."""


def describe_os_error(exc: OSError) -> str:
    """'No space left on device' rather than '[Errno 28] No space left on device: ...'."""
    return exc.strerror or str(exc)


def fsync_directory(directory: Path) -> None:
    """Make a new or removed name in `directory` durable. Silently skipped where directories can't be
    opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, chunk: Chunk) -> None:
    view = memoryview(chunk).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_temporary(target: Path) -> tuple[int, Path]:
    """A fresh hidden file next to `target`, opened exclusively for writing."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            return os.open(temp, flags, 0o644), temp
        except FileExistsError:
            continue


def _candidate(target: Path, n: int) -> Path:
    return target if n == 0 else target.with_name(f"{target.stem}_{n}{target.suffix}")


def _publish(temp: Path, target: Path) -> Path:
    """Give `temp` the first free name among target, target_1, … without ever replacing a file."""
    for n in range(MAX_SUFFIX + 1):
        candidate = _candidate(target, n)
        try:
            os.link(temp, candidate)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            try:  # no hard links here: reserve the name exclusively, then rename over the reservation
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue
            os.replace(temp, candidate)
            return candidate
        with contextlib.suppress(OSError):  # the frame is safe under its name; a leftover can't be helped
            os.unlink(temp)
        return candidate
    raise OutputError(f"{target}: {MAX_SUFFIX} files with this name already exist; not overwriting any")


def write_new_file(target: Path, chunks: Iterable[Chunk]) -> Path:
    """Write `chunks` durably to `target`, or to the next free ``_N`` name if `target` exists.

    Returns the path actually written. Raises `OutputError` naming the file on any failure, and leaves
    no temporary file behind. Missing parent directories are created.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{target}: cannot create directory {target.parent}: {describe_os_error(exc)}") from exc
    try:
        fd, temp = _open_temporary(target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot create a file in {target.parent}: {describe_os_error(exc)}") from exc
    final: Path | None = None
    try:
        try:
            for chunk in chunks:
                _write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        final = _publish(temp, target)
    except OSError as exc:
        raise OutputError(f"{target}: write failed: {describe_os_error(exc)}") from exc
    finally:
        if final is None:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    fsync_directory(target.parent)
    return final


def replace_file(target: Path, data: bytes) -> None:
    """Replace `target` with `data` atomically: readers see the old content or the new, never a mix."""
    try:
        fd, temp = _open_temporary(target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot create a file in {target.parent}: {describe_os_error(exc)}") from exc
    done = False
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
        done = True
    except OSError as exc:
        raise OutputError(f"{target}: write failed: {describe_os_error(exc)}") from exc
    finally:
        if not done:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    fsync_directory(target.parent)
