"""Flat sets and what must match within them: grouping flats, and every way a dark-flat (or bias) differs
from its flats, named by the keyword the file really has.

Flats are grouped by FLATSET (with RUNID: two runs may both have an 'Ha_4s') when the files carry it, else
by equal settings (filter, exposure, gain, offset, binning, readout mode, set-point; sensor temperatures
clustered within the tolerance when there is no set-point).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sequencer.calibration.frames import (
    DEFAULT_TEMPERATURE_TOLERANCE,
    EXPOSURE_REL_TOLERANCE,
    FrameInfo,
    format_seconds,
)
from sequencer.output.keywords import FrameKind


@dataclass(frozen=True)
class Mismatch:
    """One way a calibration frame differs from its flats, naming the file and the keyword."""

    path: Path
    field: str
    keyword: str
    found: object
    expected: object

    @property
    def category(self) -> str:
        return _CATEGORIES[self.field]

    def message(self) -> str:
        return (
            f"{self.path}: {self.keyword} = {show_value(self.found)} where the flats have {show_value(self.expected)}"
        )


_CATEGORIES = {
    "exposure": "different-duration",
    "gain": "changed-gain-offset",
    "offset": "changed-gain-offset",
    "xbinning": "different-binning",
    "ybinning": "different-binning",
    "shape": "different-binning",
    "origin": "different-region",
    "readout": "different-readout-mode",
    "ccd_temp": "different-temperature",
    "set_temp": "different-temperature",
}


def show_value(value: object) -> str:
    """A header value as a message shows it: 4 → '4', 'High Gain' → "'High Gain'", shape → '800×600'."""
    if value is None:
        return "(missing)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in reversed(value))
    return repr(value) if isinstance(value, str) else str(value)


def same_exposure(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= max(1e-6, EXPOSURE_REL_TOLERANCE * max(abs(a), abs(b)))


@dataclass(frozen=True)
class FlatSettings:
    """What a flat set's calibration frames must share with it (the field notes' list)."""

    exposure: float | None
    gain: float | None
    offset: float | None
    xbinning: int | None
    ybinning: int | None
    readout: str | None
    ccd_temp: float | None
    set_temp: float | None
    shape: tuple[int, int]
    bayer: str | None = None
    origin: tuple[int, int] | None = None

    @classmethod
    def of(cls, flats: Sequence[FrameInfo]) -> FlatSettings:
        """The flats' common settings (the first flat's, with the mean sensor temperature)."""
        first = flats[0]
        temps = [f.ccd_temp for f in flats if f.ccd_temp is not None]
        return cls(
            exposure=first.exposure,
            gain=first.gain,
            offset=first.offset,
            xbinning=first.xbinning,
            ybinning=first.ybinning,
            readout=first.readout,
            ccd_temp=sum(temps) / len(temps) if temps else None,
            set_temp=first.set_temp,
            shape=first.shape,
            bayer=first.bayer,
            origin=first.origin,
        )

    def mismatches(
        self,
        frame: FrameInfo,
        *,
        temperature_tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE,
        check_exposure: bool = True,
        check_temperature: bool = True,
    ) -> list[Mismatch]:
        """Every setting in which `frame` differs from these flats. Missing keywords on either side are not
        differences (an uncooled camera writes no CCD-TEMP), except the image size."""
        out: list[Mismatch] = []

        def add(name: str, found: object, expected: object) -> None:
            out.append(Mismatch(frame.path, name, frame.keyword(name), found, expected))

        if frame.shape != self.shape:
            add("shape", frame.shape, self.shape)
        elif (frame.origin or (0, 0)) != (self.origin or (0, 0)):  # the same size elsewhere on the sensor
            add("origin", frame.origin or (0, 0), self.origin or (0, 0))
        if (
            check_exposure
            and frame.exposure is not None
            and self.exposure is not None
            and not same_exposure(frame.exposure, self.exposure)
        ):
            add("exposure", frame.exposure, self.exposure)
        for name in ("gain", "offset", "xbinning", "ybinning"):
            mine, theirs = getattr(frame, name), getattr(self, name)
            if mine is not None and theirs is not None and mine != theirs:
                add(name, mine, theirs)
        if frame.readout is not None and self.readout is not None and frame.readout != self.readout:
            add("readout", frame.readout, self.readout)
        if frame.bayer is not None and self.bayer is not None and frame.bayer != self.bayer:
            add("bayer", frame.bayer, self.bayer)  # a colour master of two mosaics mixes colours pixel by pixel
        if check_temperature:
            if frame.set_temp is not None and self.set_temp is not None and abs(frame.set_temp - self.set_temp) > 0.05:
                add("set_temp", frame.set_temp, self.set_temp)
            elif (
                frame.ccd_temp is not None
                and self.ccd_temp is not None
                and abs(frame.ccd_temp - self.ccd_temp) > temperature_tolerance
            ):
                add("ccd_temp", frame.ccd_temp, round(self.ccd_temp, 2))
        return out


# --- grouping -----------------------------------------------------------------------------------------


@dataclass
class FlatGroup:
    """The flats of one flat set: by FLATSET when the files carry it, otherwise by equal settings."""

    key: str
    flats: list[FrameInfo]
    rejected: list[FrameInfo] = field(default_factory=list)

    @property
    def first(self) -> FrameInfo:
        return (self.flats or self.rejected)[0]

    @property
    def settings(self) -> FlatSettings:
        return FlatSettings.of(self.flats or self.rejected)

    @property
    def filter(self) -> str | None:
        return self.first.filter

    @property
    def exposure(self) -> float | None:
        return self.first.exposure

    @property
    def flat_set(self) -> str | None:
        return self.first.flat_set

    def links(self, frame: FrameInfo) -> bool:
        """Whether `frame` carries this set's id (FLATSET, and RUNID when both have one: two runs may both
        have an 'Ha_4s')."""
        first = self.first
        if not first.flat_set or frame.flat_set != first.flat_set:
            return False
        return first.run_id is None or frame.run_id is None or frame.run_id == first.run_id

    def label(self) -> str:
        exp = "?" if self.exposure is None else format_seconds(self.exposure)
        return f"{self.key} ({self.filter or 'no filter'}, {exp})"


def _settings_key(info: FrameInfo) -> tuple[object, ...]:
    exposure = None if info.exposure is None else round(info.exposure, 4)
    return (
        info.instrument,
        info.filter,
        exposure,
        info.gain,
        info.offset,
        info.xbinning,
        info.ybinning,
        info.readout,
        info.set_temp,
        info.shape,
        info.origin,
        None if info.rotation is None else round(info.rotation, 1),
    )


def _temperature_clusters(frames: list[FrameInfo], tolerance: float) -> Iterator[list[FrameInfo]]:
    """Split frames whose sensor temperatures spread more than `tolerance` (no SET-TEMP to group by)."""
    with_temp = sorted((f for f in frames if f.ccd_temp is not None), key=lambda f: f.ccd_temp or 0.0)
    without = [f for f in frames if f.ccd_temp is None]
    cluster: list[FrameInfo] = []
    for frame in with_temp:
        assert frame.ccd_temp is not None
        if cluster and frame.ccd_temp - (cluster[0].ccd_temp or 0.0) > tolerance:
            yield cluster
            cluster = []
        cluster.append(frame)
    if cluster or without:
        yield cluster + without


def group_flats(
    infos: Iterable[FrameInfo], *, temperature_tolerance: float = DEFAULT_TEMPERATURE_TOLERANCE
) -> list[FlatGroup]:
    """Flats grouped into flat sets, in file order. REJECTED flats are kept aside in their set."""
    flats = [f for f in infos if f.kind is FrameKind.FLAT]
    by_set: dict[tuple[str | None, str], list[FrameInfo]] = {}
    loose: dict[tuple[object, ...], list[FrameInfo]] = {}
    for flat in flats:
        if flat.flat_set:
            by_set.setdefault((flat.run_id, flat.flat_set), []).append(flat)
        else:
            loose.setdefault(_settings_key(flat), []).append(flat)
    runs_per_set: dict[str, int] = {}
    for _run, set_id in by_set:
        runs_per_set[set_id] = runs_per_set.get(set_id, 0) + 1
    groups = [
        FlatGroup(
            set_id if runs_per_set[set_id] == 1 or not run else f"{run}/{set_id}",
            [f for f in members if not f.rejected],
            [f for f in members if f.rejected],
        )
        for (run, set_id), members in by_set.items()
    ]
    for members in loose.values():
        for cluster in _temperature_clusters(members, temperature_tolerance):
            first = cluster[0]
            exp = "?" if first.exposure is None else f"{first.exposure:g}s"
            key = f"{first.filter or 'nofilter'}-{exp}"
            if first.gain is not None:
                key += f"-g{first.gain:g}"
            if first.ccd_temp is not None and first.set_temp is None:
                key += f"-{first.ccd_temp:+.0f}C"
            groups.append(FlatGroup(key, [f for f in cluster if not f.rejected], [f for f in cluster if f.rejected]))
    _disambiguate(groups)
    return groups


def _disambiguate(groups: list[FlatGroup]) -> None:
    counts: dict[str, int] = {}
    for group in groups:
        counts[group.key] = counts.get(group.key, 0) + 1
    seen: dict[str, int] = {}
    for group in groups:
        if counts[group.key] > 1:
            seen[group.key] = seen.get(group.key, 0) + 1
            group.key = f"{group.key}#{seen[group.key]}"


# --- sky sets: one set, several exposures -------------------------------------------------------------


def is_sky(flats: Sequence[FrameInfo]) -> bool:
    """A sky set's flats carry SUNALT (the run's sky flats; the manifest's own sky record is not needed)."""
    return any(f.sun_altitude is not None for f in flats)


