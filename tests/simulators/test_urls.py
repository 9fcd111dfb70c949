"""sim:// URLs open devices through drivers.open and open_equipment, sharing one bench per run."""

from __future__ import annotations

import numpy as np
import pytest

import drivers
from drivers.base import Camera, CameraSettings, FilterWheel, FlatPanel
from drivers.clock import VirtualClock
from drivers.errors import ConfigError
from drivers.registry import OpenContext, open_equipment
from simulators.devices.bench import Bench
from simulators.devices.camera import SimCamera
from simulators.devices.panel import SimPanel
from simulators.devices.wheel import SimFilterWheel
from simulators.scheme import merged_options, open_sim, sim_options


def test_drivers_open_a_sim_camera() -> None:
    url = "sim://camera?sensor=small&seed=3"
    context = OpenContext(clock=VirtualClock(), urls=(url,))
    camera = drivers.open(url, context=context)
    assert isinstance(camera, SimCamera) and isinstance(camera, Camera)
    assert camera.name == "sim camera (small)"
    assert isinstance(context.bench, Bench) and context.bench.seed == 3 and context.bench.camera is camera


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sim://panel", SimPanel),
        ("sim://covercalibrator?cover=1", SimPanel),
        ("sim://filterwheel?filters=L,Ha", SimFilterWheel),
        ("sim://wheel", SimFilterWheel),
        ("SIM://Camera?sensor=imx571", SimCamera),
    ],
)
def test_kinds_and_aliases(url: str, kind: type) -> None:
    assert isinstance(drivers.open(url, clock=VirtualClock()), kind)


def test_open_equipment_shares_one_bench_built_from_every_sim_url() -> None:
    clock = VirtualClock()
    equipment = open_equipment(
        {
            "camera": "sim://camera?sensor=small&seed=7",
            "panel": "sim://panel?cover=1&curve=gamma",
            "filter_wheel": "sim://filterwheel?filters=L,Ha,OIII&fault=stuck",
        },
        clock=clock,
    )
    camera, panel, wheel = equipment.camera, equipment.panel, equipment.wheel
    assert isinstance(panel, FlatPanel) and isinstance(wheel, FilterWheel)
    assert isinstance(camera, SimCamera) and isinstance(panel, SimPanel) and isinstance(wheel, SimFilterWheel)
    bench = camera._bench
    assert isinstance(bench, Bench) and bench.panel is panel and bench.wheel is wheel
    assert panel._bench is bench and wheel._bench is bench
    assert bench.seed == 7 and bench.clock is clock
    assert bench.options.cover and bench.options.curve == "gamma" and bench.options.wheel_fault == "stuck"
    for device in (camera, panel, wheel):
        device.connect()
    assert wheel.names() == ["L", "Ha", "OIII"]
    # the camera sees this panel: closed cover + light = signal
    camera.apply(CameraSettings(gain=100, offset=50))
    panel.close_cover()
    panel.light_on(60)
    clock.sleep(5.0)
    assert bench.take(1.0).mean() > 1000


def test_an_injected_bench_is_used_as_is() -> None:
    bench = Bench(seed=9, clock=VirtualClock())
    context = OpenContext(clock=bench.clock, urls=("sim://camera",), bench=bench)
    assert open_sim("sim://camera", context) is bench.camera
    equipment = open_equipment({"camera": "sim://camera", "panel": "sim://panel"}, bench=bench)
    assert equipment.camera is bench.camera and equipment.panel is bench.panel


def test_open_sim_stores_the_bench_in_the_context() -> None:
    context = OpenContext(clock=VirtualClock(), urls=("sim://camera?seed=4", "sim://panel?max=1000"))
    camera = open_sim("sim://camera?seed=4", context)
    assert isinstance(context.bench, Bench)
    panel = open_sim("sim://panel?max=1000", context)
    assert isinstance(camera, SimCamera) and isinstance(panel, SimPanel)
    assert panel.brightness_range == (0, 1000)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sim://camera?colour=red", r"'sim://camera\?colour=red': unknown sim option 'colour'"),
        ("sim://telescope", r"unknown sim device 'telescope'"),
        ("sim://panel?fault=hang", r"fault='hang' is not a panel fault \(known: dead\)"),
        ("sim://camera?fault=melt", r"fault='melt' is not a camera fault"),
        ("sim://panel?curve=cubic", r"'sim://panel\?curve=cubic': sim option curve='cubic': expected one of"),
        ("sim://camera?vignetting=1.5", r"vignetting='1.5': must be a corner/centre ratio"),
        (
            "sim://camera?sensor=imx999",
            r"unknown sim sensor 'imx999' \(known: imx455, imx571, small, imx455c, imx571c, smallc\)",
        ),
        ("sim://camera?seed=x", r"sim option seed='x': expected an integer"),
        ("sim://panel?max=10&threshold=20", r"threshold=20: must be below max=10"),
        ("sim://filterwheel?filters=L,l", r"filter names must be unique"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_url_and_option(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        drivers.open(url, clock=VirtualClock())


def test_conflicting_options_between_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"conflicting sim option seed: '1' in 'sim://camera\?seed=1' but '2'"):
        open_equipment({"camera": "sim://camera?seed=1", "panel": "sim://panel?seed=2"}, clock=VirtualClock())


def test_faults_stay_with_their_device() -> None:
    assert sim_options("sim://camera?fault=hang") == {"camera_fault": "hang"}
    merged = merged_options(["sim://camera?fault=hang&seed=2", "sim://filterwheel?fault=stuck&seed=2"])
    assert merged == {"camera_fault": "hang", "seed": "2", "wheel_fault": "stuck"}
    bench = Bench.from_options({"fault": "dead"}, VirtualClock())
    assert bench.options.panel_fault == "dead" and bench.options.camera_fault is None


def test_the_same_url_options_give_the_same_frames() -> None:
    def frame() -> np.ndarray:
        url = "sim://camera?seed=5&dust=2"
        context = OpenContext(clock=VirtualClock(start=0.0), urls=(url,))
        camera = drivers.open(url, context=context)
        assert isinstance(camera, SimCamera) and isinstance(context.bench, Bench)
        camera.connect()
        return context.bench.take(0.5)

    np.testing.assert_array_equal(frame(), frame())
