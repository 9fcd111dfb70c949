"""The sequence file's `output` section, checked as the run would use it, before anything is written.

A run builds every frame's name from `output.pattern` and writes inside `output.directory`; a name the
filesystem refuses (a 300-byte file name, a 300-digit `{n:0300d}`) or a placeholder it does not know would
only show once frames are being taken. So `flatseq check` (and the run, before it opens a device) expands
the pattern for every flat set with its own values, the widest frame number and the longest run id, and
the directory with a sample date: what passes here cannot be refused for its name later.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from drivers.errors import ConfigError
from sequencer.output.filenames import NameFields, expand_pattern, folder_of, validate_pattern
from sequencer.output.keywords import FrameKind
from sequencer.output.rundir import MAX_RUNS_PER_ID, expand_output_directory
from sequencer.plan.loader import Located, SequenceFileError
from sequencer.plan.model import FlatSet
from sequencer.plan.schema import OutputModel

PATH_MAX = 4096
"""The longest path Linux takes, in bytes (the terminating NUL included)."""
WIDEST_FRAME_NUMBER = 999_999
"""Frame numbers go past a set's count when flats are rejected; six digits cover any count (≤ 10000)."""
_SAMPLE_DATE, _SAMPLE_TIME = "2026-11-24", "031500"
_LONGEST_RUN_ID = f"2026-11-24T031500Z-{MAX_RUNS_PER_ID}"


def check_output(located: Located, output: OutputModel, sets: Iterable[FlatSet]) -> None:
    """Refuse, as `file:line:column: output.<field>: …`, a directory or pattern the run would refuse."""
    try:
        directory = expand_output_directory(output.directory, at=0.0)  # any date: all are 10 characters
    except ConfigError as exc:
        raise _error(located, "directory", exc) from None
    try:
        validate_pattern(output.pattern)
    except ConfigError as exc:
        raise _error(located, "pattern", exc) from None
    longest = 0
    for fs in sets:
        try:
            for fields in _widest_names(fs):
                longest = max(longest, len(os.fsencode(expand_pattern(output.pattern, fields))))
        except ConfigError as exc:  # this set's own values (its filter's name) make a name the disk refuses
            raise SequenceFileError(located.file, fs.line, fs.column, f"output.pattern: {exc}") from None
    size = len(os.fsencode(directory)) + 1 + len(_LONGEST_RUN_ID) + 1 + longest
    if size >= PATH_MAX:
        raise _error(
            located,
            "directory",
            ConfigError(f"the frames' paths would be {size} bytes long; the filesystem takes at most {PATH_MAX - 1}"),
        )


def widest_exposure(fs: FlatSet) -> float:
    """The exposure whose `{exposure}` prints longest among those the set may take: its own, or for one found
    at run time an exposure of the range with six significant digits (the most a name shows)."""
    if fs.exposure is not None:
        return fs.exposure
    assert fs.auto is not None
    return max((fs.auto.max * 0.987654, fs.auto.min * 1.23456, fs.auto.min, fs.auto.max), key=lambda s: len(f"{s:.6g}"))


def _widest_names(fs: FlatSet) -> Iterator[NameFields]:
    """The fields of a set's flats and dark-flats, counted or rejected, with the widest frame number and the
    longest run id."""
    exposure = widest_exposure(fs)
    for kind, rejected in ((k, r) for k in (FrameKind.FLAT, FrameKind.DARK_FLAT) for r in (False, True)):
        yield NameFields(
            set=fs.id,
            kind=kind.value,
            filter=fs.filter,
            exposure=exposure,
            n=WIDEST_FRAME_NUMBER,
            gain=fs.gain,
            offset=fs.offset,
            binning=fs.binning,
            date=_SAMPLE_DATE,
            time=_SAMPLE_TIME,
            run=_LONGEST_RUN_ID,
            folder=folder_of(kind, rejected=rejected),
        )


def _error(located: Located, name: str, exc: ConfigError) -> SequenceFileError:
    line, column = located.where(("output", name), value=True)
    return SequenceFileError(located.file, line, column, f"output.{name}: {exc}")
