"""Frames → files: build each frame's header and hand it to the background FITS writer, which adds it to the
manifest once (and only once) its file has landed on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drivers.base import SETTING_NAMES, CameraInfo
from drivers.bayer import frame_pattern
from sequencer.output.filenames import expand_pattern
from sequencer.output.header import FrameHeader
from sequencer.output.keywords import FrameKind
from sequencer.output.writer import FrameWriter
from sequencer.plan.model import FlatSet
from sequencer.run.capture import Measured, Recorder
from sequencer.run.setstate import SetState


class FrameRecorder:
    """The run's `Recorder`: one header per frame, written in the background, listed when on disk."""

    def __init__(
        self,
        writer: FrameWriter,
        run_dir: Path,
        run_id: str,
        pattern: str,
        camera: CameraInfo,
        panel_max: int | None,
        states: dict[str, SetState],
    ) -> None:
        self.writer = writer
        self.run_dir = run_dir
        self.run_id = run_id
        self.pattern = pattern
        self.camera = camera
        self.panel_max = panel_max
        """The panel's top brightness; None for a light switched by hand (its flats carry no brightness)."""
        self.states = states

    def flat(self, fs: FlatSet, m: Measured, *, brightness: int, frame_no: int, rejected: str | None) -> None:
        self._record(FrameKind.FLAT, fs, m, frame_no, rejected, brightness if self.panel_max is not None else None)

    def dark_flat(self, fs: FlatSet, m: Measured, *, frame_no: int, rejected: str | None) -> None:
        self._record(FrameKind.DARK_FLAT, fs, m, frame_no, rejected, None)

    def _record(
        self, kind: FrameKind, fs: FlatSet, m: Measured, frame_no: int, rejected: str | None, brightness: int | None
    ) -> None:
        state = self.states[fs.id]
        exposure = m.exposure
        # What the camera did: its own timing, and the settings as it read them back for this set.
        unreported = self.camera.unreported if state.settings_read is not None else SETTING_NAMES
        header = FrameHeader(
            kind=kind,
            flat_set=fs.id,
            run_id=self.run_id,
            frame_no=frame_no,
            exposure=exposure.actual,
            exposure_requested=exposure.exposure,
            exposure_reported=exposure.reported.duration is not None,
            settings=state.taken_with,
            unreported=tuple(unreported),
            readout_mode_name=state.readout_mode_name,
            camera=self.camera.name,
            date_obs=exposure.actual_start,
            date_end=exposure.actual_start + exposure.actual,
            ccd_temp=exposure.ccd_temp,
            filter=fs.filter,
            panel_brightness=brightness,
            panel_max=self.panel_max if brightness is not None else None,
            stats=m.stats,
            rejected=rejected is not None,
            reject_reason=rejected,
            pixel_size_um=self.camera.pixel_size_um,
            bayer=frame_pattern(self.camera.bayer, state.taken_with.binning, state.taken_with.roi),
            lights_rotation=fs.lights.rotation if fs.lights is not None else None,
            lights_focus=fs.lights.focus if fs.lights is not None else None,
            sun_altitude=m.sun_altitude if kind is FrameKind.FLAT else None,
            site=fs.sky.site if fs.sky is not None and kind is FrameKind.FLAT else None,
        )
        self.writer.submit(m.exposure.frame, header, self.run_dir / expand_pattern(self.pattern, header))


class LateRecorder:
    """The executor is built before the output exists (camera checks come first): forward to the recorder once
    there is one."""

    def __init__(self, recorder: Callable[[], Recorder]) -> None:
        self._recorder = recorder

    def flat(self, fs: FlatSet, m: Measured, *, brightness: int, frame_no: int, rejected: str | None) -> None:
        self._recorder().flat(fs, m, brightness=brightness, frame_no=frame_no, rejected=rejected)

    def dark_flat(self, fs: FlatSet, m: Measured, *, frame_no: int, rejected: str | None) -> None:
        self._recorder().dark_flat(fs, m, frame_no=frame_no, rejected=rejected)
