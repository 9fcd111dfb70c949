"""YAML text → plain data, remembering where every value came from.

pydantic reports an error as a path of keys and indexes; `Located.where(path)` turns that path back into
`file:line:column`, so every message about a sequence file points at the offending text. A sequence file is
untrusted input: it is read within limits (`sequencer.plan.yamllimits`: 1 MB, no anchors or aliases, 64
levels of nesting), and whatever YAML or Python makes of a scalar is caught, so every refusal is one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drivers.errors import ConfigError, quoted
from sequencer.plan.yamllimits import MAX_FILE_BYTES, YamlLimitError, compose

PathKey = tuple[str | int, ...]


class SequenceFileError(ConfigError):
    """Bad input in a sequence file: the message starts with file:line:column."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        self.file, self.line, self.column, self.detail = file, line, column, message
        super().__init__(f"{file}:{line}:{column}: {message}")


@dataclass
class Located:
    """Parsed data plus the (line, column) of every key path, 1-based as editors show them."""

    file: str
    data: Any
    text: str = ""
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    value_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Sequence[str | int], *, value: bool = False) -> tuple[int, int]:
        """Position of the deepest known prefix of `path` (pydantic paths may go deeper than the YAML):
        its key, or with `value=True` the value itself (where a wrong value should be pointed at)."""
        key = tuple(path)
        while key:
            if value and key in self.value_marks:
                return self.value_marks[key]
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), (1, 1))

    def error(self, path: Sequence[str | int], message: str) -> SequenceFileError:
        line, column = self.where(path)
        return SequenceFileError(self.file, line, column, message)


def load_text(text: str, file: str = "<string>") -> Located:
    """Parse YAML, refusing what YAML allows but a sequence file must not (duplicate keys, no content,
    anchors and aliases, deep nesting)."""
    try:
        node = compose(text)
    except YamlLimitError as exc:
        line, col = _position(exc.problem_mark)
        raise SequenceFileError(file, line, col, str(exc.problem)) from None
    except yaml.MarkedYAMLError as exc:
        line, col = _position(exc.problem_mark or exc.context_mark)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            problem = f"{exc.context} (line {exc.context_mark.line + 1}), {exc.problem}"
        raise SequenceFileError(file, line, col, f"YAML syntax error: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a NUL byte
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - text.rfind("\n", 0, exc.position)
        raise SequenceFileError(file, line, col, f"character {_char(exc.character)} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        raise SequenceFileError(file, 1, 1, f"YAML syntax error: {exc}") from None
    if node is None:
        raise SequenceFileError(file, 1, 1, "the file is empty: expected a sequence (name, equipment, ...)")
    located = Located(file=file, data=None, text=text)
    located.data = _convert(node, (), located)
    return located


def load_file(path: str | Path) -> Located:
    """Read a sequence file: at most `MAX_FILE_BYTES` (plus one, to tell a larger file), never more, so
    `/dev/zero` or a huge file is refused at once instead of filling memory."""
    p = Path(path)
    try:
        with p.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such sequence file") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the sequence file: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SequenceFileError(
            str(p), 1, 1, f"larger than {MAX_FILE_BYTES // 1_000_000} MB: not a sequence file (they are a few kB)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - data.rfind(b"\n", 0, exc.start)
        raise SequenceFileError(str(p), line, col, "not UTF-8 text (save the file as UTF-8)") from None
    return load_text(text, str(p))


def _char(character: object) -> str:
    return f"#x{character:04x}" if isinstance(character, int) else repr(character)


def _position(mark: yaml.Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


def _convert(node: yaml.Node, path: PathKey, out: Located) -> Any:
    out.marks[path] = out.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.MappingNode | yaml.SequenceNode):
                raise out.error(path, "a key must be a plain name")
            key = _scalar(key_node, out, path)
            if key in result:
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                raise SequenceFileError(out.file, line, col, f"{_dotted((*path, key))}: duplicated key")
            result[key] = _convert(value_node, (*path, key), out)
            # A key's own position is more useful than its value's for "unknown key" messages.
            out.marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), out) for i, item in enumerate(node.value)]
    return _scalar(node, out, path)


def _scalar(node: yaml.Node, out: Located, path: PathKey) -> Any:
    constructor = yaml.constructor.SafeConstructor()
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or node.start_mark
        raise SequenceFileError(out.file, mark.line + 1, mark.column + 1, f"YAML: {exc.problem}") from None
    except (ValueError, OverflowError) as exc:  # a date such as 2026-13-45, an integer of 5000 digits
        line, col = _position(node.start_mark)
        kind = str(node.tag).rsplit(":", 1)[-1]
        text = str(node.value)
        why = (
            f"an integer of {len(text)} digits is too large"
            if kind == "int"
            else f"{quoted(text)}: not a valid {kind} ({exc})"
        )
        raise SequenceFileError(out.file, line, col, f"{_dotted(path)}: {why}") from None


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


dotted = _dotted