def rung(frame: FrameInfo) -> float | None:
    """A frame's rung on the exposure ladder: the exposure asked (EXPREQ), else as timed (EXPTIME)."""
    return frame.exposure_requested if frame.exposure_requested is not None else frame.exposure


def by_rung(frames: Sequence[FrameInfo]) -> list[tuple[float | None, list[FrameInfo]]]:
    """Frames grouped by rung (equal within `same_exposure`), shortest first, file order within a rung."""
    groups: list[tuple[float | None, list[FrameInfo]]] = []
    for frame in frames:
        for exposure, members in groups:
            if same_exposure(exposure, rung(frame)):
                members.append(frame)
                break
        else:
            groups.append((rung(frame), [frame]))
    return sorted(groups, key=lambda g: -1.0 if g[0] is None else g[0])


def sky_rungs(group: FlatGroup) -> list[FlatGroup]:
    """A sky set as the audit judges it: one group per rung (its dark-flats are those of its own exposure);
    any other set as it is. Rejected flats go with their rung, or are left out when it has no usable flat."""
    if not is_sky(group.flats + group.rejected) or len(by_rung(group.flats)) < 2:
        return [group]
    rejected = by_rung(group.rejected)
    out = []
    for exposure, flats in by_rung(group.flats):
        also = next((r for e, r in rejected if same_exposure(e, exposure)), [])
        label = "?" if exposure is None else format_seconds(exposure)
        out.append(FlatGroup(f"{group.key} @{label}", flats, also))
    return out


def rung_darks(group: FlatGroup, darks: Sequence[FrameInfo]) -> list[FrameInfo]:
    """The darks a sky rung is judged with: its set's dark-flats of its own exposure, and any unlinked dark."""
    if not is_sky(group.flats + group.rejected):
        return list(darks)
    exposure = rung(group.first)
    return [d for d in darks if not group.links(d) or same_exposure(rung(d), exposure)]


def describe_ladder(exposures: Sequence[float]) -> str:
    """'1s-2.44s ladder, 4 exposures' (or '1 s' for a ladder of one rung)."""
    if len(exposures) == 1:
        return format_seconds(exposures[0])
    return f"{min(exposures):g}s-{max(exposures):g}s ladder, {len(exposures)} exposures"
