"""`flatseq --version`, and one table of exit codes: `--help` and the README show `sequencer.core.exits`."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from sequencer.cli import main
from sequencer.core.exits import MEANINGS, ExitStatus, exit_code_markdown


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"flatseq {version('flatseq')}"


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    table = text[text.index("exit codes:") :]
    codes = [int(line.split()[0]) for line in table.splitlines()[1:] if line[:7].strip()]
    assert codes == [int(s) for s in ExitStatus]
    assert set(MEANINGS) == set(ExitStatus)


def test_the_readme_shows_the_same_table() -> None:
    assert exit_code_markdown() in Path("README.md").read_text()
