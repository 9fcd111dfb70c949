"""Properties of the brightness search over many panels: within its trial budget, range-invariant, a flat or
a reason every time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sequencer.brightness.response import PanelResponse, PanelShape
from sequencer.brightness.search import find_brightness
from sequencer.brightness.trials import SearchResult, Verdict, Window
from tests.support.search import PEDESTAL, RANGE, TARGET_SIGNAL, WINDOW
from tests.support.synthetic_panel import Curve, SyntheticPanel, full_for, gamma, linear, threshold

# -- properties ----------------------------------------------------------------------------------------------------


curves = st.one_of(
    st.just(("linear", 1.0, 0.0)),
    st.tuples(st.just("gamma"), st.floats(1.2, 2.6), st.just(0.0)),
    st.tuples(st.just("threshold"), st.just(1.0), st.floats(5, 60)),
)


def make_curve(kind: str, exponent: float, start: float) -> Curve:
    if kind == "gamma":
        return gamma(exponent)
    if kind == "threshold":
        return threshold(start)
    return linear()


def reachable(panel: SyntheticPanel) -> bool:
    """Some integer brightness puts the (noise-free) mean comfortably inside the window."""
    inner = Window.from_target(0.5, 0.08)
    return any(inner.contains(panel.mean(b)) for b in range(256))


RANGES = [(0, 255), (1, 255), (20, 100), (0, 1023), (0, 4095)]
"""Brightness ranges of real panels: 8-bit (0 or 1 for off), a percentage dimmer with a floor, 10 and 12 bits."""


@dataclass(frozen=True)
class Case:
    """A panel, a camera and a target, drawn so that the target is reachable with room to spare."""

    panel: SyntheticPanel
    window: Window
    brightness_range: tuple[int, int]
    kind: str
    shape: PanelShape

    def search(self, prior: PanelResponse | None = None) -> SearchResult:
        return find_brightness(
            self.panel.measure,
            self.window,
            self.brightness_range,
            exposure=1.0,
            pedestal_adu=self.panel.pedestal,
            prior=prior,
        )

    def first_measures_a_level(self, result: SearchResult) -> bool:
        first = result.trials[0]
        return first.verdict is not Verdict.SATURATED and first.mean - self.panel.pedestal > 0.02 * (
            self.window.target_adu - self.panel.pedestal
        )


@st.composite
def cases(draw: st.DrawFn, kinds: tuple[str, ...] = ("linear", "gamma", "threshold")) -> Case:
    """Any range, curve, target, pedestal, camera depth and frame-to-frame noise; the light at full brightness
    between 1 and 1000 times what the target needs (beyond that no exposure is sensible), and at least two
    brightness steps inside a window narrower than the one searched."""
    low, high = draw(st.sampled_from(RANGES))
    kind = draw(st.sampled_from(kinds))
    if kind == "gamma":
        exponent = draw(st.floats(1.2, 2.6))
        curve, shape = gamma(exponent, high), PanelShape(0.0, exponent)
    elif kind == "threshold":
        start = draw(st.floats(0.02, 0.25)) * high
        curve, shape = threshold(start, high), PanelShape(start, 1.0)
    else:
        curve, shape = linear(high), PanelShape(0.0, 1.0)
    max_adu = draw(st.sampled_from([65535, 65535, 4095]))
    target = draw(st.floats(0.2, 0.8))
    window = Window.from_target(target, 0.1, max_adu)
    pedestal = draw(st.floats(0.005, 0.05)) * max_adu
    wanted = low + (high - low) * math.exp(draw(st.floats(math.log(1.0 / high), 0.0)))
    assume(curve(wanted) > 0)
    full = (window.target_adu - pedestal) / curve(wanted)
    assume(full <= 1000 * (window.target_adu - pedestal))
    noise = draw(st.sampled_from([0.0, 0.01, 0.02]))
    seed = draw(st.integers(0, 2**16))
    panel = SyntheticPanel(curve, full, pedestal=pedestal, noise=noise, seed=seed, max_adu=max_adu)
    inner = Window.from_target(target, 0.07, max_adu)
    assume(sum(inner.contains(panel.mean(b)) for b in range(low, high + 1)) >= 2)
    return Case(panel, window, (low, high), kind, shape)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(("linear", "gamma")))
def test_linear_and_gamma_panels_land_within_the_budget(case: Case) -> None:
    """Whatever the range, the camera's depth, the target and the noise: once a trial measures a level, a
    linear panel lands within three trials and a gamma one within four; a first trial that clips every pixel
    (the light unknown, the curve too) costs two more at most."""
    result = case.search()
    assert result.ok, (result.reason, case.panel.calls)
    assert case.window.contains(result.trials[-1].mean)
    budget = 3 if case.kind == "linear" else 4
    if not case.first_measures_a_level(result):
        budget += 2
    assert len(result.trials) <= budget, case.panel.calls


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(("threshold",)))
def test_threshold_panels_land(case: Case) -> None:
    """A panel dark below a threshold (up to a quarter of its range): every search lands. Near the threshold
    one step changes the light by tens of percent, so the target sits on a knife edge the first trials cannot
    see coming; the budget is wider there."""
    result = case.search()
    assert result.ok, (result.reason, case.panel.calls)
    assert len(result.trials) <= (6 if case.first_measures_a_level(result) else 10), case.panel.calls


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), factor=st.sampled_from([1 / 3, 0.5, 1.0, 2.0, 3.0]))
def test_a_learnt_curve_lands_on_the_second_trial(case: Case, factor: float) -> None:
    """The panel's curve learnt on another set, its light off by a filter's or exposure's ratio (up to 3x):
    the first trial measures the new scale and the second lands (a third when noise or a knife edge gets in
    the way); a first trial that clips costs two more at most."""
    high = case.brightness_range[1]
    light = case.panel.signal(high) * factor
    shape = case.shape
    scale = light / (high - shape.threshold) ** shape.gamma
    prior = PanelResponse(case.panel.pedestal, scale, shape.threshold, shape.gamma)
    result = case.search(prior=prior)
    assert result.ok, (result.reason, case.panel.calls)
    assert len(result.trials) <= (3 if case.first_measures_a_level(result) else 5), case.panel.calls


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["linear", "gamma", "threshold"]),
    exponent=st.floats(1.2, 2.6),
    start=st.floats(0.02, 0.25),
    where=st.floats(0.1, 1.0),
    target=st.floats(0.3, 0.7),
)
def test_the_same_panel_on_8_10_and_12_bits_takes_the_same_trials(
    kind: str, exponent: float, start: float, where: float, target: float
) -> None:
    """The search works in ratios, not in steps of a 0-255 panel: the same panel (its curve and light as
    fractions of its range) on 8-, 10- and 12-bit brightness takes the same number of trials, give or take
    one (a coarser range rounds differently; with the target below a tenth of the range, next to a
    threshold, an 8-bit panel's coarse steps can cost one more)."""
    window = Window.from_target(target, 0.1)
    counts = []
    for high in (255, 1023, 4095):
        if kind == "gamma":
            curve = gamma(exponent, high)
            wanted = where * high
        elif kind == "threshold":
            curve = threshold(start * high, high)
            wanted = start * high + where * (1 - start) * high
        else:
            curve = linear(high)
            wanted = where * high
        panel = SyntheticPanel(curve, full_for(curve, wanted, window.target_adu - PEDESTAL))
        result = find_brightness(panel.measure, window, (0, high), exposure=1.0, pedestal_adu=PEDESTAL)
        assert result.ok, (high, result.reason, panel.calls)
        counts.append(len(result.trials))
    assert max(counts) - min(counts) <= 1, counts


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curve=curves, wanted=st.floats(1, 254), target=st.floats(0.2, 0.8))
def test_every_search_ends_with_a_flat_or_a_reason(
    curve: tuple[str, float, float], wanted: float, target: float
) -> None:
    """Knife-edge panels (one step spans the window) and unreachable targets included: the search stops within
    its budget with either an in-window flat or one of the documented reasons."""
    window = Window.from_target(target, 0.1)
    response = make_curve(*curve)
    assume(response(wanted) > 0.002)
    panel = SyntheticPanel(response, full_for(response, wanted, window.target_adu - PEDESTAL))
    result = find_brightness(panel.measure, window, RANGE, exposure=1.0, pedestal_adu=PEDESTAL)
    assert len(result.trials) <= 12
    if result.ok:
        assert window.contains(result.trials[-1].mean)
    else:
        assert result.reason is not None
        assert result.reason.startswith(
            (
                "too dim at the maximum",
                "too bright at the minimum",
                "saturated at the minimum",
                "no brightness step lands",
                "did not converge",
            )
        )
        assert not any(
            window.contains(panel.mean(b)) for b in range(256) if b not in panel.calls
        ) or result.reason.startswith("did not converge")


@settings(max_examples=80, deadline=None)
@given(curve=curves, factor=st.floats(1.3, 30), high=st.booleans())
def test_unreachable_targets_fail_with_a_working_suggestion(
    curve: tuple[str, float, float], factor: float, high: bool
) -> None:
    """Too dim at the top or too bright (unsaturated) at the bottom of 20-255: the suggested exposure puts that
    end of the range inside the window."""
    response = make_curve(*curve)
    low_end = 20 if curve[0] != "threshold" else math.ceil(curve[2]) + 20
    edge = 255 if high else low_end
    signal_at_edge = TARGET_SIGNAL / factor if high else TARGET_SIGNAL * min(factor, 1.7)
    panel = SyntheticPanel(response, signal_at_edge / response(edge))
    result = find_brightness(panel.measure, WINDOW, (low_end, 255), exposure=1.0, pedestal_adu=PEDESTAL)
    assert not result.ok and result.reason is not None
    expected = "too dim at the maximum" if high else "too bright at the minimum"
    assert result.reason.startswith(expected), result.reason
    assert result.suggested_exposure is not None
    assert WINDOW.contains(panel.at_exposure(result.suggested_exposure).mean(edge))
    assert len(result.trials) <= 4
