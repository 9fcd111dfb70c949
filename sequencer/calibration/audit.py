"""`flatseq audit`: check a folder of flats, dark-flats and bias for the field notes' classic mistakes.

Every FITS header under the folder is read (flatseq's and N.I.N.A.'s conventions, see `sequencer.calibration.frames`);
flats are grouped into sets (FLATSET, or equal settings); each set's dark-flats are the darks carrying its
FLATSET, or else the darks whose exposure, gain, offset, binning, readout mode and temperature all match.
Then each mistake is a finding, named by a stable `kind`:

- ``no-dark-flats``: nothing to calibrate the flats with;
- ``different-duration``: dark-flats with another exposure than their flats;
- ``changed-gain-offset``: GAIN or OFFSET changed between flats and dark-flats;
- ``different-binning``, ``different-temperature``, ``different-readout-mode``: likewise;
- ``bias-for-long-flats``: flats of 0.2 s or more with only bias to calibrate them;
- ``bias-and-dark-flats-mixed``: bias among a set's dark-flats, or some sets calibrated by dark-flats and
  others by bias in one folder ("flats − bias" and "flats − dark-flats" in the same pipeline);
- ``unreadable``: a file that is not a readable FITS image.

A darks-only near miss is reported by what differs (a 2 s flat set next to 3 s darks is
``different-duration``); darks far longer than the flats (over 10× and 30 s: a night's darks for lights)
do not count as attempted dark-flats. Bias for 0.1–0.2 s flats is a note, not a mistake (the notes:
"may suffice depending on camera").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sequencer.calibration.frames import (
    DEFAULT_TEMPERATURE_TOLERANCE,
    FrameInfo,
    Unreadable,
    check_temperature_tolerance,
    format_seconds,
    scan,
)
from sequencer.calibration.framesets import (
    FlatGroup,
    FlatSettings,
    Mismatch,
    group_flats,
    rung_darks,
    show_value,
    sky_rungs,
)
from sequencer.calibration.masterplan import BIAS_FINE_BELOW, DARK_FLATS_FROM
from sequencer.output.keywords import FrameKind

MISTAKE, NOTE = "mistake", "note"
LIGHT_DARK_RATIO = 10.0
LIGHT_DARK_SECONDS = 30.0
MAX_LISTED = 3


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    message: str
    set: str | None = None
    keyword: str | None = None
    files: tuple[Path, ...] = ()

    def to_json(self, root: Path) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "set": self.set,
            "keyword": self.keyword,
            "message": self.message,
            "files": [_rel(p, root) for p in self.files],
        }


@dataclass
class SetReport:
    """One flat set as the audit sees it."""

    key: str
    filter: str | None
    exposure: float | None
    flats: int
    rejected_flats: int
    dark_flats: int = 0
    bias: int = 0
    calibration: str = "none"  # dark-flats / bias / none
    instrument: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        if any(f.severity == MISTAKE for f in self.findings):
            return "MISTAKE"
        return "note" if self.findings else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.key,
            "filter": self.filter,
            "exposure": self.exposure,
            "flats": self.flats,
            "rejected_flats": self.rejected_flats,
            "dark_flats": self.dark_flats,
            "bias": self.bias,
            "calibration": self.calibration,
            "status": self.status,
        }


@dataclass
class AuditReport:
    root: Path
    frames: int
    sets: list[SetReport]
    findings: list[Finding]
    unreadable: list[Unreadable]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def mistakes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == MISTAKE]

    @property
    def ok(self) -> bool:
        return not self.mistakes

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.root),
            "ok": self.ok,
            "frames": self.frames,
            "counts": self.counts,
            "sets": [s.to_json() for s in self.sets],
            "findings": [f.to_json(self.root) for f in self.findings],
            "unreadable": [{"file": _rel(u.path, self.root), "reason": u.reason} for u in self.unreadable],
        }


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _names(files: Sequence[Path]) -> str:
    shown = ", ".join(p.name for p in files[:MAX_LISTED])
    return shown + (f" (+{len(files) - MAX_LISTED} more)" if len(files) > MAX_LISTED else "")


def _mismatch_findings(key: str, problems: Iterable[Mismatch], what: str) -> list[Finding]:
    """One finding per (kind, keyword, value) with every file that shows it."""
    grouped: dict[tuple[str, str, str, str], list[Path]] = {}
    for p in problems:
        grouped.setdefault((p.category, p.keyword, show_value(p.found), show_value(p.expected)), []).append(p.path)
    out = []
    for (category, keyword, found, expected), files in grouped.items():
        out.append(
            Finding(
                category,
                MISTAKE,
                f"{key}: {what} with {keyword} = {found} where the flats have {expected}: "
                f"{len(files)} file{'s' if len(files) != 1 else ''} ({_names(files)})",
                key,
                keyword,
                tuple(files),
            )
        )
    return out


def _is_light_dark(frame: FrameInfo, settings: FlatSettings) -> bool:
    if frame.exposure is None or settings.exposure is None:
        return False
    return frame.exposure >= LIGHT_DARK_SECONDS and frame.exposure > LIGHT_DARK_RATIO * settings.exposure


def _near_misses(settings: FlatSettings, darks: Sequence[FrameInfo], tolerance: float) -> list[Mismatch]:
    """The darks closest to being this set's dark-flats (fewest kinds of difference), and how they differ."""
    best: list[list[Mismatch]] = []
    best_score: int | None = None
    for dark in darks:
        problems = settings.mismatches(dark, temperature_tolerance=tolerance)
        if not problems:
            continue
        if {p.field for p in problems} == {"exposure"} and _is_light_dark(dark, settings):
            continue
        score = len({p.category for p in problems})
        if best_score is None or score < best_score:
            best, best_score = [problems], score
        elif score == best_score:
            best.append(problems)
    return [p for problems in best for p in problems]


