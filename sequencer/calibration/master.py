"""Master dark-flats and master flats: the field notes' "mean of (flat − master dark-flat), normalised".

For each flat set (`sequencer.calibration.masterplan`): the master dark-flat (or master bias) is the rejected mean of
its frames; each flat minus that master is divided by its own median (multiplicative normalisation, so
flats a little brighter or dimmer weigh the same); the normalised flats are combined with the same
rejection, and the result is scaled to mean 1. Both masters are written as float32 FITS, atomically and
never over an existing file, with their provenance in the header: inputs (IMCMBnnn), counts, the master
subtracted, normalisation, rejection method and parameters, and HISTORY cards.

Reading: every file is read once. Dark-flats (or bias) are combined a strip of rows at a time, straight
from their files. Each flat is read whole into memory (`sequencer.calibration.stack`), its median (which needs the
whole calibrated frame before any strip can be normalised) is found from that copy, and the combiner takes
its strips from memory: 30 IMX455 flats hold 3.7 GB, plus 0.8 GB for the masters and the strips. When the
set would not fit in `MasterOptions.max_memory` (`--max-memory`, default 6 GiB or 3/4 of the available
memory if less), the flats that do not fit are read twice, once for the median and once in strips (the
second read comes from the page cache when it can), and a note says so. Results are the same either way.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivers.clock import Clock, SystemClock
from sequencer.calibration.combine import Combined, combine, default_workers
from sequencer.calibration.fitspixels import FitsPixels
from sequencer.calibration.frames import FrameError, FrameInfo
from sequencer.calibration.masterheader import master_header
from sequencer.calibration.masterplan import MasterPlan, SetPlan
from sequencer.calibration.rejection import Rejection
from sequencer.calibration.stack import GIB, MemoryPlan, default_max_memory, hold_and_measure, plan_memory
from sequencer.output.fitsio import write_float_fits

MASTERS_DIR = "masters"


@dataclass(frozen=True)
class MasterOptions:
    """How `flatseq master` combines and where it writes."""

    rejection: Rejection = field(default_factory=Rejection)
    output: Path | None = None
    preview: bool = False
    workers: int | None = None
    max_memory: int | None = None
    """Bytes the flat combine may use for pixels (flats held, masters, strips); None: `default_max_memory()`."""
    clock: Clock = field(default_factory=SystemClock)
    """When the masters are written (their DATE), like every other timestamp flatseq writes."""


@dataclass
class MasterResult:
    """What one flat set produced."""

    key: str
    flat_path: Path
    calibration_path: Path
    calibration_kind: str
    preview_path: Path | None
    flats: int
    calibration_frames: int
    flat_rejected_fraction: float
    calibration_rejected_fraction: float
    medians: list[float]
    warnings: list[str] = field(default_factory=list)
    flats_in_memory: int = 0
    """Flats read once into memory; the others were read twice (see the module docstring)."""


def safe_name(text: str) -> str:
    """A flat-set key as a file-name part: letters, digits, '.', '-', '_' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "set"


@contextlib.contextmanager
def _opened(frames: list[FrameInfo]) -> Iterator[list[FitsPixels]]:
    with contextlib.ExitStack() as stack:
        sources = [FitsPixels(f.path) for f in frames]
        for source in sources:
            stack.enter_context(source)
        yield sources


def build_set(
    plan: SetPlan,
    out_dir: Path,
    options: MasterOptions,
    *,
    report: Callable[[str], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> MasterResult:
    """Make and write one set's master calibration frame and master flat (`note`: memory notes)."""
    say = report or (lambda _text: None)
    workers = options.workers or default_workers()
    name = safe_name(plan.key)
    with _opened(plan.calibration) as sources:
        calibration = combine(sources, options.rejection, workers=workers)
    subtract = np.asarray(calibration.image, dtype=np.float64)
    with _opened(plan.flats) as files:
        budget = options.max_memory if options.max_memory is not None else default_max_memory()
        memory = plan_memory(files, budget, workers=workers)
        if memory.read_twice:
            (note or say)(memory_note(plan.key, memory))
        flat_sources, medians = hold_and_measure(files, subtract, hold=memory.held, workers=workers)
        _check_medians(plan, medians)
        cal_word = "darkflat" if plan.calibration_kind == "dark-flat" else "bias"
        cal_path = write_float_fits(
            out_dir / f"master{cal_word}_{name}.fits",
            calibration.image,
            master_header(plan, calibration, kind=plan.calibration_kind, written_at=options.clock.now()),
        )
        say(f"{plan.key}: master {plan.calibration_kind} from {calibration.frames} frames → {cal_path}")
        flat = combine(
            flat_sources, options.rejection, subtract=subtract, scales=medians, dtype=np.float32, workers=workers
        )
        del flat_sources  # the flats held in memory
    del subtract
    flat_path = _write_flat(plan, flat, medians, cal_path, out_dir / f"masterflat_{name}.fits", options)
    say(f"{plan.key}: master flat from {flat.frames} flats → {flat_path}")
    preview_path = None
    if options.preview:
        from sequencer.calibration.preview import write_preview

        preview_path = write_preview(flat.image, flat_path.with_suffix(".png"), title=plan.label())
        say(f"{plan.key}: preview → {preview_path}")
    return MasterResult(
        key=plan.key,
        flat_path=flat_path,
        calibration_path=cal_path,
        calibration_kind=plan.calibration_kind,
        preview_path=preview_path,
        flats=flat.frames,
        calibration_frames=calibration.frames,
        flat_rejected_fraction=flat.rejected_fraction,
        calibration_rejected_fraction=calibration.rejected_fraction,
        medians=medians,
        warnings=list(plan.warnings),
        flats_in_memory=memory.held,
    )


def _check_medians(plan: SetPlan, medians: list[float]) -> None:
    for frame, median in zip(plan.flats, medians, strict=True):
        if not median > 0:
            raise FrameError(
                f"{frame.path}: median {median:.1f} ADU after subtracting the master {plan.calibration_kind}; "
                "a flat must be brighter than its dark-flats"
            )


def _write_flat(
    plan: SetPlan, flat: Combined, medians: list[float], cal_path: Path, path: Path, options: MasterOptions
) -> Path:
    """Scale the combined flat to mean 1 and write it with its provenance."""
    level = flat.mean
    flat.image /= np.float32(level)
    header = master_header(
        plan, flat, kind="flat", written_at=options.clock.now(), medians=medians, calibration_file=cal_path.name
    )
    header["MEANLVL"] = (level, "mean before scaling to 1")
    return write_float_fits(path, flat.image, header)


def memory_note(key: str, memory: MemoryPlan) -> str:
    """Why some of a set's flats are read twice."""
    held = "none" if memory.held == 0 else f"{memory.held} of {memory.frames}"
    return (
        f"{key}: holding its {memory.frames} flats in memory needs {memory.needed / GIB:.1f} GiB, more than the "
        f"{memory.budget / GIB:.1f} GiB allowed (--max-memory); {held} held, {memory.read_twice} read twice "
        "(once for the median, once to combine; the second time from the page cache when it can)"
    )


def build_masters(
    plan: MasterPlan,
    options: MasterOptions,
    *,
    report: Callable[[str], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> list[MasterResult]:
    """Every set of a checked plan, one after the other, into `options.output` (default RUN/masters)."""
    out_dir = options.output if options.output is not None else plan.run_dir / MASTERS_DIR
    return [build_set(s, Path(out_dir), options, report=report, note=note) for s in plan.sets]
