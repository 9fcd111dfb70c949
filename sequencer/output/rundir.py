"""Where a run writes: the output directory from the sequence file, then one fresh directory per run.

The sequence file's ``output.directory`` may start with ``~`` and contain ``{date}`` (the local date when
the run starts, YYYY-MM-DD, so a night's flats land in that night's folder even after midnight). Inside
it, each run gets a directory named by its run id (``2026-11-24T031500Z``), created exclusively: a second
run started in the same second (or every dry run on the virtual clock, which always starts at the same
instant) gets ``…Z-2``, ``…Z-3``, and so two runs never share a manifest or a file.

The output directory is made absolute once, when the run starts (`expand_output_directory`): every path
the run writes is built from that one absolute directory, so a relative ``--output .`` cannot be joined
twice (``RUN/RUN/…``) nor follow a change of working directory.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path

from drivers.clock import Clock
from drivers.errors import ConfigError, quoted
from sequencer.core.atomicfile import OutputError, describe_os_error, fsync_directory
from sequencer.core.timestamps import local_date, run_id_at
from sequencer.output.filenames import MAX_COMPONENT_BYTES, has_control_characters

DIRECTORY_PLACEHOLDERS = ("date",)
MAX_RUNS_PER_ID = 9999
_SAMPLE_DATE = "2026-11-24"


def validate_output_directory(template: str) -> None:
    """ConfigError naming any placeholder other than ``{date}``; for ``flatseq check``."""
    if not str(template).strip():
        raise ConfigError("output directory is empty")
    try:
        parsed = list(string.Formatter().parse(str(template)))
    except ValueError as exc:
        raise ConfigError(f"output directory {template!r}: {exc}") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in DIRECTORY_PLACEHOLDERS or spec or conversion:
            raise ConfigError(
                f"output directory {template!r}: placeholder {{{name}}} is not allowed here; "
                "only {date} (the local date the run starts)"
            )
    if has_control_characters(str(template)):
        raise ConfigError(f"output directory {template!r}: control characters are not allowed in a path")
    for part in Path(str(template).format(date=_SAMPLE_DATE)).expanduser().parts:
        size = len(os.fsencode(part))
        if size > MAX_COMPONENT_BYTES:
            raise ConfigError(
                f"output directory {quoted(str(template), 60)}: the name {quoted(part)} is {size} bytes; "
                f"the filesystem takes at most {MAX_COMPONENT_BYTES}"
            )


def expand_output_directory(template: str | Path, *, at: float) -> Path:
    """The output directory for a run starting at clock time `at`: ``~`` and ``{date}`` expanded, made
    absolute (relative to the working directory now)."""
    text = str(template)
    validate_output_directory(text)
    return Path(os.path.abspath(Path(text.format(date=local_date(at))).expanduser()))


@dataclass(frozen=True)
class RunDirectory:
    """A run's own directory and id; `started` is the clock time the id was taken from."""

    path: Path
    run_id: str
    started: float


def create_run_directory(template: str | Path, *, clock: Clock) -> RunDirectory:
    """Create the output directory if needed and a new, empty directory for this run inside it."""
    started = clock.now()
    return make_run_directory(expand_output_directory(template, at=started), started=started)


def make_run_directory(parent: Path, *, started: float) -> RunDirectory:
    """A new, empty directory for a run started at clock time `started`, inside the output directory
    `parent` (already expanded and absolute; created if needed)."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{parent}: cannot create the output directory: {describe_os_error(exc)}") from exc
    base = run_id_at(started)
    for n in range(1, MAX_RUNS_PER_ID + 1):
        run_id = base if n == 1 else f"{base}-{n}"
        path = parent / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot create the run directory: {describe_os_error(exc)}") from exc
        fsync_directory(parent)
        return RunDirectory(path=path, run_id=run_id, started=started)
    raise OutputError(f"{parent}: {MAX_RUNS_PER_ID} runs named {base} already exist")
