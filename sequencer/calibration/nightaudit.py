"""`flatseq audit` of a whole night: lights, flats and dark-flats in one tree.

On top of the calibration audit (`sequencer.calibration.audit`: every flat set has matching dark-flats, or
bias for short flats, and no pipeline mixes flat − bias with flat − dark-flat), every light configuration
(`sequencer.calibration.lightkeys`) must have a flat set that matches it: the same filter, binning, gain,
offset, readout mode and region (size and origin), and the same rotation where both say one (flatseq's
planned flats carry their lights' angle as LTROTANG). The camera's name is not compared: a capture program and
a driver name one camera differently (and a dry run's flats come from the simulator).

Findings, by `kind`: ``no-flats-for-lights`` (a configuration no flat set covers; full-frame flats of the same
settings are named, to crop), ``flats-uncalibrated`` (its flats have a mistake of their own),
``bayer-differs`` (a colour light and its flats of another mosaic: BAYERPAT with its offsets),
``focus-differs`` (a note: the flats were planned for, or taken at, another focus), ``flats-for-no-lights``
(a note: a set no light of the night needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sequencer.calibration.audit import MISTAKE, NOTE, AuditReport, Finding, audit_frames
from sequencer.calibration.frames import check_temperature_tolerance, scan
from sequencer.calibration.framesets import FlatGroup, group_flats
from sequencer.calibration.lightkeys import ROTATION_TOLERANCE, LightGroup, LightKey, group_lights
from sequencer.calibration.lights import scan_lights


@dataclass
class Coverage:
    """One light configuration and the flat sets that match it."""

    key: LightKey
    lights: int
    sets: list[str]
    status: str  # covered / no flats / flats uncalibrated

    def to_json(self) -> dict[str, Any]:
        return {**self.key.to_json(), "configuration": self.key.describe(), "lights": self.lights,
                "flat_sets": self.sets, "status": self.status}  # fmt: skip


def _angle_apart(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def _settings_match(key: LightKey, group: FlatGroup) -> bool:
    """The flats' filter, binning, gain, offset, readout mode as the lights' (a side that does not say
    matches)."""
    flat = group.first
    pairs = ((key.gain, flat.gain), (key.offset, flat.offset), (key.readout, flat.readout))
    return (
        key.filter == flat.filter
        and (key.xbinning, key.ybinning) == ((flat.xbinning or 1), (flat.ybinning or flat.xbinning or 1))
        and all(a is None or b is None or a == b for a, b in pairs)
    )


def _region_match(key: LightKey, group: FlatGroup, light: LightGroup) -> bool:
    flat = group.first
    rows, cols = flat.shape
    if key.roi is None:
        sample = light.lights[0]
        return (cols, rows) == (sample.width, sample.height) and flat.origin in (None, (0, 0))
    return (cols, rows) == (key.roi.width, key.roi.height) and (flat.origin or (0, 0)) == (key.roi.x, key.roi.y)


def _rotation_match(key: LightKey, group: FlatGroup) -> bool:
    rotation = group.first.rotation
    return key.rotation is None or rotation is None or _angle_apart(key.rotation, rotation) < ROTATION_TOLERANCE


def _cover(light: LightGroup, groups: Sequence[FlatGroup], report: AuditReport) -> tuple[Coverage, list[Finding]]:
    key = light.key
    settings = [g for g in groups if g.flats and _settings_match(key, g)]
    matching = [g for g in settings if _region_match(key, g, light) and _rotation_match(key, g)]
    findings: list[Finding] = []
    if not matching:
        hint = ""
        full = [g.key for g in settings if g.first.origin in (None, (0, 0)) and _rotation_match(key, g)]
        if key.roi is not None and full:
            hint = f"; full-frame flats {', '.join(full)} match otherwise: crop them to the region"
        message = f"{key.describe()}: {len(light.lights)} lights and no flat set for them{hint}"
        findings.append(Finding("no-flats-for-lights", MISTAKE, message, None, None,
                                tuple(x.path for x in light.lights)))  # fmt: skip
        return Coverage(key, len(light.lights), [], "no flats"), findings
    bad = {s.key for s in report.sets if s.status == "MISTAKE"}
    names = [g.key for g in matching]
    focus = light.last.focus
    mosaic = light.last.bayer
    for g in matching:
        flat_mosaic = g.first.bayer
        if mosaic is not None and flat_mosaic is not None and flat_mosaic != mosaic:
            findings.append(Finding("bayer-differs", MISTAKE, f"{key.describe()}: the lights' mosaic is {mosaic}, "
                                    f"flat set {g.key}'s {flat_mosaic} (BAYERPAT, XBAYROFF/YBAYROFF): calibrating "
                                    "with it divides each colour by another's flat", g.key))  # fmt: skip
        theirs = g.first.focus
        if focus is not None and theirs is not None and theirs != focus:
            findings.append(Finding("focus-differs", NOTE, f"{key.describe()}: the last lights were focused at "
                                    f"{focus:g}, flat set {g.key} at {theirs:g}", g.key))  # fmt: skip
    if all(name in bad for name in names):
        findings.append(Finding("flats-uncalibrated", MISTAKE, f"{key.describe()}: its flat sets {', '.join(names)} "
                                "have mistakes of their own (see above)", names[0]))  # fmt: skip
        return Coverage(key, len(light.lights), names, "flats uncalibrated"), findings
    return Coverage(key, len(light.lights), names, "covered"), findings


@dataclass
class NightReport:
    calibration: AuditReport
    coverage: list[Coverage]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return self.calibration.ok and not any(f.severity == MISTAKE for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        data = self.calibration.to_json()
        root = self.calibration.root
        data["ok"] = self.ok
        data["lights"] = [c.to_json() for c in self.coverage]
        data["findings"] = data["findings"] + [f.to_json(root) for f in self.findings]
        return data


def audit_night(paths: Sequence[Path], *, temperature_tolerance: float = 1.0) -> NightReport:
    """The calibration audit plus the lights' coverage (none for a tree without lights)."""
    check_temperature_tolerance(temperature_tolerance)
    lights = scan_lights(paths).lights
    infos, unreadable = scan(paths)
    calibration = audit_frames(paths, infos, unreadable, temperature_tolerance)
    if not lights:
        return NightReport(calibration, [], [])
    groups = group_flats(infos, temperature_tolerance=temperature_tolerance)
    coverage, findings = [], []
    used: set[str] = set()
    for light in group_lights(lights):
        row, found = _cover(light, groups, calibration)
        coverage.append(row)
        findings += found
        used.update(row.sets)
    findings += [
        Finding("flats-for-no-lights", NOTE, f"flat set {g.key}: no light of the night needs it", g.key)
        for g in groups
        if g.flats and g.key not in used
    ]
    return NightReport(calibration, coverage, findings)


def render_night(report: NightReport) -> list[str]:
    """The lights' part of the report for people: one row per configuration, then the findings."""
    rows = [("configuration", "lights", "flat sets", "status")]
    rows += [(c.key.describe(), str(c.lights), ", ".join(c.sets) or "-", c.status) for c in report.coverage]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["", "lights:"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for severity, title in ((MISTAKE, "lights' mistakes"), (NOTE, "lights' notes")):
        chosen = [f for f in report.findings if f.severity == severity]
        if chosen:
            lines += ["", f"{title}:"] + [f"  [{f.kind}] {f.message}" for f in chosen]
    covered = sum(1 for c in report.coverage if c.status == "covered")
    lines += ["", f"{covered} of {len(report.coverage)} light configurations covered"]
    return lines
