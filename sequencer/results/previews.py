"""A set's preview from what is known of it: its masters (just made, or found on disk), one raw flat and one
raw dark-flat for the histograms, and what the run's manifest says (rejected frames and why, the brightness
the search found and how many trials it took)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sequencer.calibration.frames import FrameError
from sequencer.calibration.master import MasterResult
from sequencer.calibration.masterfiles import find_masters, read_image
from sequencer.calibration.masterplan import MasterPlan, SetPlan
from sequencer.output.manifest import MANIFEST_NAME, Manifest
from sequencer.output.records import SetRecord
from sequencer.results.preview import PreviewInput, write_preview


def manifest_sets(run_dir: Path) -> dict[str, SetRecord]:
    """The run's sets by id, from its manifest (none for a plain folder of frames)."""
    path = Path(run_dir) / MANIFEST_NAME
    return {s.id: s for s in Manifest.load(path).sets} if path.is_file() else {}


def _first_image(paths: list[Path]) -> tuple[npt.NDArray[np.generic] | None, str]:
    for path in paths:
        try:
            return read_image(path), path.name
        except FrameError:
            continue
    return None, ""


def preview_input(
    plan: SetPlan,
    flat: npt.NDArray[np.floating],
    calibration: npt.NDArray[np.floating],
    *,
    record: SetRecord | None = None,
    flat_level: float | None = None,
) -> PreviewInput:
    """What the preview of one set shows: `flat` and `calibration` are its masters' pixels."""
    raw_flat, flat_name = _first_image([f.path for f in plan.flats])
    raw_dark, dark_name = _first_image([f.path for f in plan.calibration])
    if record is not None:
        rejected = [
            f"{Path(r.file).name}: {r.reason or 'rejected'}" for r in record.flats + record.dark_flats if r.rejected
        ]
        brightness, panel_max, trials = record.brightness, record.panel_max, len(record.trials) or None
    else:
        rejected = [f"{f.path.name}: {f.reject_reason or 'rejected'}" for f in plan.skipped_flats]
        brightness, panel_max, trials = plan.flats[0].panel_brightness, None, None
    if flat_level is None and raw_flat is not None:  # one flat's level above the master dark-flat
        flat_level = float(np.asarray(raw_flat).mean(dtype=np.float64)) - float(np.median(calibration))
    return PreviewInput(
        title=f"flat set {plan.label()}",
        flat=flat,
        calibration=calibration,
        calibration_kind=plan.calibration_kind,
        raw_flat=raw_flat,
        raw_flat_name=flat_name,
        raw_dark=raw_dark,
        raw_dark_name=dark_name,
        flats=len(plan.flats),
        rejected=rejected,
        calibration_frames=len(plan.calibration),
        brightness=brightness,
        panel_max=panel_max,
        trials=trials,
        flat_level=flat_level,
        bayer=plan.flats[0].bayer,
    )


def previews_from_disk(
    plan: MasterPlan, *, report: Callable[[str], None] | None = None
) -> tuple[list[Path], list[str]]:
    """`flatseq preview RUN`: a PNG beside each set's newest master flat; the sets without masters are named."""
    say = report or (lambda _text: None)
    records = manifest_sets(plan.run_dir) if plan.source == "manifest" else {}
    written, missing = [], []
    for s in plan.sets:
        found = find_masters(s, plan.run_dir)
        if found is None or found.calibration is None:
            missing.append(s.key)
            continue
        info = preview_input(
            s,
            np.asarray(read_image(found.flat.path), dtype=np.float32),
            np.asarray(read_image(found.calibration.path), dtype=np.float32),
            record=records.get(s.key),
        )
        path = write_preview(info, found.flat.path.with_suffix(".png"))
        say(f"{s.key}: preview → {path}")
        written.append(path)
    return written, missing


def preview_after_master(
    plan: MasterPlan, *, report: Callable[[str], None] | None = None
) -> Callable[[SetPlan, MasterResult], None]:
    """`flatseq master --preview`: for `build_masters(after_each=...)`, a PNG beside each master flat as soon
    as it is written (the masters' pixels still in memory)."""
    say = report or (lambda _text: None)
    records = manifest_sets(plan.run_dir) if plan.source == "manifest" else {}

    def write(s: SetPlan, result: MasterResult) -> None:
        assert result.flat_image is not None and result.calibration_image is not None
        medians = result.medians
        info = preview_input(
            s,
            result.flat_image,
            result.calibration_image,
            record=records.get(s.key),
            flat_level=sum(medians) / len(medians) if medians else None,
        )
        result.preview_path = write_preview(info, result.flat_path.with_suffix(".png"))
        say(f"{s.key}: preview → {result.preview_path}")

    return write
