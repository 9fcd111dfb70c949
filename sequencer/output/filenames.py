"""File names from the sequence file's pattern, by default ``{set}/{folder}/{kind}_{filter}_{exposure}s_{n:03d}.fits``.

The default lays each flat set out as stackers read a folder: ``flats/``, ``darkflats/`` and ``rejected/`` (the
frames that do not count, named as any other, so a stacker pointed at ``flats/`` never sees them); `flatseq
master` adds ``masters/``. Siril's ``convert`` turns a folder into one sequence, so flats and dark-flats must not
share one.

Placeholders use Python's format syntax with a format spec allowed (``{n:03d}``, ``{exposure:.2f}``):

========  ====================================================================
set       the flat-set id
kind      ``flat``, ``darkflat`` or ``bias``
folder    ``flats``, ``darkflats`` or ``bias``; ``rejected`` for a frame that does not count
filter    filter name (``none`` without a wheel)
exposure  seconds asked, shortest exact form by default (``4``, ``1.5``, ``0.25``)
n         frame number within its kind in the set, from 1
gain      gain setting
offset    offset setting
binning   binning factor
date      local date of the exposure start, YYYY-MM-DD
time      local time of the exposure start, HHMMSS
run       the run id
========  ====================================================================

A pattern must contain ``{kind}`` and ``{n}`` so a set's flats and dark-flats cannot share names, and may
not leave the run directory (no absolute path, no ``..``). Values are cleaned so a filter called
``Ha/OIII`` cannot create a directory. ``.fits`` is appended when the pattern has no FITS extension.
Every name must fit the filesystem (`MAX_COMPONENT_BYTES` a directory, less the temporary name's extra
bytes for a file), and a format width or precision is at most `MAX_FORMAT_WIDTH` (``{n:0300d}`` is refused
before a 300-character name is built).
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass

from drivers.errors import ConfigError, quoted
from sequencer.core.atomicfile import TEMPORARY_NAME_EXTRA
from sequencer.core.timestamps import local_date, local_time
from sequencer.output.header import FrameHeader
from sequencer.output.keywords import FrameKind

DEFAULT_PATTERN = "{set}/{folder}/{kind}_{filter}_{exposure}s_{n:03d}.fits"

FOLDERS = {FrameKind.FLAT: "flats", FrameKind.DARK_FLAT: "darkflats", FrameKind.BIAS: "bias"}
"""``{folder}`` of a frame that counts, by kind."""
REJECTED_FOLDER = "rejected"
"""``{folder}`` of a frame that does not count (a flat outside the window, a dark-flat that saw light)."""

PLACEHOLDERS = (
    "set", "kind", "folder", "filter", "exposure", "n", "gain", "offset", "binning", "date", "time", "run",
)  # fmt: skip
REQUIRED = ("kind", "n")
FITS_EXTENSIONS = (".fits", ".fit", ".fts")
_UNSAFE = set('/\\:*?"<>|')
MAX_COMPONENT_BYTES = 255
"""The longest file or directory name the usual filesystems (ext4, XFS, APFS, NTFS) take, in bytes."""
MAX_FORMAT_WIDTH = 32
"""The widest format width or precision a placeholder may ask for."""
MAX_PATTERN_LENGTH = 1024
"""A pattern's longest text (a path is at most 4096 bytes, its names 255 each)."""


class Seconds(float):
    """An exposure that prints as ``4`` or ``1.5`` by default and honours ``:.2f`` when asked."""

    def __format__(self, spec: str) -> str:
        if not spec:
            return f"{float(self):.6g}"
        return format(float(self), spec)


@dataclass(frozen=True)
class NameFields:
    """The values the placeholders stand for, for one frame."""

    set: str
    kind: str
    filter: str | None
    exposure: float
    n: int
    gain: int
    offset: int
    binning: int
    date: str
    time: str
    run: str
    folder: str | None = None
    """None: the folder of a frame of `kind` that counts."""

    @classmethod
    def of(cls, header: FrameHeader) -> NameFields:
        """The fields of a frame about to be written, from its header."""
        s = header.settings
        return cls(
            set=header.flat_set,
            kind=header.kind.value,
            filter=header.filter,
            exposure=header.exposure_requested if header.exposure_requested is not None else header.exposure,
            n=header.frame_no,
            gain=s.gain,
            offset=s.offset,
            binning=s.binning,
            date=local_date(header.date_obs),
            time=local_time(header.date_obs),
            run=header.run_id,
            folder=folder_of(header.kind, rejected=header.rejected),
        )

    def values(self) -> dict[str, object]:
        return {
            "set": _clean(self.set),
            "kind": _clean(self.kind),
            "folder": _clean(self.folder if self.folder is not None else _kind_folder(self.kind)),
            "filter": _clean(self.filter if self.filter is not None else "none"),
            "exposure": Seconds(self.exposure),
            "n": int(self.n),
            "gain": int(self.gain),
            "offset": int(self.offset),
            "binning": int(self.binning),
            "date": _clean(self.date),
            "time": _clean(self.time),
            "run": _clean(self.run),
        }


