"""Reading a run's manifest back: a file anyone may have edited, so every value is checked and anything wrong is
one ConfigError naming the file and the key path (never a KeyError, a TypeError or a NaN carried on).

Schema (``format`` "flatseq-manifest", ``version`` 1); times are ISO-8601 UTC with a trailing ``Z``;
paths are relative to the manifest's directory, ``/``-separated::

    {
      "format": "flatseq-manifest", "version": 1, "software": "flatseq 0.1.0",
      "run_id": "2026-11-24T031500Z",
      "sequence": {"path": "/home/me/narrowband.yaml", "sha256": "<hex>"} | null,
      "started": "…Z", "finished": "…Z" | null,
      "status": "running" | "finished" | "failed" | "interrupted" | "crashed",
                # "running" after a crash, until `flatseq recover` (or --resume) marks it "crashed"
      "reason": str | null,
      "light": "off" | "THE PANEL MAY STILL BE ON",     # at the end of the run
      "light_answer": str | null,                       # what the panel answered when it did not switch off
      "equipment": {"camera": "sim://camera?sensor=small", "panel": "…", "filter_wheel": "…"},
      "camera": "camera name" | null,
      "pattern": "{set}/{folder}/{kind}_{filter}_{exposure}s_{n:03d}.fits",   # the file names' pattern;
                # a resume names its frames with it (absent in manifests from before it was recorded)
      "sets": [{
        "id": "Ha_4s", "filter": "Ha" | null, "exposure": 4.0 | null,   # null: to be found, not found yet
        "settings": {"gain": 100, "offset": 50, "binning": 1, "readout_mode": 0,
                     "readout_mode_name": "Normal" | null, "set_temp": -10.0 | null},   # as asked
        "settings_read": {"gain", "offset", "binning", "readout_mode", "set_temp"} | null, # as read back
        "flats_planned": 30 | null, "dark_flats_planned": 30 | null,
        "brightness": 118 | null, "panel_max": 255 | null,
        "trials": [{"brightness": 128 | null, "mean": 30123.4, "in_window": false, "sat": 0.0,
                    "exposure": 2.35}],    # "exposure" for an exposure search's trials only
        "exposure_search": {"min": 0.1, "max": 60.0, "step": 0.1 | null, "brightness": 255 | null},
                # only for a set whose exposure is found at run time ("exposure": auto)
        "sky": {"site": {"latitude", "longitude", "elevation"}, "when": "dusk" | "dawn",
                "sun_altitude": [-2.0, -10.0], "ladder": [0.5, 0.625, ...], "dark_flats_per_exposure": 10},
                # only for sky flats: "exposure" is null, each frame has its own (a rung of the ladder),
                # "dark_flats_planned" is per exposure used
        "status": "running" | "ok" | "failed" | "skipped", "reason": str | null,
        "started": "…Z", "finished": "…Z" | null,
        "flats": [FRAME], "dark_flats": [FRAME]
      }],
      "files": [{"file": "Ha_4s/flats/flat_Ha_4s_001.fits", "set": "Ha_4s", "kind": "flat",
                 "frame_no": 1, "rejected": false}]
    }

    FRAME = {"file": "Ha_4s/flats/flat_Ha_4s_001.fits", "frame_no": 1, "kind": "flat" | "darkflat" | "bias",
             "rejected": false, "reason": str | null,
             "stats": {"mean", "median", "std", "min", "max", "sat"} | null,
             "date_obs": "…Z" | null, "ccd_temp": -10.1 | null, "brightness": 118 | null,
             "exposure": 4.0 | null,             # seconds, as the camera timed it when it reports it
             "exposure_requested": 4.0 | null, "exposure_reported": true}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from drivers.errors import ConfigError, quoted
from sequencer.core.atomicfile import describe_os_error
from sequencer.core.jsonfields import FieldError, Fields, describe, load_json
from sequencer.output.records import SetRecord

FORMAT = "flatseq-manifest"
VERSION = 1
RUN_STATUSES = ("running", "finished", "failed", "interrupted", "crashed")
MAX_MANIFEST_BYTES = 64_000_000
"""A manifest larger than this is not one (10 000 frames take about 6 MB)."""


def read_manifest(path: Path) -> tuple[dict[str, Any], list[SetRecord]]:
    """The run's fields and its flat sets, each checked; ConfigError naming the file and the key otherwise."""
    try:
        data = load_json(path, MAX_MANIFEST_BYTES)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the manifest: {describe_os_error(exc)}") from exc
    except FieldError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f'{path}: not a flatseq manifest (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ConfigError(f"{path}: manifest version {describe(data.get('version'))}, expected {VERSION}")
    top = Fields(data, "")
    try:
        sets = [SetRecord.from_json(s.data, s.where) for s in top.objects("sets")]
    except FieldError as exc:
        raise ConfigError(f"{path}: malformed flat set in the manifest: {exc}") from None
    try:
        header = _checked_header(top)
    except FieldError as exc:
        raise ConfigError(f"{path}: malformed manifest: {exc}") from None
    _refuse_duplicates(path, sets)
    return header, sets


def _checked_header(f: Fields) -> dict[str, Any]:
    """The manifest's run fields, each of the type the schema gives it."""
    status = f.text("status")
    if status not in RUN_STATUSES:
        raise FieldError(f"status: {quoted(status)} is not one of {', '.join(RUN_STATUSES)}")
    for key in ("run_id", "started"):
        f.text(key)
    for key in ("finished", "reason", "camera", "software", "pattern"):
        f.maybe_text(key)
    sequence = f.maybe_object("sequence")
    if sequence is not None:
        sequence.text("path")
        sequence.maybe_text("sha256")
    equipment = f.maybe_object("equipment")
    if equipment is not None:
        for role in equipment.data:
            equipment.text(role)
    return {k: v for k, v in f.data.items() if k not in ("sets", "files")}


def _refuse_duplicates(path: Path, sets: Sequence[SetRecord]) -> None:
    """One file is one frame: a flat listed three times must not be combined as three flats."""
    seen: dict[PurePosixPath, str] = {}
    for record in sets:
        for frame in record.flats + record.dark_flats:
            where, name = f"set {record.id}", PurePosixPath(frame.file)  # ./a.fits and a.fits are one file
            if name in seen:
                raise ConfigError(
                    f"{path}: {frame.file!r} is listed twice in the manifest ({seen[name]} and {where}); "
                    "one file is one frame"
                )
            seen[name] = where
