"""The run manifest: valid JSON on disk after every change, exactly the frames that exist, even after a crash."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from drivers.base import CameraSettings
from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from sequencer.core.atomicfile import OutputError
from sequencer.output.header import FrameHeader, StatValues
from sequencer.output.keywords import FrameKind
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.records import FrameRecord, TrialRecord
from sequencer.output.writer import FrameWriter

SETTINGS = CameraSettings(gain=100, offset=50, binning=1, readout_mode=0, temperature=-10.0)
URLS = {"camera": "sim://camera?sensor=small", "panel": "sim://panel", "filter_wheel": "sim://filterwheel"}


def on_disk(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def header(set_id: str, kind: FrameKind, n: int, clock: VirtualClock, **changes: object) -> FrameHeader:
    fields: dict[str, object] = {
        "kind": kind,
        "flat_set": set_id,
        "run_id": "R",
        "frame_no": n,
        "exposure": 4.0,
        "settings": SETTINGS,
        "readout_mode_name": "Normal",
        "camera": "Sim",
        "date_obs": clock.now(),
        "ccd_temp": -10.2,
        "filter": "Ha",
        "panel_brightness": 118 if kind is FrameKind.FLAT else None,
        "stats": {"mean": 32100.0, "median": 32090.0, "std": 175.5, "min": 31000, "max": 33000, "sat": 0.0},
    }
    fields.update(changes)
    return FrameHeader(**fields)  # type: ignore[arg-type]


def test_a_whole_run_keeps_the_manifest_valid_and_exact(tmp_path: Path) -> None:
    clock = VirtualClock()
    sequence = tmp_path / "narrowband.yaml"
    sequence.write_text("name: narrowband\n")
    path = tmp_path / MANIFEST_NAME
    manifest = Manifest.create(
        path, run_id="2026-01-01T000000Z", clock=clock, sequence_file=sequence, equipment=URLS, camera="Sim"
    )
    snapshots = [on_disk(path)]
    assert snapshots[0]["status"] == "running" and snapshots[0]["sets"] == [] and snapshots[0]["files"] == []

    def snapshot(_: object) -> None:
        snapshots.append(on_disk(path))

    with FrameWriter(tmp_path, clock=clock, manifest=manifest, on_written=snapshot) as writer:
        manifest.begin_set(
            "Ha_4s",
            filter="Ha",
            exposure=4.0,
            settings=SETTINGS,
            readout_mode_name="Normal",
            flats_planned=2,
            dark_flats_planned=2,
        )
        manifest.record_brightness(
            "Ha_4s", 118, [TrialRecord(128, 36000.0, False), TrialRecord(118, 32100.0, True, 0.0)], panel_max=255
        )
        clock.advance(4)
        writer.submit(np.full((8, 8), 32100, np.uint16), header("Ha_4s", FrameKind.FLAT, 1, clock), "Ha/f1.fits")
        clock.advance(4)
        writer.submit(
            np.full((8, 8), 38000, np.uint16),
            header("Ha_4s", FrameKind.FLAT, 2, clock, rejected=True, reject_reason="mean above window"),
            "Ha/f2.fits",
        )
        writer.submit(np.full((8, 8), 32000, np.uint16), header("Ha_4s", FrameKind.FLAT, 2, clock), "Ha/f3.fits")
        for n in (1, 2):
            clock.advance(4)
            writer.submit(
                np.full((8, 8), 510, np.uint16), header("Ha_4s", FrameKind.DARK_FLAT, n, clock), f"Ha/d{n}.fits"
            )
        writer.flush()
        manifest.end_set("Ha_4s", "ok")
        manifest.begin_set("OIII_1.5s", filter="OIII", exposure=1.5, settings=SETTINGS)
        manifest.end_set("OIII_1.5s", "failed", "too dim at the maximum brightness; try 6 s")
    clock.advance(1)
    manifest.finish("failed", "1 of 2 flat sets failed")

    final = on_disk(path)
    assert [len(s["files"]) for s in snapshots[1:]] == [1, 2, 3, 4, 5]  # one more file each time one landed
    assert final["format"] == "flatseq-manifest" and final["version"] == 1
    assert final["software"].startswith("flatseq")
    assert final["run_id"] == "2026-01-01T000000Z"
    assert final["sequence"] == {
        "path": str(sequence.resolve()),
        "sha256": hashlib.sha256(b"name: narrowband\n").hexdigest(),
    }
    assert final["started"] == "2026-01-01T00:00:00.000Z" and final["finished"] == "2026-01-01T00:00:17.000Z"
    assert (final["status"], final["reason"]) == ("failed", "1 of 2 flat sets failed")
    assert final["equipment"] == URLS and final["camera"] == "Sim"
    ha, oiii = final["sets"]
    assert ha["settings"] == {
        "gain": 100,
        "offset": 50,
        "binning": 1,
        "readout_mode": 0,
        "readout_mode_name": "Normal",
        "set_temp": -10.0,
    }
    assert (ha["brightness"], ha["panel_max"], ha["status"], ha["reason"]) == (118, 255, "ok", None)
    assert ha["trials"] == [
        {"brightness": 128, "mean": 36000.0, "in_window": False, "sat": 0.0},
        {"brightness": 118, "mean": 32100.0, "in_window": True, "sat": 0.0},
    ]
    assert [f["file"] for f in ha["flats"]] == ["Ha/f1.fits", "Ha/f2.fits", "Ha/f3.fits"]
    assert [f["rejected"] for f in ha["flats"]] == [False, True, False]
    assert ha["flats"][1]["reason"] == "mean above window"
    assert ha["flats"][0] == {
        "file": "Ha/f1.fits",
        "frame_no": 1,
        "kind": "flat",
        "rejected": False,
        "reason": None,
        "stats": {"mean": 32100.0, "median": 32090.0, "std": 175.5, "min": 31000, "max": 33000, "sat": 0.0},
        "date_obs": "2026-01-01T00:00:04.000Z",
        "ccd_temp": -10.2,
        "brightness": 118,
        "exposure": 4.0,
        "exposure_requested": None,  # this test's headers state no request and no camera timing
        "exposure_reported": False,
    }
    assert isinstance(ha["flats"][0]["stats"]["min"], int) and isinstance(ha["flats"][0]["stats"]["mean"], float)
    assert [(f["kind"], f["frame_no"], f["brightness"]) for f in ha["dark_flats"]] == [
        ("darkflat", 1, None),
        ("darkflat", 2, None),
    ]
    assert (oiii["status"], oiii["reason"], oiii["flats"]) == (
        "failed",
        "too dim at the maximum brightness; try 6 s",
        [],
    )
    assert sorted(f["file"] for f in final["files"]) == sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.fits")
    )
    assert not list(tmp_path.rglob("*.part"))


def test_a_frame_enters_the_manifest_only_once_its_file_is_whole_on_disk(tmp_path: Path) -> None:
    """At the moment the manifest is told of a frame, its file is complete under its final name and the
    manifest on disk does not list it yet; right after, the manifest on disk lists it. Checked at each frame,
    deterministically (not by killing the process at a lucky instant)."""
    clock = VirtualClock()
    path = tmp_path / MANIFEST_NAME
    manifest = Manifest.create(path, run_id="R", clock=clock)
    manifest.begin_set("Ha", filter="Ha", exposure=4.0, settings=SETTINGS)
    original = manifest.add_written
    seen: list[str] = []

    def checked(written: Path, head: FrameHeader) -> FrameRecord:
        name = written.relative_to(tmp_path).as_posix()
        with fits.open(written) as hdul:  # whole: it opens and its data is all there
            assert hdul[0].data.shape == (20, 30) and int(hdul[0].header["FRAMENO"]) == head.frame_no
        assert name not in [f["file"] for f in on_disk(path)["files"]]
        assert not list(written.parent.glob(".*.part"))  # no temporary file left beside it
        record = original(written, head)
        assert name in [f["file"] for f in on_disk(path)["files"]]
        seen.append(name)
        return record

    manifest.add_written = checked  # type: ignore[method-assign,assignment]
    with FrameWriter(tmp_path, clock=clock, manifest=manifest) as writer:
        for n in range(1, 4):
            frame = np.full((20, 30), 1000 * n, dtype=np.uint16)
            writer.submit(frame, header("Ha", FrameKind.FLAT, n, clock), f"Ha/flat_{n:03d}.fits")
    assert seen == ["Ha/flat_001.fits", "Ha/flat_002.fits", "Ha/flat_003.fits"]


def test_load_gives_typed_records_and_paths(tmp_path: Path) -> None:
    clock = VirtualClock()
    manifest = Manifest.create(tmp_path / MANIFEST_NAME, run_id="R", clock=clock, equipment=URLS)
    manifest.begin_set("Ha_4s", filter="Ha", exposure=4.0, settings=SETTINGS, readout_mode_name="Normal")
    with FrameWriter(tmp_path, clock=clock, manifest=manifest) as writer:
        writer.submit(np.full((4, 4), 100, np.uint16), header("Ha_4s", FrameKind.FLAT, 1, clock), "a.fits")
        writer.submit(
            np.full((4, 4), 100, np.uint16),
            header("Ha_4s", FrameKind.FLAT, 2, clock, rejected=True, reject_reason="saturated"),
            "b.fits",
        )
        writer.submit(np.full((4, 4), 100, np.uint16), header("Ha_4s", FrameKind.DARK_FLAT, 1, clock), "c.fits")
    manifest.end_set("Ha_4s", "ok")
    manifest.finish("finished")

    loaded = Manifest.load(tmp_path / MANIFEST_NAME)
    assert (loaded.run_id, loaded.status, loaded.reason) == ("R", "finished", None)
    assert loaded.sequence_path is None and loaded.equipment == URLS
    record = loaded.get_set("Ha_4s")
    assert record.settings == SETTINGS and record.readout_mode_name == "Normal" and record.status == "ok"
    assert [f.file for f in record.frames(FrameKind.FLAT)] == ["a.fits"]
    assert [f.file for f in record.frames(FrameKind.FLAT, include_rejected=True)] == ["a.fits", "b.fits"]
    dark = record.frames(FrameKind.DARK_FLAT)[0]
    assert isinstance(dark, FrameRecord) and dark.kind is FrameKind.DARK_FLAT
    assert dark.stats == StatValues(32100.0, 32090.0, 175.5, 31000, 33000, 0.0)
    assert loaded.path_of(dark) == tmp_path / "c.fits" and loaded.path_of(dark).is_file()
    assert loaded.to_json() == on_disk(tmp_path / MANIFEST_NAME)
    with pytest.raises(ValueError, match="read-only"):
        loaded.finish("failed")


def test_manifest_misuse(tmp_path: Path) -> None:
    clock = VirtualClock()
    manifest = Manifest.create(tmp_path / MANIFEST_NAME, run_id="R", clock=clock)
    with pytest.raises(OutputError, match="already exists"):
        Manifest.create(tmp_path / MANIFEST_NAME, run_id="R2", clock=clock)
    manifest.begin_set("A", filter=None, exposure=1.0, settings=SETTINGS)
    with pytest.raises(ValueError, match="already in the manifest"):
        manifest.begin_set("A", filter=None, exposure=1.0, settings=SETTINGS)
    with pytest.raises(ValueError, match="never begun"):
        manifest.add_frame("B", FrameRecord("x.fits", 1, FrameKind.FLAT))
    with pytest.raises(ValueError, match="set status"):
        manifest.end_set("A", "great")
    with pytest.raises(ValueError, match="run status"):
        manifest.finish("running")
    assert on_disk(tmp_path / MANIFEST_NAME)["run_id"] == "R"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something else"}', "not a flatseq manifest"),
        ('{"format": "flatseq-manifest", "version": 99}', "manifest version 99"),
        ('{"format": "flatseq-manifest", "version": 1, "sets": [{"id": "x"}]}', "malformed flat set"),
    ],
)
def test_loading_something_else_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        Manifest.load(path)
    assert str(path) in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read"):
        Manifest.load(tmp_path / "missing.json")


CRASHING_RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from drivers.base import CameraSettings
    from drivers.clock import SystemClock
    from sequencer.output.header import FrameHeader
    from sequencer.output.keywords import FrameKind
    from sequencer.output.manifest import Manifest
    from sequencer.output.writer import FrameWriter

    run = Path(sys.argv[1])
    clock = SystemClock()
    settings = CameraSettings(gain=100, offset=50)
    manifest = Manifest.create(run / "manifest.json", run_id="crash", clock=clock)
    manifest.begin_set("L", filter="L", exposure=1.0, settings=settings)
    writer = FrameWriter(run, clock=clock, manifest=manifest)
    for n in range(1, 1000):
        frame = np.full((1500, 2000), n, dtype=np.uint16)  # 6 MB: a write takes a while
        head = FrameHeader(kind=FrameKind.FLAT, flat_set="L", run_id="crash", frame_no=n, exposure=1.0,
                           settings=settings, readout_mode_name="Normal", camera="Sim", date_obs=clock.now())
        writer.submit(frame, head, f"L/flat_{n:03d}.fits")
        print(n, flush=True)
    """
)