_SAMPLE = NameFields(
    set="Ha_4s", kind="flat", filter="Ha", exposure=4.0, n=1, gain=100, offset=50, binning=1,
    date="2026-11-24", time="031500", run="2026-11-24T031500Z",
)  # fmt: skip


def folder_of(kind: FrameKind, *, rejected: bool) -> str:
    """The ``{folder}`` a frame goes in: its kind's, or ``rejected`` when it does not count."""
    return REJECTED_FOLDER if rejected else FOLDERS.get(kind, kind.value)


def _kind_folder(kind: str) -> str:
    try:
        return folder_of(FrameKind(kind), rejected=False)
    except ValueError:
        return kind


def _clean(value: str) -> str:
    """A value as one safe path component."""
    text = "".join("_" if ch in _UNSAFE or ord(ch) < 32 else ch for ch in value).strip()
    if text.startswith("."):
        text = "_" + text[1:]
    return text or "_"


def _fields(pattern: str) -> list[tuple[str, str, str]]:
    """(literal text, placeholder name, format spec) triples; ConfigError on broken syntax."""
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ConfigError(f"file-name pattern {pattern!r}: {exc}") from exc
    out = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            out.append((literal, "", ""))
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in PLACEHOLDERS:
            what = "positional placeholder" if name == "" or name.isdigit() else "unknown placeholder"
            raise ConfigError(
                f"file-name pattern {pattern!r}: {what} {shown}; use one of "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            )
        if conversion or (spec and "{" in spec):
            raise ConfigError(f"file-name pattern {pattern!r}: {shown} may only carry a plain format spec")
        widths = [int(digits) for digits in re.findall(r"[0-9]+", spec or "")]
        if any(width > MAX_FORMAT_WIDTH for width in widths):
            raise ConfigError(
                f"file-name pattern {pattern!r}: {shown} asks for a width of {max(widths)}; "
                f"at most {MAX_FORMAT_WIDTH} characters"
            )
        out.append((literal, name, spec or ""))
    return out


def _check_path(pattern: str, text: str) -> None:
    if text.startswith(("/", "~")) or (len(text) > 1 and text[1] == ":"):
        raise ConfigError(f"file-name pattern {pattern!r}: must be relative to the run directory")
    if "\\" in text:
        raise ConfigError(f"file-name pattern {pattern!r}: separate directories with '/', not '\\'")
    if has_control_characters(text):
        raise ConfigError(f"file-name pattern {pattern!r}: control characters are not allowed in file names")
    for part in text.split("/"):
        if part in ("", ".", ".."):
            raise ConfigError(
                f"file-name pattern {pattern!r}: {part or 'an empty'!r} path component would leave "
                "or blur the run directory"
            )


def has_control_characters(text: str) -> bool:
    """Whether a path holds a character below space or DEL: legal on Linux, a trap in every shell and viewer."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _check_lengths(pattern: str, text: str) -> None:
    """Every name within what the filesystem takes; the file's own leaves room for its temporary name."""
    parts = text.split("/")
    for i, part in enumerate(parts):
        limit = MAX_COMPONENT_BYTES - (TEMPORARY_NAME_EXTRA if i == len(parts) - 1 else 0)
        size = len(os.fsencode(part))
        if size > limit:
            raise ConfigError(
                f"file-name pattern {pattern!r}: the name {quoted(part)} is {size} bytes; "
                f"the filesystem takes at most {limit} there"
            )


def _expand(pattern: str, fields: NameFields) -> str:
    values = fields.values()
    pieces = []
    for literal, name, spec in _fields(pattern):
        pieces.append(literal)
        if name:
            try:
                pieces.append(_clean(format(values[name], spec)))
            except (ValueError, TypeError, OverflowError) as exc:
                raise ConfigError(f"file-name pattern {pattern!r}: {{{name}:{spec}}}: {exc}") from exc
    text = "".join(pieces)
    _check_path(pattern, text)
    if not text.lower().endswith(FITS_EXTENSIONS):
        text += ".fits"
    _check_lengths(pattern, text)
    return text


def validate_pattern(pattern: str) -> None:
    """Raise ConfigError naming the offending placeholder or path part; for ``flatseq check``."""
    if not pattern.strip():
        raise ConfigError("file-name pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ConfigError(f"file-name pattern is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH}")
    names = {name for _, name, _ in _fields(pattern)}
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise ConfigError(
            f"file-name pattern {pattern!r}: must contain "
            + " and ".join("{" + m + "}" for m in missing)
            + " so that no two frames of a set share a name"
        )
    _expand(pattern, _SAMPLE)


def expand_pattern(pattern: str, fields: NameFields | FrameHeader) -> str:
    """The relative path (``/``-separated) of one frame inside the run directory."""
    validate_pattern(pattern)
    return _expand(pattern, fields if isinstance(fields, NameFields) else NameFields.of(fields))
