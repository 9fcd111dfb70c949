"""examples/ci stays true: its pytest file passes against this flatseq, and every flatseq command of its CI
workflow snippet runs as the workflow runs it (through bash, from the repository's root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ci"


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["FLATSEQ_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_the_example_test_suite_passes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES)],
        cwd=ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def test_the_workflow_snippet_runs_as_written(tmp_path: Path) -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    steps = workflow["jobs"]["sequences"]["steps"]
    commands = [step["run"] for step in steps if "run" in step and step["run"].lstrip().startswith("flatseq")]
    assert len(commands) == 2
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    for command in commands:
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command],
            cwd=work,
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, command + done.stdout + done.stderr
    check = json.loads((work / "check.json").read_text())
    assert check["schema"] == "flatseq.check/1" and check["ok"]
    run = json.loads((work / "run.json").read_text())
    assert run["exit_code"] == 1
    assert [s["status"] for s in run["sets"]] == ["ok", "failed", "ok"]
    assert run["light_off"] is True
