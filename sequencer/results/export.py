"""`flatseq export RUN --layout siril|wbpp|nina DEST`: a run's frames in the tree a stacker expects.

Only the frames that count go out (a REJECTED frame never reaches a stacker's input), as the manifest lists
them (or, for a folder without one, as the headers say), set by set as `flatseq master` groups them. Files
are hard links where the filesystem allows (no space used, the same bytes), copies otherwise; nothing in DEST
is ever replaced, and DEST must be new or empty, so a second export cannot add a set's frames twice.

- ``siril``: ``DEST/SET/flats/``, ``DEST/SET/biases/`` (the dark-flats: Siril's scripts subtract what is in
  ``biases/`` from the flats), ``DEST/SET/masters/`` (flatseq's masters, when made) and ``DEST/SET/master_flat.ssf``,
  a Siril 1.0 script that makes the master flat the standard way (`sequencer.results.sirilscript`).
- ``wbpp``: ``DEST/SET/flats/``, ``DEST/SET/darkflats/`` and ``DEST/SET/masters/`` with the masters in XISF (WBPP
  takes masters only in XISF: those `flatseq master --format xisf` wrote, or written now from the FITS ones).
  WBPP sorts frames by IMAGETYP, so the folders are for people.
- ``nina``: N.I.N.A.'s default pattern ``DATE/IMAGETYPE/DATETIME_FILTER_SENSORTEMP_EXPOSUREs_FRAMENR`` (DATE is
  the local date 12 hours before the frame, so a night is one folder; dark-flats are ``DARK``, as N.I.N.A. 3
  writes them). N.I.N.A. makes no masters: none are exported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits

from drivers.errors import ConfigError
from sequencer.calibration.frames import FrameInfo
from sequencer.calibration.master import ADU_RANGE, safe_name
from sequencer.calibration.masterfiles import SetMasters, find_masters, read_image
from sequencer.calibration.masterplan import MasterPlan, SetPlan
from sequencer.core.atomicfile import OutputError, describe_os_error
from sequencer.core.timestamps import parse_fits_date
from sequencer.output import keywords as kw
from sequencer.output.xisf import write_float_xisf
from sequencer.results.sirilscript import SCRIPT_NAME, siril_script

LAYOUTS = ("siril", "wbpp", "nina")
_NO_HARD_LINKS = {errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


@dataclass
class ExportedSet:
    key: str
    folder: Path
    flats: int = 0
    dark_flats: int = 0
    masters: list[Path] = field(default_factory=list)
    script: Path | None = None


@dataclass
class Export:
    """What an export did."""

    layout: str
    destination: Path
    sets: list[ExportedSet] = field(default_factory=list)
    linked: int = 0
    copied: int = 0
    converted: int = 0
    notes: list[str] = field(default_factory=list)


class _Placer:
    """Puts files in DEST: a hard link where it can, a copy where it cannot, never over an existing file."""

    def __init__(self, export: Export) -> None:
        self.export = export
        self.can_link = True

    def place(self, source: Path, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        for n in range(10_000):
            candidate = target if n == 0 else target.with_name(f"{target.stem}_{n}{target.suffix}")
            try:
                self._put(source, candidate)
            except FileExistsError:
                continue
            return candidate
        raise OutputError(f"{target}: 10000 files of this name already exist")

    def _put(self, source: Path, target: Path) -> None:
        if self.can_link:
            try:
                os.link(source, target)
                self.export.linked += 1
                return
            except FileExistsError:
                raise
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise OutputError(f"{target}: cannot link {source}: {describe_os_error(exc)}") from exc
                self.can_link = False
        self._copy(source, target)

    def _copy(self, source: Path, target: Path) -> None:
        try:
            dst = open(target, "xb")  # noqa: SIM115 (closed below) exclusive: never over a file already there
        except FileExistsError:
            raise
        except OSError as exc:
            raise OutputError(f"{target}: cannot create: {describe_os_error(exc)}") from exc
        try:
            with dst, open(source, "rb") as src:
                shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                target.unlink()  # ours, and torn: no half frame left for a stacker
            raise OutputError(f"{target}: cannot copy {source}: {describe_os_error(exc)}") from exc
        self.export.copied += 1


def _check_destination(destination: Path, run_dir: Path) -> None:
    destination, run_dir = destination.absolute(), run_dir.absolute()
    if destination == run_dir or run_dir in destination.parents:
        raise ConfigError(f"{destination}: export outside the run directory {run_dir}, not into it")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ConfigError(
            f"{destination}: not an empty folder; export into a new one (a second export into the same tree "
            "would give a stacker every frame twice)"
        )


def _nina_name(frame: FrameInfo, number: int, image_type: str) -> Path:
    """N.I.N.A.'s default ``$$DATEMINUS12$$/$$IMAGETYPE$$/$$DATETIME$$_$$FILTER$$_$$SENSORTEMP$$_$$EXPOSURETIME$$s
    _$$FRAMENR$$`` for one frame (local time, as N.I.N.A. writes it)."""
    seconds = parse_fits_date(frame.date_obs) if frame.date_obs else None
    local = datetime.fromtimestamp(seconds) if seconds is not None else datetime.fromtimestamp(0)
    night = (local - timedelta(hours=12)).strftime("%Y-%m-%d")
    temp = f"{frame.ccd_temp:.2f}" if frame.ccd_temp is not None else ""
    exposure = f"{frame.exposure:.2f}" if frame.exposure is not None else ""
    name = f"{local:%Y-%m-%d_%H-%M-%S}_{safe_name(frame.filter or '')}_{temp}_{exposure}s_{number:04d}.fits"
    return Path(night) / image_type / name


def _xisf_of(path: Path, twin: Path | None, out: Path, export: Export, placer: _Placer) -> Path:
    """A master in XISF in `out`: its XISF twin linked, or written now from the FITS master."""
    if twin is not None:
        return placer.place(twin, out / twin.name)
    with fits.open(path, memmap=False) as hdul:
        header = hdul[0].header.copy()
    image = np.asarray(read_image(path), dtype=np.float32)
    kind = kw.master_of(str(header.get(kw.IMAGETYP, "")), dark_flat=bool(header.get(kw.DARKFLAT, False)))
    written = write_float_xisf(
        out / path.with_suffix(".xisf").name,
        image,
        header,
        image_type=kw.XISF_IMAGE_TYPE.get(kind) if kind is not None else None,
        created_at=os.path.getmtime(path),
        upper_bound=None if kind is kw.FrameKind.FLAT else ADU_RANGE,
    )
    export.converted += 1
    return written


def _set_folder(s: SetPlan, export: Export) -> Path:
    return export.destination / safe_name(s.key)


def _set_frames(s: SetPlan, export: Export, placer: _Placer, calibration_folder: str) -> ExportedSet:
    """A set's flats into SET/flats and its dark-flats (or bias) into SET/`calibration_folder`."""
    folder = _set_folder(s, export)
    done = ExportedSet(s.key, folder)
    for frame in s.flats:
        placer.place(frame.path, folder / "flats" / frame.path.name)
        done.flats += 1
    for frame in s.calibration:
        placer.place(frame.path, folder / calibration_folder / frame.path.name)
        done.dark_flats += 1
    return done


