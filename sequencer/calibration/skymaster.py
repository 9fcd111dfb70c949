"""A sky set's masters: one master dark-flat per rung of its exposure ladder, then one master flat from every
flat, each minus the master dark-flat of its own exposure (`sequencer.calibration.exposuremix`).

The master flat's header names the ladder so a reader can see what went in: NEXPOS rungs, and for rung nn
EXPOSnn (its exposure), NFLATnn (its flats) and DARKFnn (the master subtracted from them); SUNAMIN/SUNAMAX
give the Sun's altitude range over the flats (SUNALT). Stars drift between sky flats and land in the
rejection like any outlier. Flats are read from their files as they are combined (no memory plan: sky sets
are short ladders of a few dozen frames).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from sequencer.calibration.combine import Combined, combine
from sequencer.calibration.exposuremix import ExposureGroup, MixedMaster, combine_exposures
from sequencer.calibration.fitspixels import FitsPixels, opened
from sequencer.calibration.masterplan import Rung, SetPlan
from sequencer.calibration.rejection import Rejection


@dataclass(frozen=True)
class RungDark:
    """One rung's master dark-flat (for a sky set under --bias, the one master bias every rung shares)."""

    rung: Rung
    combined: Combined


def combine_darks(plan: SetPlan, rejection: Rejection, workers: int) -> list[RungDark]:
    """Each rung's master dark-flat; under --bias one master bias, combined once, for every rung."""
    shared: Combined | None = None
    out = []
    for one in plan.rungs:
        if plan.calibration_kind == "bias" and shared is not None:
            out.append(RungDark(one, shared))
            continue
        with opened(one.calibration) as sources:
            combined = combine(sources, rejection, workers=workers)
        shared = combined
        out.append(RungDark(one, combined))
    return out


def combine_sky_flat(darks: Sequence[RungDark], rejection: Rejection, workers: int) -> MixedMaster:
    """All the set's flats, each minus its rung's master, normalised and combined to mean 1."""
    with contextlib.ExitStack() as stack:
        groups = [
            ExposureGroup(
                d.rung.exposure,
                [stack.enter_context(FitsPixels(f.path)) for f in d.rung.flats],
                np.asarray(d.combined.image, dtype=np.float64),
            )
            for d in darks
        ]
        return combine_exposures(groups, rejection, workers=workers)


def flat_medians(plan: SetPlan, mixed: MixedMaster) -> list[float]:
    """The flats' medians in the plan's order (rung by rung, as combined)."""
    return [m for one in plan.rungs for m in mixed.medians[one.exposure]]


def add_ladder_cards(header: fits.Header, plan: SetPlan, dark_names: Sequence[str]) -> None:
    """The ladder (NEXPOS, EXPOSnn, NFLATnn, DARKFnn) and the Sun's altitude range on a sky master flat."""
    header["NEXPOS"] = (len(plan.rungs), "exposures of the sky set's ladder")
    for n, (one, name) in enumerate(zip(plan.rungs, dark_names, strict=True), start=1):
        header[f"EXPOS{n:02d}"] = (one.exposure, f"[s] exposure of rung {n}")
        header[f"NFLAT{n:02d}"] = (len(one.flats), f"flats of rung {n}")
        header[f"DARKF{n:02d}"] = (name, f"master subtracted from rung {n}")
    altitudes = [f.sun_altitude for f in plan.flats if f.sun_altitude is not None]
    if altitudes:
        header["SUNAMIN"] = (round(min(altitudes), 4), "[deg] lowest Sun altitude of the flats")
        header["SUNAMAX"] = (round(max(altitudes), 4), "[deg] highest Sun altitude of the flats")
    text = (
        f"sky set, {plan.exposure_text()}: each flat minus the master of its own exposure (DARKFnn), "
        "divided by its median, all combined with rejection (drifting stars rejected), scaled to mean 1"
    )
    for line in textwrap.wrap(text, 72):
        header.add_history(line)
