"""N.I.N.A.'s Auto Brightness Flat bisection, the baseline the search is measured against."""

from __future__ import annotations

from sequencer.brightness.bisection import bisection_search
from tests.support.search import RANGE, TARGET_SIGNAL, WINDOW
from tests.support.synthetic_panel import SyntheticPanel, full_for, linear

# -- the baseline ------------------------------------------------------------------------------------------------


def test_bisection_is_ninas_method() -> None:
    panel = SyntheticPanel(linear(), full_for(linear(), 40, TARGET_SIGNAL))
    result = bisection_search(panel.measure, WINDOW, RANGE, exposure=1.0)
    assert result.ok
    assert panel.calls[:4] == [128, 64, 32, 48]  # round half to even: (0 + 255) / 2 = 127.5 -> 128
    assert result.kept == len(result.trials) - 1


def test_bisection_never_reaches_the_top_and_spends_21_trials() -> None:
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 0.5)
    result = bisection_search(panel.measure, WINDOW, RANGE, exposure=1.0)
    assert not result.ok and len(result.trials) == 21
    assert 255 not in panel.calls and panel.calls[-1] == 254


def test_bisection_stops_after_trying_an_end_of_the_range() -> None:
    panel = SyntheticPanel(lambda b: (b + 1) / 256, TARGET_SIGNAL * 40 * 256)
    result = bisection_search(panel.measure, WINDOW, RANGE, exposure=1.0)
    assert not result.ok and panel.calls[-1] == 0 and len(result.trials) == 9
    assert result.reason is not None and result.reason.startswith("too bright at the minimum brightness 0")


def test_bisection_stalls_one_above_a_minimum_of_1() -> None:
    """round(1.5) is 2: like N.I.N.A., the search repeats 2 and never tries 1."""
    panel = SyntheticPanel(linear(), TARGET_SIGNAL * 40 * 255)
    result = bisection_search(panel.measure, WINDOW, (1, 255), exposure=1.0)
    assert not result.ok and len(result.trials) == 21
    assert 1 not in panel.calls and panel.calls[-1] == 2
