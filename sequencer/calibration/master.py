"""Master dark-flats and master flats: the field notes' "mean of (flat − master dark-flat), normalised".

For each flat set (`sequencer.calibration.masterplan`): the master dark-flat (or master bias) is the rejected mean of
its frames; each flat minus that master is divided by its own median (multiplicative normalisation, so
flats a little brighter or dimmer weigh the same); the normalised flats are combined with the same
rejection, and the result is scaled to mean 1. Both masters are written as float32 FITS (and, asked for,
as XISF for PixInsight: the same pixels and cards), atomically and never over an existing file, with their
provenance in the header: inputs (IMCMBnnn), counts, the master subtracted, normalisation, rejection method
and parameters, and HISTORY cards. They go in the set's own ``masters/`` folder, beside its ``flats/`` and
``darkflats/`` (`masters_dir`), unless an output folder is given.

Reading: every file is read once. Dark-flats (or bias) are combined a strip of rows at a time, straight
from their files. Each flat is read whole into memory (`sequencer.calibration.stack`), its median (which needs the
whole calibrated frame before any strip can be normalised) is found from that copy, and the combiner takes
its strips from memory: 30 IMX455 flats hold 3.7 GB, plus 0.8 GB for the masters and the strips. When the
set would not fit in `MasterOptions.max_memory` (`--max-memory`, default 6 GiB or 3/4 of the available
memory if less), the flats that do not fit are read twice, once for the median and once in strips (the
second read comes from the page cache when it can), and a note says so. Results are the same either way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from drivers.clock import Clock, SystemClock
from sequencer.calibration.combine import Combined, combine, default_workers
from sequencer.calibration.fitspixels import opened
from sequencer.calibration.frames import FrameError
from sequencer.calibration.masterheader import master_header
from sequencer.calibration.masterplan import MasterPlan, SetPlan
from sequencer.calibration.rejection import Rejection
from sequencer.calibration.skymaster import add_ladder_cards, combine_darks, combine_sky_flat, flat_medians
from sequencer.calibration.stack import GIB, MemoryPlan, default_max_memory, hold_and_measure, plan_memory
from sequencer.output import keywords as kw
from sequencer.output.fitsio import write_float_fits
from sequencer.output.keywords import FrameKind
from sequencer.output.xisf import write_float_xisf

MASTERS_DIR = "masters"
FORMATS = ("fits", "xisf")
FLAT_FOLDERS = frozenset({"flats", "flat"})
"""A set's flats in a folder of this name (any case) have their masters beside it, not inside it."""
ADU_RANGE = 65535.0
"""The top of a master dark-flat's (or bias's) range in XISF: it is in ADU, as the raw frames are."""


@dataclass(frozen=True)
class MasterOptions:
    """How `flatseq master` combines and where it writes."""

    rejection: Rejection = field(default_factory=Rejection)
    output: Path | None = None
    """One folder for every set's masters; None: each set's own `masters_dir`."""
    formats: tuple[str, ...] = ("fits",)
    """"fits", "xisf" or both; the first is the one the master flat's CALFILE names."""
    workers: int | None = None
    max_memory: int | None = None
    """Bytes the flat combine may use for pixels (flats held, masters, strips); None: `default_max_memory()`."""
    clock: Clock = field(default_factory=SystemClock)
    """When the masters are written (their DATE), like every other timestamp flatseq writes."""
    keep_images: bool = False
    """Hand the masters' pixels back in the results (for a preview) instead of letting them go."""
    cfa: str = "overall"
    """A colour master flat's normalisation: "overall" (mean 1 over all pixels, the channels' ratios kept, as
    stackers expect) or "channels" (each Bayer channel to mean 1: Siril's and PixInsight's "equalise CFA")."""


@dataclass
class MasterResult:
    """What one flat set produced."""

    key: str
    flat_path: Path
    calibration_path: Path
    calibration_kind: str
    flats: int
    calibration_frames: int
    flat_rejected_fraction: float
    calibration_rejected_fraction: float
    medians: list[float]
    warnings: list[str] = field(default_factory=list)
    flats_in_memory: int = 0
    """Flats read once into memory; the others were read twice (see the module docstring)."""
    preview_path: Path | None = None
    other_files: list[Path] = field(default_factory=list)
    """The same masters in the other formats asked for (XISF beside FITS)."""
    exposures: int = 1
    """A sky set's rungs: that many master dark-flats, one per exposure (`calibration_path` the shortest's)."""
    directory: Path | None = None
    flat_image: np.ndarray | None = field(default=None, repr=False)
    """The master flat's pixels and the master dark-flat's (or bias's), kept for a preview when asked."""
    calibration_image: np.ndarray | None = field(default=None, repr=False)