def audit_set(
    group: FlatGroup,
    darks: Sequence[FrameInfo],
    bias: Sequence[FrameInfo],
    tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE,
) -> SetReport:
    """Find a set's dark-flats (or bias) and every mistake in them."""
    key = group.key
    first = group.first
    report = SetReport(
        key, first.filter, first.exposure, len(group.flats), len(group.rejected), instrument=first.instrument
    )
    if not group.flats:
        report.findings.append(Finding("no-usable-flats", NOTE, f"{key}: every flat is marked REJECTED", key))
        return report
    settings = group.settings
    linked = [d for d in darks if group.links(d)]
    good = (
        _linked_dark_flats(group, linked, bias, tolerance, report.findings)
        if linked
        else [d for d in darks if not d.flat_set and not settings.mismatches(d, temperature_tolerance=tolerance)]
    )
    matching_bias = [b for b in bias if not settings.mismatches(b, check_exposure=False, check_temperature=False)]
    report.dark_flats, report.bias = len(good), len(matching_bias)
    if good:
        report.calibration = "dark-flats"
    elif matching_bias:
        report.calibration = "bias"
        report.findings += _bias_findings(key, settings.exposure, matching_bias)
    elif not linked:  # (with linked dark-flats, their mismatches already say why none fits)
        report.findings += _missing_dark_flats(key, settings, darks, tolerance)
    return report


def _linked_dark_flats(
    group: FlatGroup,
    linked: Sequence[FrameInfo],
    bias: Sequence[FrameInfo],
    tolerance: float,
    findings: list[Finding],
) -> list[FrameInfo]:
    """The dark-flats carrying the set's FLATSET that match its flats; the mismatches of the others, and bias
    frames linked to the set among them, become findings."""
    key, settings = group.key, group.settings
    good: list[FrameInfo] = []
    problems = []
    for dark in linked:
        mismatch = settings.mismatches(dark, temperature_tolerance=tolerance)
        problems += mismatch
        if not mismatch:
            good.append(dark)
    findings += _mismatch_findings(key, problems, "dark-flats")
    linked_bias = [b for b in bias if group.links(b)]
    if linked_bias:
        findings.append(
            Finding(
                "bias-and-dark-flats-mixed",
                MISTAKE,
                f"{key}: bias frames among its dark-flats ({_names([b.path for b in linked_bias])}); "
                "never mix flat − bias and flat − dark-flat in one master",
                key,
                "IMAGETYP",
                tuple(b.path for b in linked_bias),
            )
        )
    return good


def _bias_findings(key: str, exposure: float | None, matching_bias: Sequence[FrameInfo]) -> list[Finding]:
    """The field notes' bias rule for flats that only bias calibrates."""
    exp_text = "?" if exposure is None else format_seconds(exposure)
    if exposure is not None and exposure >= DARK_FLATS_FROM:
        return [
            Finding(
                "bias-for-long-flats",
                MISTAKE,
                f"{key}: {exp_text} flats have only bias to calibrate them ({len(matching_bias)} bias frames); "
                f"from {format_seconds(DARK_FLATS_FROM)} on the flats' dark signal needs dark-flats",
                key,
                "EXPTIME",
                tuple(b.path for b in matching_bias),
            )
        ]
    if exposure is not None and exposure >= BIAS_FINE_BELOW:
        return [
            Finding(
                "bias-borderline",
                NOTE,
                f"{key}: bias for {exp_text} flats may suffice depending on the camera; dark-flats are the "
                "clean choice",
                key,
            )
        ]
    return []


