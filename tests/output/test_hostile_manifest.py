"""A manifest anyone may have edited: every wrong value is one ConfigError naming the file and the key path
(never a KeyError, a TypeError or a NaN carried on), frames must lie inside the run directory, and a file
may be listed once."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import ConfigError
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from tests.support.runs import dry_run_directory

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((dry_run_directory(tmp_path_factory.mktemp("run")) / MANIFEST_NAME).read_text())
    assert len(data["sets"][0]["flats"]) >= 3 and data["sets"][0]["dark_flats"]
    return data


def flat(n: int, **changes: object) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["sets"][0]["flats"][n].update(changes)

    return edit


def set_field(**changes: object) -> Edit:
    return lambda data: data["sets"][0].update(changes)


def drop(*path: str | int) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return edit


def same_file_twice(prefix: str = "") -> Edit:
    def edit(data: dict[str, Any]) -> None:
        flats = data["sets"][0]["flats"]
        flats[2]["file"] = prefix + flats[0]["file"]

    return edit


DEEP = json.loads("[" * 500 + "]" * 500)  # nests deeper than json.loads takes once written inside a frame
CASES: list[tuple[str, Edit, str]] = [
    ("stats-a-string", flat(0, stats="fast"), 'sets[0].flats[0].stats: expected an object, got "fast"'),
    ("stats-mean-nan", flat(0, stats={"mean": float("nan")}), "sets[0].flats[0].stats.mean: expected a finite"),
    ("stats-missing-key", drop("sets", 0, "flats", 1, "stats", "median"), "sets[0].flats[1].stats.median: missing"),
    ("no-settings", drop("sets", 0, "settings"), "sets[0].settings: missing"),
    ("gain-a-string", lambda d: d["sets"][0]["settings"].update(gain="100"), "settings.gain: expected a whole"),
    ("exposure-a-string", set_field(exposure="4s"), 'sets[0].exposure: expected a finite number, got "4s"'),
    ("exposure-infinite", set_field(exposure=float("inf")), "sets[0].exposure: expected a finite number, got inf"),
    ("frame-no-a-float", flat(0, frame_no=1.5), "sets[0].flats[0].frame_no: expected a whole number, got 1.5"),
    ("kind-unknown", flat(0, kind="light"), "sets[0].flats[0].kind: 'light' is not a frame kind"),
    ("rejected-a-string", flat(0, rejected="no"), 'sets[0].flats[0].rejected: expected true or false, got "no"'),
    ("status-unknown", set_field(status="great"), "sets[0].status: 'great' is not one of running, ok"),
    ("ccd-temp-nan", flat(0, ccd_temp=float("nan")), "sets[0].flats[0].ccd_temp: expected a finite number"),
    ("passwd", flat(0, file="../../../../etc/passwd"), "'../../../../etc/passwd' is not a path inside the run"),
    ("absolute", flat(0, file="/etc/passwd"), "sets[0].flats[0].file: '/etc/passwd' is not a path inside"),
    (
        "listed-twice",
        same_file_twice(),
        "is listed twice in the manifest (set 01-Ha-2s and set 01-Ha-2s); one file is one frame",
    ),
    ("listed-twice-as-dot-slash", same_file_twice("./"), "is listed twice in the manifest"),
    ("sets-an-object", lambda d: d.update(sets={"a": 1}), "sets: expected a list, got an object"),
    ("no-run-id", drop("run_id"), "malformed manifest: run_id: missing"),
    ("equipment-a-number", lambda d: d["equipment"].update(camera=3), "malformed manifest: equipment.camera"),
    (
        "run-status-unknown",
        lambda d: d.update(status="great"),
        "status: 'great' is not one of running, finished, failed, interrupted, crashed",
    ),
    *(
        (
            f"{key}-a-number",
            lambda d, key=key: d.update({key: 5}),
            f"malformed manifest: {key}: expected a string, got 5",
        )
        for key in ("finished", "reason", "camera", "software", "pattern")
    ),
    (
        "sequence-a-string",
        lambda d: d.update(sequence="x"),
        'malformed manifest: sequence: expected an object, got "x"',
    ),
    (
        "sha256-a-number",
        lambda d: d["sequence"].update(sha256=5),
        "malformed manifest: sequence.sha256: expected a string, got 5",
    ),
    ("nested-too-deeply", flat(0, reason=DEEP), "not valid JSON (nested too deeply)"),
]


@pytest.mark.parametrize(("name", "edit", "needle"), CASES, ids=[c[0] for c in CASES])
def test_a_damaged_manifest_is_one_config_error_naming_the_key(
    tmp_path: Path, pristine: dict[str, Any], name: str, edit: Edit, needle: str
) -> None:
    data = copy.deepcopy(pristine)
    edit(data)
    path = tmp_path / MANIFEST_NAME
    text = json.dumps(data)
    if name == "nested-too-deeply":
        text = text.replace("[" * 500, "[" * 200_000).replace("]" * 500, "]" * 200_000)
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        Manifest.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert needle in message, message


def test_the_pristine_manifest_loads(tmp_path: Path, pristine: dict[str, Any]) -> None:
    path = tmp_path / MANIFEST_NAME
    path.write_text(json.dumps(pristine))
    manifest = Manifest.load(path)
    assert [len(s.flats) for s in manifest.sets] == [len(s["flats"]) for s in pristine["sets"]]


def test_a_manifest_larger_than_64_mb_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    with open(path, "wb") as handle:
        handle.truncate(64_000_001)  # sparse: no disk used
    with pytest.raises(ConfigError, match="larger than 64000000 bytes"):
        Manifest.load(path)