def masters_dir(plan: SetPlan, run_dir: Path) -> Path:
    """Where a set's masters go by default: ``masters/`` beside the folder its flats are in (``SET/masters``
    for ``SET/flats/``), or inside it when that folder holds more than flats (a folder of N.I.N.A. frames)."""
    folders = {f.path.parent.absolute() for f in plan.flats}
    common = Path(os.path.commonpath([str(p) for p in folders])) if folders else Path(run_dir).absolute()
    if common.name.lower() in FLAT_FOLDERS:
        common = common.parent
    return common / MASTERS_DIR


def safe_name(text: str) -> str:
    """A flat-set key as a file-name part: letters, digits, '.', '-', '_' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "set"


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
    if plan.rungs:
        return _build_sky(plan, out_dir, options, say)
    workers = options.workers or default_workers()
    name = safe_name(plan.key)
    formats = _checked_formats(options.formats)
    with opened(plan.calibration) as sources:
        calibration = combine(sources, options.rejection, workers=workers)
    subtract = np.asarray(calibration.image, dtype=np.float64)
    with opened(plan.flats) as files:
        budget = options.max_memory if options.max_memory is not None else default_max_memory()
        memory = plan_memory(files, budget, workers=workers)
        if memory.read_twice:
            (note or say)(memory_note(plan.key, memory))
        flat_sources, medians = hold_and_measure(files, subtract, hold=memory.held, workers=workers)
        _check_medians(plan, medians)
        cal_word = "darkflat" if plan.calibration_kind == "dark-flat" else "bias"
        cal_header = master_header(plan, calibration, kind=plan.calibration_kind, written_at=options.clock.now())
        cal_paths = _write_master(
            out_dir / f"master{cal_word}_{name}", calibration.image, cal_header, formats, options, ADU_RANGE
        )
        cal_path = cal_paths[0]
        say(f"{plan.key}: master {plan.calibration_kind} from {calibration.frames} frames → {cal_path}")
        flat = combine(
            flat_sources, options.rejection, subtract=subtract, scales=medians, dtype=np.float32, workers=workers
        )
        del flat_sources  # the flats held in memory
    del subtract
    flat_paths = _write_flat(plan, flat, medians, cal_path, out_dir / f"masterflat_{name}", formats, options)
    say(f"{plan.key}: master flat from {flat.frames} flats → {flat_paths[0]}")
    return MasterResult(
        key=plan.key,
        flat_path=flat_paths[0],
        calibration_path=cal_path,
        calibration_kind=plan.calibration_kind,
        flats=flat.frames,
        calibration_frames=calibration.frames,
        flat_rejected_fraction=flat.rejected_fraction,
        calibration_rejected_fraction=calibration.rejected_fraction,
        medians=medians,
        warnings=list(plan.warnings),
        flats_in_memory=memory.held,
        other_files=cal_paths[1:] + flat_paths[1:],
        directory=out_dir,
        flat_image=flat.image if options.keep_images else None,
        calibration_image=calibration.image if options.keep_images else None,
    )


def _build_sky(plan: SetPlan, out_dir: Path, options: MasterOptions, say: Callable[[str], None]) -> MasterResult:
    """A sky set (`sequencer.calibration.skymaster`): a master dark-flat per rung, named with its exposure
    (``masterdarkflat_SET_1.25s``; under --bias one ``masterbias_SET``), then the master flat over the ladder."""
    workers = options.workers or default_workers()
    name, formats = safe_name(plan.key), _checked_formats(options.formats)
    darks = combine_darks(plan, options.rejection, workers)
    written: dict[int, list[Path]] = {}
    for dark in darks:
        if id(dark.combined) in written:
            continue
        one = plan.rung_plan(dark.rung)
        if plan.calibration_kind == "bias":
            stem = out_dir / f"masterbias_{name}"
        else:
            stem = out_dir / f"masterdarkflat_{name}_{dark.rung.exposure:g}s"
        header = master_header(one, dark.combined, kind=plan.calibration_kind, written_at=options.clock.now())
        written[id(dark.combined)] = _write_master(stem, dark.combined.image, header, formats, options, ADU_RANGE)
        say(
            f"{plan.key}: master {plan.calibration_kind} of {one.exposure_text()} from {dark.combined.frames} "
            f"frames → {written[id(dark.combined)][0]}"
        )
    firsts = [written[id(d.combined)][0] for d in darks]
    mixed = combine_sky_flat(darks, options.rejection, workers)
    flat, medians = mixed.combined, flat_medians(plan, mixed)
    header = master_header(
        plan, flat, kind="flat", written_at=options.clock.now(), medians=medians, calibration_file=firsts[0].name
    )
    add_ladder_cards(header, plan, [p.name for p in firsts])
    flat_paths = _write_master(out_dir / f"masterflat_{name}", flat.image, header, formats, options, None)
    say(f"{plan.key}: master flat from {flat.frames} flats over {plan.exposure_text()} → {flat_paths[0]}")
    others = [p for paths in written.values() for p in paths if p not in firsts[:1]]
    return MasterResult(
        key=plan.key,
        flat_path=flat_paths[0],
        calibration_path=firsts[0],
        calibration_kind=plan.calibration_kind,
        flats=flat.frames,
        calibration_frames=len(plan.calibration),
        flat_rejected_fraction=flat.rejected_fraction,
        calibration_rejected_fraction=max(d.combined.rejected_fraction for d in darks),
        medians=medians,
        warnings=list(plan.warnings),
        other_files=others + flat_paths[1:],
        exposures=len(plan.rungs),
        directory=out_dir,
        flat_image=flat.image if options.keep_images else None,
        calibration_image=darks[0].combined.image if options.keep_images else None,
    )


def _check_medians(plan: SetPlan, medians: list[float]) -> None:
    for frame, median in zip(plan.flats, medians, strict=True):
        if not median > 0:
            raise FrameError(
                f"{frame.path}: median {median:.1f} ADU after subtracting the master {plan.calibration_kind}; "
                "a flat must be brighter than its dark-flats"
            )


def _checked_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"master formats must be some of {FORMATS}, got {formats}")
    return tuple(dict.fromkeys(formats))


def _write_master(
    stem: Path,
    image: np.ndarray,
    header: fits.Header,
    formats: tuple[str, ...],
    options: MasterOptions,
    upper_bound: float | None,
) -> list[Path]:
    """One master in every format asked for, the first format first (`stem` has no suffix)."""
    paths = []
    for fmt in formats:
        if fmt == "fits":
            paths.append(write_float_fits(stem.with_name(stem.name + ".fits"), image, header))
        else:
            kind = kw.master_of(str(header[kw.IMAGETYP]), dark_flat=bool(header.get(kw.DARKFLAT, False)))
            image_type = kw.XISF_IMAGE_TYPE.get(kind if kind is not None else FrameKind.OTHER)
            paths.append(
                write_float_xisf(
                    stem.with_name(stem.name + ".xisf"),
                    image,
                    header,
                    image_type=image_type,
                    created_at=options.clock.now(),
                    upper_bound=upper_bound,
                )
            )
    return paths


def _write_flat(
    plan: SetPlan,
    flat: Combined,
    medians: list[float],
    cal_path: Path,
    stem: Path,
    formats: tuple[str, ...],
    options: MasterOptions,
) -> list[Path]:
    """Scale the combined flat to mean 1 (a colour flat: overall, or each channel) and write it with its
    provenance."""
    level = flat.mean
    flat.image /= np.float32(level)
    bayer = plan.flats[0].bayer
    if bayer is not None and options.cfa == "channels":
        equalise_channels(flat.image, bayer)
    header = master_header(
        plan, flat, kind="flat", written_at=options.clock.now(), medians=medians, calibration_file=cal_path.name
    )
    header["MEANLVL"] = (level, "mean before scaling to 1")
    if bayer is not None:
        header["CFANORM"] = (options.cfa.upper(), "mean 1 OVERALL or per CHANNELS")
    return _write_master(stem, flat.image, header, formats, options, None)


def equalise_channels(image: npt.NDArray[np.float32], bayer: str) -> None:
    """Each Bayer channel of a mean-1 colour flat to mean 1, in place (the two greens as one channel)."""
    cells = [image[i // 2 :: 2, i % 2 :: 2] for i in range(4)]
    for letter in set(bayer):
        mine = [cell for cell, this in zip(cells, bayer, strict=True) if this == letter]
        total = sum(float(cell.sum(dtype=np.float64)) for cell in mine)
        count = sum(cell.size for cell in mine)
        for cell in mine:
            cell /= np.float32(total / count)


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
    after_each: Callable[[SetPlan, MasterResult], None] | None = None,
) -> list[MasterResult]:
    """Every set of a checked plan, one after the other, into `options.output` (default: each set's own
    `masters_dir`). `after_each` sees each set's result as soon as it is written (with its pixels, under
    `keep_images`, which are let go afterwards: one set's masters in memory at a time)."""
    results = []
    for s in plan.sets:
        out_dir = Path(options.output) if options.output is not None else masters_dir(s, plan.run_dir)
        result = build_set(s, out_dir, options, report=report, note=note)
        if after_each is not None:
            after_each(s, result)
        result.flat_image = result.calibration_image = None
        results.append(result)
    return results
