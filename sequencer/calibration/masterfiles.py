"""The masters `flatseq master` left on disk for a flat set, found again from their headers (for `flatseq
preview`, `flatseq export` and `flatseq report`): in the set's ``masters/`` folder and, for runs made before
masters went beside each set, in ``RUN/masters``. A set remade twice has ``masterflat_X.fits`` and
``masterflat_X_1.fits``: the newest file wins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sequencer.calibration.fitspixels import FitsPixels
from sequencer.calibration.frames import FrameError, FrameInfo, is_fits_name, read_info
from sequencer.calibration.master import MASTERS_DIR, masters_dir
from sequencer.calibration.masterplan import SetPlan
from sequencer.output.keywords import FrameKind


@dataclass(frozen=True)
class SetMasters:
    """A set's master flat and the master it was calibrated with (FITS), and their XISF twins if written."""

    flat: FrameInfo
    calibration: FrameInfo | None
    flat_xisf: Path | None = None
    calibration_xisf: Path | None = None

    @property
    def directory(self) -> Path:
        return self.flat.path.parent


def _candidates(plan: SetPlan, run_dir: Path) -> list[FrameInfo]:
    found: list[FrameInfo] = []
    for folder in dict.fromkeys((masters_dir(plan, run_dir), Path(run_dir).absolute() / MASTERS_DIR)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not (path.is_file() and is_fits_name(path)):
                continue
            try:
                info = read_info(path)
            except FrameError:
                continue
            if info.kind is FrameKind.MASTER and info.flat_set == plan.key:
                found.append(info)
    return found


def _newest(infos: list[FrameInfo], kinds: tuple[FrameKind, ...]) -> FrameInfo | None:
    matching = [i for i in infos if i.master_of in kinds]
    return max(matching, key=lambda i: (i.path.stat().st_mtime_ns, i.path.name)) if matching else None


def _twin(path: Path | None) -> Path | None:
    xisf = path.with_suffix(".xisf") if path is not None else None
    return xisf if xisf is not None and xisf.is_file() else None


def find_masters(plan: SetPlan, run_dir: Path) -> SetMasters | None:
    """The newest master flat of the set and its master dark-flat (or bias); None if there is no master flat."""
    infos = _candidates(plan, run_dir)
    flat = _newest(infos, (FrameKind.FLAT,))
    if flat is None:
        return None
    calibration = _newest(infos, (FrameKind.DARK_FLAT, FrameKind.DARK, FrameKind.BIAS))
    return SetMasters(flat, calibration, _twin(flat.path), _twin(calibration.path if calibration else None))


def read_image(path: Path) -> npt.NDArray[np.generic]:
    """A frame's or a master's pixels, exact (uint16 for raw frames, float32 for masters)."""
    with FitsPixels(path) as pixels:
        return pixels.read()