def _siril_set(s: SetPlan, masters: SetMasters | None, export: Export, placer: _Placer) -> ExportedSet:
    done = _set_frames(s, export, placer, "biases")  # Siril takes dark-flats where the bias goes
    folder = done.folder
    master_dark = None
    if masters is not None:
        done.masters.append(placer.place(masters.flat.path, folder / "masters" / "masterflat.fits"))
        if masters.calibration is not None and s.calibration_kind == "dark-flat":
            master_dark = placer.place(masters.calibration.path, folder / "masters" / "masterdarkflat.fits")
            done.masters.append(master_dark)
    relative = master_dark.relative_to(folder).as_posix() if master_dark is not None else None
    done.script = folder / SCRIPT_NAME
    with open(done.script, "x", encoding="ascii", errors="replace") as handle:
        handle.write(siril_script(s.label(), relative))
    return done


def _wbpp_set(s: SetPlan, masters: SetMasters | None, export: Export, placer: _Placer) -> ExportedSet:
    done = _set_frames(s, export, placer, "darkflats")
    if masters is not None:
        out = done.folder / "masters"
        out.mkdir(parents=True, exist_ok=True)
        done.masters.append(_xisf_of(masters.flat.path, masters.flat_xisf, out, export, placer))
        if masters.calibration is not None:
            done.masters.append(_xisf_of(masters.calibration.path, masters.calibration_xisf, out, export, placer))
    return done