def _missing_dark_flats(
    key: str, settings: FlatSettings, darks: Sequence[FrameInfo], tolerance: float
) -> list[Finding]:
    near = _near_misses(settings, [d for d in darks if not d.flat_set], tolerance)
    if near:
        return _mismatch_findings(key, near, "no dark-flats match; the nearest darks are")
    exposure = settings.exposure
    exp_text = "?" if exposure is None else format_seconds(exposure)
    return [
        Finding(
            "no-dark-flats",
            MISTAKE,
            f"{key}: no dark-flats (or bias) for these {exp_text} flats; take dark-flats with the same exposure, "
            "gain, offset, binning and temperature",
            key,
        )
    ]


def _mixing(sets: Sequence[SetReport]) -> list[Finding]:
    """Sets of one camera calibrated both ways: flats − bias and flats − dark-flats in one pipeline."""
    out = []
    cameras = {s.instrument for s in sets}
    for camera in cameras:
        mine = [s for s in sets if s.instrument == camera]
        by_dark = [s.key for s in mine if s.calibration == "dark-flats"]
        by_bias = [s.key for s in mine if s.calibration == "bias"]
        if by_dark and by_bias:
            out.append(
                Finding(
                    "bias-and-dark-flats-mixed",
                    MISTAKE,
                    f"sets {', '.join(by_dark)} are calibrated with dark-flats but {', '.join(by_bias)} only with "
                    "bias: one pipeline mixing flat − bias and flat − dark-flat is inconsistent "
                    "(dark-flats for every set is the clean choice)",
                    None,
                    "IMAGETYP",
                )
            )
    return out


def audit(paths: Sequence[Path], *, temperature_tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE) -> AuditReport:
    """Audit every FITS file under the given folders (or files)."""
    check_temperature_tolerance(temperature_tolerance)
    infos, unreadable = scan(paths)
    return audit_frames(paths, infos, unreadable, temperature_tolerance)


def audit_frames(
    paths: Sequence[Path], infos: list[FrameInfo], unreadable: list[Unreadable], temperature_tolerance: float
) -> AuditReport:
    """The audit of headers already read (`flatseq audit` of a night reads them once for both parts)."""
    infos = [i for i in infos if i.kind is not FrameKind.MASTER]
    darks = [i for i in infos if i.kind.is_dark]
    bias = [i for i in infos if i.kind is FrameKind.BIAS]
    groups = [r for g in group_flats(infos, temperature_tolerance=temperature_tolerance) for r in sky_rungs(g)]
    sets = [audit_set(g, rung_darks(g, darks), bias, temperature_tolerance) for g in groups]
    findings = [f for s in sets for f in s.findings]
    findings += _mixing(sets)
    findings += [Finding("unreadable", MISTAKE, u.reason, None, None, (u.path,)) for u in unreadable]
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.kind.label] = counts.get(info.kind.label, 0) + 1
    root = Path(paths[0]) if len(paths) == 1 else Path(".")
    return AuditReport(root, len(infos) + len(unreadable), sets, findings, unreadable, counts)


def render_table(report: AuditReport) -> str:
    """The report for people: one line per flat set, then every finding."""
    lines = []
    parts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts.items()))
    lines.append(f"{report.root}: {report.frames} FITS files ({parts or 'none readable'})")
    if report.sets:
        rows = [("set", "filter", "exposure", "flats", "dark-flats", "bias", "status")]
        for s in report.sets:
            flats = f"{s.flats}" + (f" (+{s.rejected_flats} rej.)" if s.rejected_flats else "")
            rows.append(
                (
                    s.key,
                    s.filter or "-",
                    "?" if s.exposure is None else format_seconds(s.exposure),
                    flats,
                    str(s.dark_flats),
                    str(s.bias),
                    s.status,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append("")
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    else:
        lines.append("no flats found")
    for severity, title in ((MISTAKE, "mistakes"), (NOTE, "notes")):
        chosen = [f for f in report.findings if f.severity == severity]
        if chosen:
            lines.append("")
            lines.append(f"{title}:")
            lines += [f"  [{f.kind}] {f.message}" for f in chosen]
    lines.append("")
    count = len(report.mistakes)
    lines.append("clean: no mistakes found" if report.ok else f"{count} mistake{'s' if count != 1 else ''} found")
    return "\n".join(lines)
