"""YAML composed within limits, so no sequence file can make flatseq run out of memory, time or stack.

A sequence file is a few kilobytes of plain mappings, lists and scalars. YAML allows much more, and three
of its features are weapons against a program that reads files it is given:

- **Aliases** (`*name`) re-use an anchored node (`&name`): nine lines of nested aliases ("billion laughs")
  expand to 10⁹ values, and `name: &x [*x]` is a list that contains itself. Anchors and aliases are refused
  outright, at the first one, rather than allowed within an expansion budget: a sequence file has no use
  for them (the compact form already shares camera, brightness and settle defaults between flat sets), an
  aliased value would make every error inside it point at the anchor instead of where it is used, and a
  refusal needs no budget to tune. Merge keys (`<<: *defaults`) go with them.
- **Nesting**: composing is recursive (in PyYAML and in flatseq's own conversion), so a few hundred `[`
  exhaust Python's stack. Nesting deeper than `MAX_DEPTH` (a sequence file needs 4 levels) is refused
  before the stack is at risk.
- **Size**: at most `MAX_NODES` values (a 100-set sequence has about a thousand), so a file within the size
  limit (`MAX_FILE_BYTES`, enforced by the loader when it reads) is still refused at once, never parsed
  for long.

The limits are checked on the parser's event stream, before a single node is composed; only a stream
within them is then composed into nodes. Both passes use libyaml's parser when PyYAML has it (60 times
faster than the pure-Python one: a 1 MB file in about 20 ms), else PyYAML's own.
Each refusal is a `YamlLimitError`: a `yaml.MarkedYAMLError` that points at the offending text.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_FILE_BYTES = 1_000_000
"""A sequence file larger than 1 MB is refused unread (the loader reads at most this plus one byte)."""
MAX_DEPTH = 64
"""Nested mappings and lists, at most."""
MAX_NODES = 5_000
"""Values (mappings, lists, scalars) in one file, at most."""

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(yaml.MarkedYAMLError):
    """A limit of this module exceeded; `problem` says which, `problem_mark` where."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def compose(text: str) -> yaml.Node | None:
    """The single document in `text` as a node tree (None if empty), once its events are within the limits.
    YAML errors propagate as PyYAML's own."""
    check_limits(text)
    loader = _LOADER(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def check_limits(text: str) -> None:
    """Refuse anchors, aliases, nesting deeper than `MAX_DEPTH` and more than `MAX_NODES` values."""
    loader = _LOADER(text)
    depth = nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            _refuse_anchor(event)
            nodes += 1
            if nodes > MAX_NODES:
                raise YamlLimitError(f"more than {MAX_NODES} values: too many for a sequence file", event.start_mark)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlLimitError(f"lists and mappings nested deeper than {MAX_DEPTH} levels", event.start_mark)
    finally:
        loader.dispose()


def _refuse_anchor(event: yaml.NodeEvent) -> None:
    if isinstance(event, yaml.AliasEvent):
        raise YamlLimitError(
            f"alias *{event.anchor} is not allowed in a sequence file (anchors and aliases are refused; "
            "write the value out)",
            event.start_mark,
        )
    if event.anchor is not None:
        raise YamlLimitError(
            f"anchor &{event.anchor} is not allowed in a sequence file (anchors and aliases are refused; "
            "write the value out)",
            event.start_mark,
        )
