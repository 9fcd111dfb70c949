"""What every refusal of bad input looks like on the command line: exactly one line on stderr, no traceback."""

from __future__ import annotations

from typing import Protocol


class Captured(Protocol):
    """What `capsys.readouterr()` gives."""

    @property
    def out(self) -> str: ...

    @property
    def err(self) -> str: ...


def one_error_line(captured: Captured) -> str:
    """The one line a refusal printed on stderr, after asserting it is one line and there is no traceback."""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]
