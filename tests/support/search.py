"""The brightness tests' common ground: the window, the pedestal, a search on a synthetic panel and what a
found flat must satisfy."""

from __future__ import annotations

from sequencer.brightness.search import find_brightness
from sequencer.brightness.trials import SearchResult, Verdict, Window
from tests.support.synthetic_panel import SyntheticPanel

WINDOW = Window.from_target(0.5, 0.1)
PEDESTAL = 500.0
TARGET_SIGNAL = WINDOW.target_adu - PEDESTAL
RANGE = (0, 255)


def search(panel: SyntheticPanel, **kwargs: object) -> SearchResult:
    kwargs.setdefault("pedestal_adu", panel.pedestal)
    return find_brightness(panel.measure, WINDOW, RANGE, exposure=panel.exposure, **kwargs)  # type: ignore[arg-type]


def assert_found(result: SearchResult, panel: SyntheticPanel) -> None:
    assert result.ok, result.reason
    assert result.brightness is not None and result.flat is not None
    assert result.kept == len(result.trials) - 1
    assert result.flat.brightness == result.brightness
    assert result.flat.verdict is Verdict.IN_WINDOW
    assert WINDOW.contains(result.flat.mean)
    assert result.flat.stats.saturated == 0
    assert panel.calls == [t.brightness for t in result.trials]
    assert all(RANGE[0] <= b <= RANGE[1] for b in panel.calls)
