"""How long a plan will take and how much disk it needs, before any device is touched (`flatseq check`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from drivers.registry import Registry
from sequencer.output.fitsio import padded
from sequencer.plan.kinds import StepKind
from sequencer.plan.model import FlatSet, Plan

TRIALS_GUESS = 2.0  # our search's typical trial count without a trained start
FILTER_MOVE_GUESS = 2.0
COVER_MOVE_GUESS = 5.0
PANEL_READY_GUESS = 0.5
FITS_HEADER_BYTES = 2880 * 2


@dataclass(frozen=True)
class CameraGuess:
    """What the estimate assumes about a camera it has not talked to."""

    width: int
    height: int
    readout: float
    known: bool

    def describe(self) -> str:
        how = "" if self.known else " (assumed: an IMX455-class camera)"
        return f"{self.width}×{self.height} px, readout {self.readout:g} s{how}"


ASSUMED_SENSOR = (9576, 6388)
"""An IMX455 (full frame, 61 Mpx): the largest common sensor, so disk space is not underestimated."""
ASSUMED_READOUT = 1.5


def camera_guess(url: str, registry: Registry) -> CameraGuess:
    """The camera's size and readout as its URL tells them (the simulators' real numbers for sim://), else an
    IMX455."""
    facts = registry.facts(url)
    if facts.sensor is not None:
        readout = facts.readout_time if facts.readout_time is not None else ASSUMED_READOUT
        return CameraGuess(facts.sensor[0], facts.sensor[1], readout, True)
    return CameraGuess(*ASSUMED_SENSOR, ASSUMED_READOUT, False)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    frames: int
    bytes: int
    camera: CameraGuess
    parts: dict[str, float]
    between: tuple[float, float] | None = None
    """With exposures found at run time: the duration if every such set needs its shortest exposure, and its
    longest (`seconds` assumes the middle of each range, in log)."""


def assumed_exposure(fs: FlatSet) -> float:
    """The exposure the estimate takes for a set: its own, or for one found at run time the middle of its range
    (geometric: exposures spread over decades)."""
    if fs.exposure is not None:
        return fs.exposure
    assert fs.auto is not None
    return math.sqrt(fs.auto.min * fs.auto.max)


def estimate(plan: Plan, registry: Registry) -> Estimate:
    """The run's duration (exposures, readouts, waits, trials, moves; cooling not included) and disk space."""
    cam = camera_guess(plan.equipment["camera"], registry)
    middle = _estimate(plan, cam, assumed_exposure)
    if all(fs.auto is None for fs in plan.sets.values()):
        return middle
    shortest = _estimate(plan, cam, lambda fs: fs.exposure if fs.auto is None else fs.auto.min)
    longest = _estimate(plan, cam, lambda fs: fs.exposure if fs.auto is None else fs.auto.max)
    return Estimate(middle.seconds, middle.frames, middle.bytes, cam, middle.parts, (shortest.seconds, longest.seconds))


def _estimate(plan: Plan, cam: CameraGuess, exposure_of: Callable[[FlatSet], float | None]) -> Estimate:
    parts: dict[str, float] = {"exposures": 0.0, "readouts": 0.0, "waits": 0.0, "trials": 0.0, "moves": 0.0}
    frames = 0
    size = 0
    for step in plan.steps:
        fs = plan.sets.get(step.set_id or "")
        match step.kind:
            case StepKind.WAIT:
                parts["waits"] += step.seconds or 0.0
            case StepKind.SELECT_FILTER:
                parts["moves"] += FILTER_MOVE_GUESS
            case StepKind.CLOSE_COVER | StepKind.OPEN_COVER:
                parts["moves"] += COVER_MOVE_GUESS
            case StepKind.LIGHT_ON:
                parts["moves"] += PANEL_READY_GUESS + cam.readout  # + one bias for the pedestal
            case StepKind.FIND_BRIGHTNESS | StepKind.FIND_EXPOSURE:
                if fs is not None:
                    parts["trials"] += (TRIALS_GUESS - 1) * ((exposure_of(fs) or 0.0) + cam.readout)
            case StepKind.FLATS | StepKind.DARK_FLATS:
                if fs is not None and step.count:
                    binning = fs.binning
                    frame_bytes = padded(FITS_HEADER_BYTES) + padded(
                        (cam.width // binning) * (cam.height // binning) * 2
                    )
                    parts["exposures"] += step.count * (exposure_of(fs) or 0.0)
                    parts["readouts"] += step.count * cam.readout
                    frames += step.count
                    size += step.count * frame_bytes
            case StepKind.LIGHT_OFF:
                pass  # instant: the afterglow is what the following wait is for
            case _:
                assert_never(step.kind)
    size += 64 * 1024  # manifest and journal
    return Estimate(sum(parts.values()), frames, size, cam, parts)