@pytest.mark.parametrize("kill_after", [1, 4, 9])
def test_after_a_crash_the_manifest_lists_only_frames_on_disk(tmp_path: Path, kill_after: int) -> None:
    script = tmp_path / "crashing_run.py"
    script.write_text(CRASHING_RUN)
    run = tmp_path / "run"
    run.mkdir()
    with subprocess.Popen([sys.executable, str(script), str(run)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for _ in range(kill_after):
            assert proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)  # no cleanup of any kind: as a power cut would leave it
        proc.wait()
    manifest = Manifest.load(run / "manifest.json")  # still valid JSON
    flats = manifest.get_set("L").flats
    assert len(flats) >= kill_after - 2  # submit n returns only once frame n-2 is written and recorded
    for record in flats:
        with fits.open(manifest.path_of(record)) as hdul:  # every listed file exists, whole
            assert np.all(hdul[0].data == record.frame_no)
            assert hdul[0].header["FRAMENO"] == record.frame_no
    assert [f.frame_no for f in flats] == list(range(1, len(flats) + 1))
    listed = {f.file for f in flats}
    on_disk_frames = {str(p.relative_to(run)) for p in run.rglob("*.fits")}
    assert listed <= on_disk_frames and len(on_disk_frames - listed) <= 1  # at most the one in flight
