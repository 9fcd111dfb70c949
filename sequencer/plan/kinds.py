"""The step kinds a plan is made of: one enum, so every place that handles steps can be checked to handle
all of them (`match` with `assert_never`)."""

from __future__ import annotations

import enum


class StepKind(enum.StrEnum):
    """What one step does to the equipment; the values are the names sequence files use."""

    CLOSE_COVER = "close_cover"
    OPEN_COVER = "open_cover"
    SELECT_FILTER = "select_filter"
    LIGHT_ON = "light_on"
    WAIT = "wait"
    FIND_BRIGHTNESS = "find_brightness"
    FIND_EXPOSURE = "find_exposure"
    FLATS = "flats"
    LIGHT_OFF = "light_off"
    DARK_FLATS = "dark_flats"
