"""YAML text → plain data, remembering where every value came from.

pydantic reports an error as a path of keys and indexes; `Located.where(path)` turns that path back into
`file:line:column`, so every message about a sequence file points at the offending text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drivers.errors import ConfigError

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
    """Parse YAML, refusing what YAML allows but a sequence file must not (duplicate keys, no content)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            problem = f"{exc.context} (line {exc.context_mark.line + 1}), {exc.problem}"
        raise SequenceFileError(file, line, col, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise SequenceFileError(file, 1, 1, f"YAML syntax error: {exc}") from None
    if node is None:
        raise SequenceFileError(file, 1, 1, "the file is empty: expected a sequence (name, equipment, ...)")
    located = Located(file=file, data=None, text=text)
    located.data = _convert(node, (), located)
    return located


def load_file(path: str | Path) -> Located:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such sequence file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the sequence file: {exc}") from None
    return load_text(text, str(p))


def _convert(node: yaml.Node, path: PathKey, out: Located) -> Any:
    out.marks[path] = out.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.MappingNode | yaml.SequenceNode):
                raise out.error(path, "a key must be a plain name")
            key = _scalar(key_node, out)
            if key in result:
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                raise SequenceFileError(out.file, line, col, f"{_dotted((*path, key))}: duplicated key")
            result[key] = _convert(value_node, (*path, key), out)
            # A key's own position is more useful than its value's for "unknown key" messages.
            out.marks[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), out) for i, item in enumerate(node.value)]
    return _scalar(node, out)


def _scalar(node: yaml.Node, out: Located) -> Any:
    constructor = yaml.SafeLoader(" ")
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or node.start_mark
        raise SequenceFileError(out.file, mark.line + 1, mark.column + 1, f"YAML: {exc.problem}") from None


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


dotted = _dotted