def _nina_set(s: SetPlan, export: Export, placer: _Placer) -> ExportedSet:
    done = ExportedSet(s.key, export.destination)
    for number, frame in enumerate(s.flats, start=1):
        placer.place(frame.path, export.destination / _nina_name(frame, number, "FLAT"))
        done.flats += 1
    dark_type = "BIAS" if s.calibration_kind == "bias" else "DARK"
    for number, frame in enumerate(s.calibration, start=1):
        placer.place(frame.path, export.destination / _nina_name(frame, number, dark_type))
        done.dark_flats += 1
    return done


def _export_sets(plan: MasterPlan, layout: str, export: Export) -> list[tuple[SetPlan, str | None]]:
    """The sets to export, each with the sky set it is a rung of: Siril calibrates a set's flats with one master,
    so for Siril a sky set of several exposures goes out as one set per exposure (its flats and the dark-flats
    of that exposure); `flatseq master` combines the ladder into one master."""
    out: list[tuple[SetPlan, str | None]] = []
    for s in plan.sets:
        if layout != "siril" or len(s.rungs) < 2:
            out.append((s, None))
            continue
        for one in s.rungs:
            out.append((replace(s.rung_plan(one), key=f"{s.key}@{one.exposure:g}s"), s.key))
        export.notes.append(
            f"set {s.key}: sky flats of {len(s.rungs)} exposures, one Siril set per exposure (Siril subtracts one "
            f"master from a set's flats); `flatseq master` combines the whole ladder into one master flat"
        )
    return out


def export_run(
    plan: MasterPlan, layout: str, destination: Path, *, report: Callable[[str], None] | None = None
) -> Export:
    """Export every set of a checked plan (`plan_masters`) into `destination` in `layout`."""
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    say = report or (lambda _text: None)
    destination = Path(destination).absolute()
    _check_destination(destination, plan.run_dir)
    destination.mkdir(parents=True, exist_ok=True)
    export = Export(layout, destination, notes=list(plan.warnings))
    placer = _Placer(export)
    for s, rung_of in _export_sets(plan, layout, export):
        masters = find_masters(s, plan.run_dir) if layout != "nina" and not rung_of else None
        if layout == "siril":
            done = _siril_set(s, masters, export, placer)
        elif layout == "wbpp":
            done = _wbpp_set(s, masters, export, placer)
        else:
            done = _nina_set(s, export, placer)
        if masters is None and layout != "nina" and not rung_of:
            export.notes.append(f"set {s.key}: no masters yet (`flatseq master {plan.run_dir}` makes them)")
        if s.skipped_flats:
            export.notes.append(f"set {s.key}: {len(s.skipped_flats)} rejected flats left out")
        export.sets.append(done)
        say(f"{s.key}: {done.flats} flats, {done.dark_flats} {s.calibration_kind}s → {done.folder}")
    if layout == "nina":
        export.notes.append("N.I.N.A. makes no masters: none exported")
    return export
