"""How long a plan will take and how much disk it needs, before any device is touched (`flatseq check`)."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.registry import query_options, scheme_of
from sequencer.output.fitsio import padded
from sequencer.plan.compile import Plan

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


def camera_guess(url: str) -> CameraGuess:
    """The simulated sensor's real numbers for sim:// cameras; an IMX455 for anything else."""
    from simulators.physics.sensor import SENSORS

    if scheme_of(url) == "sim":
        opts = query_options(url)
        sensor = SENSORS.get(opts.get("sensor", "small"))
        if sensor is not None:
            readout = float(opts.get("readout", sensor.readout_time))
            return CameraGuess(sensor.width, sensor.height, readout, True)
    imx455 = SENSORS["imx455"]
    return CameraGuess(imx455.width, imx455.height, 1.5, False)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    frames: int
    bytes: int
    camera: CameraGuess
    parts: dict[str, float]


def estimate(plan: Plan) -> Estimate:
    cam = camera_guess(plan.equipment["camera"])
    parts: dict[str, float] = {"exposures": 0.0, "readouts": 0.0, "waits": 0.0, "trials": 0.0, "moves": 0.0}
    frames = 0
    size = 0
    for step in plan.steps:
        fs = plan.sets.get(step.set_id or "")
        binning = fs.binning if fs else 1
        frame_bytes = padded(FITS_HEADER_BYTES) + padded((cam.width // binning) * (cam.height // binning) * 2)
        match step.kind:
            case "wait":
                parts["waits"] += step.seconds or 0.0
            case "select_filter":
                parts["moves"] += FILTER_MOVE_GUESS
            case "close_cover" | "open_cover":
                parts["moves"] += COVER_MOVE_GUESS
            case "light_on":
                parts["moves"] += PANEL_READY_GUESS + cam.readout  # + one bias for the pedestal
            case "find_brightness" if fs is not None:
                parts["trials"] += (TRIALS_GUESS - 1) * (fs.exposure + cam.readout)
            case "flats" | "dark_flats" if fs is not None and step.count:
                parts["exposures"] += step.count * fs.exposure
                parts["readouts"] += step.count * cam.readout
                frames += step.count
                size += step.count * frame_bytes
            case _:
                pass
    size += 64 * 1024  # manifest and journal
    return Estimate(sum(parts.values()), frames, size, cam, parts)
