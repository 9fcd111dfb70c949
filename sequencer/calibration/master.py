"""Master dark-flats and master flats: the field notes' "mean of (flat − master dark-flat), normalised".

For each flat set (`sequencer.masterplan`): the master dark-flat (or master bias) is the rejected mean of
its frames; each flat minus that master is divided by its own median (multiplicative normalisation, so
flats a little brighter or dimmer weigh the same); the normalised flats are combined with the same
rejection, and the result is scaled to mean 1. Both masters are written as float32 FITS, atomically and
never over an existing file, with their provenance in the header: inputs (IMCMBnnn), counts, the master
subtracted, normalisation, rejection method and parameters, and HISTORY cards.

Reading: every file is read once. Dark-flats (or bias) are combined a strip of rows at a time, straight
from their files. Each flat is read whole into memory (`sequencer.flatstack`), its median (which needs the
whole calibrated frame before any strip can be normalised) is found from that copy, and the combiner takes
its strips from memory: 30 IMX455 flats hold 3.7 GB, plus 0.8 GB for the masters and the strips. When the
set would not fit in `MasterOptions.max_memory` (`--max-memory`, default 6 GiB or 3/4 of the available
memory if less), the flats that do not fit are read twice, once for the median and once in strips (the
second read comes from the page cache when it can), and a note says so. Results are the same either way.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from sequencer.calibration.combine import Combined, combine, default_workers
from sequencer.calibration.fitspixels import FitsPixels
from sequencer.calibration.frames import FrameError, FrameInfo
from sequencer.calibration.masterplan import MasterPlan, SetPlan
from sequencer.calibration.rejection import Rejection
from sequencer.calibration.stack import GIB, MemoryPlan, default_max_memory, hold_and_measure, plan_memory
from sequencer.core.atomicfile import write_new_file
from sequencer.output.header import software_version

MASTERS_DIR = "masters"
CHUNK_ROWS_BYTES = 4 << 20


@dataclass(frozen=True)
class MasterOptions:
    rejection: Rejection = field(default_factory=Rejection)
    output: Path | None = None
    preview: bool = False
    workers: int | None = None
    max_memory: int | None = None
    """Bytes the flat combine may use for pixels (flats held, masters, strips); None: `default_max_memory()`."""


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
    tell = note or say
    rejection = options.rejection
    workers = options.workers or default_workers()
    name = safe_name(plan.key)
    cal_word = "darkflat" if plan.calibration_kind == "dark-flat" else "bias"
    with _opened(plan.calibration) as sources:
        calibration = combine(sources, rejection, workers=workers)
    subtract = np.asarray(calibration.image, dtype=np.float64)
    with _opened(plan.flats) as files:
        budget = options.max_memory if options.max_memory is not None else default_max_memory()
        memory = plan_memory(files, budget, workers=workers)
        if memory.read_twice:
            tell(memory_note(plan.key, memory))
        flat_sources, medians = hold_and_measure(files, subtract, hold=memory.held, workers=workers)
        for frame, median in zip(plan.flats, medians, strict=True):
            if not median > 0:
                raise FrameError(
                    f"{frame.path}: median {median:.1f} ADU after subtracting the master {plan.calibration_kind}; "
                    "a flat must be brighter than its dark-flats"
                )
        cal_path = write_master(
            out_dir / f"master{cal_word}_{name}.fits",
            calibration.image,
            master_header(plan, calibration, kind=plan.calibration_kind),
        )
        say(f"{plan.key}: master {plan.calibration_kind} from {calibration.frames} frames → {cal_path}")
        flat = combine(flat_sources, rejection, subtract=subtract, scales=medians, dtype=np.float32, workers=workers)
        del flat_sources  # the flats held in memory
    del subtract
    level = flat.mean
    flat.image /= np.float32(level)
    header = master_header(plan, flat, kind="flat", medians=medians, calibration_file=cal_path.name)
    header["MEANLVL"] = (level, "mean before scaling to 1")
    flat_path = write_master(out_dir / f"masterflat_{name}.fits", flat.image, header)
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


# --- FITS ---------------------------------------------------------------------------------------------


def master_header(
    plan: SetPlan,
    combined: Combined,
    *,
    kind: str,
    medians: list[float] | None = None,
    calibration_file: str | None = None,
) -> fits.Header:
    """The master's header: the set's settings, then its provenance."""
    first = plan.flats[0]
    s = plan.settings
    h = fits.Header()
    imagetyp = {"flat": "MASTERFLAT", "dark-flat": "MASTERDARKFLAT", "bias": "MASTERBIAS"}[kind]
    inputs = plan.flats if kind == "flat" else plan.calibration
    h["IMAGETYP"] = (imagetyp, "flatseq master frame")
    h["MASTER"] = (True, "a combined master, not a raw frame")
    h["FLATSET"] = (plan.key, "flat set this master belongs to")
    if first.run_id:
        h["RUNID"] = (first.run_id, "flatseq run id")
    if first.filter:
        h["FILTER"] = (first.filter, "filter of the flats")
    if first.instrument:
        h["INSTRUME"] = (first.instrument, "camera")
    if s.exposure is not None and kind != "bias":
        h["EXPTIME"] = (s.exposure, "[s] exposure time of each input")
        h["EXPOSURE"] = (s.exposure, "[s] exposure time of each input")
    for key, value, comment in (
        ("GAIN", s.gain, "camera gain setting"),
        ("OFFSET", s.offset, "camera offset setting"),
        ("XBINNING", s.xbinning, "binning factor along X"),
        ("YBINNING", s.ybinning, "binning factor along Y"),
        ("READOUTM", s.readout, "readout mode"),
        ("SET-TEMP", s.set_temp, "[C] cooler set-point"),
    ):
        if value is not None:
            h[key] = (int(value) if isinstance(value, float) and value.is_integer() else value, comment)
    temps = [f.ccd_temp for f in inputs if f.ccd_temp is not None]
    if temps:
        h["CCD-TEMP"] = (round(sum(temps) / len(temps), 3), "[C] mean sensor temperature of the inputs")
    dates = sorted(f.date_obs for f in inputs if f.date_obs)
    if dates:
        h["DATE-OBS"] = (dates[0], "[UTC] start of the first input")
    h["DATE"] = (datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"), "[UTC] master written")
    h["SWCREATE"] = (software_version(), "software that made this master")
    h["NCOMBINE"] = (combined.frames, "frames combined")
    h["COMBMETH"] = ("MEAN", "mean of the values kept after rejection")
    rej = combined.rejection
    h["REJMETH"] = ({"sigma": "SIGMA", "winsorized": "WINSORIZED", "none": "NONE"}[rej.method], "outlier rejection")
    if rej.method != "none":
        h["REJCENT"] = ("MEDIAN", "rejection centre")
        h["REJSPRD"] = ("STDDEV" if rej.method == "sigma" else "WINSORIZED STDDEV", "rejection spread")
        h["REJLOW"] = (rej.low, "[sigma] low rejection threshold")
        h["REJHIGH"] = (rej.high, "[sigma] high rejection threshold")
        h["REJITER"] = (rej.iterations, "rejection passes (at most)")
    h["NREJECT"] = (combined.rejected, "values rejected (all frames)")
    h["REJFRAC"] = (round(combined.rejected_fraction, 8), "fraction of values rejected")
    if kind == "flat":
        h["CALTYPE"] = ("DARKFLAT" if plan.calibration_kind == "dark-flat" else "BIAS", "subtracted from each flat")
        h["CALFILE"] = (calibration_file or "", "master subtracted from each flat")
        h["NCALIB"] = (len(plan.calibration), "frames in that master")
        h["NORMMETH"] = ("MEDIAN", "each flat / its median after subtraction")
        h["NORMMEAN"] = (1.0, "the master is scaled to mean 1")
    for i, frame in enumerate(inputs, start=1):
        h[f"IMCMB{i:03d}" if i < 1000 else f"IMCMB{i}"] = (frame.path.name, f"input {i}")
    history = [f"{software_version()}: {imagetyp} of flat set {plan.key}"]
    if kind == "flat":
        history.append(
            f"each flat minus {calibration_file} ({len(plan.calibration)} {plan.calibration_kind}s), divided by "
            "its own median, combined by mean after rejection, scaled to mean 1"
        )
        for frame, median, rejected in zip(inputs, medians or [], combined.rejected_per_frame, strict=False):
            history.append(f"{frame.path.name}: median {median:.3f} ADU, {int(rejected)} px rejected")
    else:
        history.append(f"mean of {len(inputs)} {kind}s after rejection")
    history.append(f"rejection: {rej.describe()}")
    for text in history:
        for line in textwrap.wrap(text, 72, break_long_words=True):
            h.add_history(line)
    return h


def _float_chunks(image: npt.NDArray[np.floating], header: fits.Header) -> Iterator[bytes | memoryview]:
    rows, cols = image.shape
    full = fits.Header()
    full["SIMPLE"] = (True, "conforms to FITS standard")
    full["BITPIX"] = (-32, "32-bit IEEE floating point")
    full["NAXIS"] = 2
    full["NAXIS1"] = cols
    full["NAXIS2"] = rows
    full.extend(header, unique=False)
    yield full.tostring(endcard=True, padding=True).encode("ascii")
    step = max(1, CHUNK_ROWS_BYTES // (cols * 4))
    for start in range(0, rows, step):
        yield image[start : start + step].astype(">f4").tobytes()
    nbytes = rows * cols * 4
    if nbytes % 2880:
        yield bytes(2880 - nbytes % 2880)


def write_master(path: Path, image: npt.NDArray[np.floating], header: fits.Header) -> Path:
    """Write a master as float32 atomically (a float64 image is rounded a chunk at a time, with no
    frame-sized copy); an existing file is never replaced (the next free _N name is used)."""
    return write_new_file(path, _float_chunks(image, header))
