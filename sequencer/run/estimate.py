"""How long a plan will take and how much disk it needs, before any device is touched (`flatseq check`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from drivers.registry import Registry
from sequencer.output.fitsio import padded
from sequencer.plan.kinds import StepKind
from sequencer.plan.model import Plan

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


def estimate(plan: Plan, registry: Registry) -> Estimate:
    """The run's duration (exposures, readouts, waits, trials, moves; cooling not included) and disk space."""
    cam = camera_guess(plan.equipment["camera"], registry)
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
            case StepKind.FIND_BRIGHTNESS:
                if fs is not None:
                    parts["trials"] += (TRIALS_GUESS - 1) * (fs.exposure + cam.readout)
            case StepKind.FLATS | StepKind.DARK_FLATS:
                if fs is not None and step.count:
                    binning = fs.binning
                    frame_bytes = padded(FITS_HEADER_BYTES) + padded(
                        (cam.width // binning) * (cam.height // binning) * 2
                    )
                    parts["exposures"] += step.count * fs.exposure
                    parts["readouts"] += step.count * cam.readout
                    frames += step.count
                    size += step.count * frame_bytes
            case StepKind.LIGHT_OFF:
                pass  # instant: the afterglow is what the following wait is for
            case _:
                assert_never(step.kind)
    size += 64 * 1024  # manifest and journal
    return Estimate(sum(parts.values()), frames, size, cam, parts)
