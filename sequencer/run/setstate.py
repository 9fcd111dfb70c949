"""What the run learns about a flat set while taking it, and what it tells the books (manifest, journal,
summary) as the set goes. Shared by the executor and the searches it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from drivers.base import CameraSettings
from sequencer.brightness.exposuretrials import ExposureResult
from sequencer.brightness.trials import SearchResult, Window
from sequencer.plan.model import FlatSet
from sequencer.run.capture import Measured, Tally
from sequencer.run.darkflats import FlatSample


@dataclass
class SetState:
    """What the run learned about a flat set while taking it."""

    settings: CameraSettings
    readout_mode_name: str
    window: Window
    exposure: float | None = None
    """Seconds every frame of the set is asked for: the plan's, or the one the exposure search found (None until
    then). The dark-flats take exactly this."""
    settings_read: CameraSettings | None = None
    """The settings as the camera read them back at the start of the set: what its frames were taken with."""
    brightness: int | None = None
    kept_trial: Measured | None = None
    flats: list[Measured] = field(default_factory=list)
    trials: int = 0
    earlier: list[FlatSample] = field(default_factory=list)
    """Flats the set already had on disk when the run was resumed (they count toward its flats)."""
    flat_tally: Tally | None = None
    dark_tally: Tally | None = None
    """What is left to take, and the next frame numbers, for a resumed set (None: the whole set)."""
    note: str | None = None
    """What the summary says of a set that ended short (a sky set whose window closed first)."""
    dark_taken: int | None = None
    """Dark-flats taken, where that is not the set's count (a sky set: its count at each exposure used)."""

    @property
    def taken_with(self) -> CameraSettings:
        """The settings the set's frames were taken with: as read back, else (not read yet) as asked."""
        return self.settings_read if self.settings_read is not None else self.settings


class SetEvents(Protocol):
    """What the run is told as a set goes: for the manifest, the journal and the summary."""

    def set_started(self, fs: FlatSet, state: SetState) -> None: ...

    def settings_read(self, fs: FlatSet, settings: CameraSettings) -> None: ...

    def searched(self, fs: FlatSet, result: SearchResult) -> None: ...

    def searched_exposure(self, fs: FlatSet, result: ExposureResult, brightness: int | None) -> None:
        """An exposure search ended (found or not), at this panel brightness (None: a light switched by hand)."""
        ...

    def superseded(self, fs: FlatSet, reason: str) -> None:
        """A resumed set's earlier frames no longer count (the camera moved since): the set starts over."""
        ...
