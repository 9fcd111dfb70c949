"""The Alnitak driver against the emulator over a real pseudo-terminal (and TCP once)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

import pytest

import simulators
from drivers.alnitak.panel import AlnitakPanel, open_alnitak
from drivers.alnitak.url import parse_alnitak_url
from drivers.base import CoverState, FlatPanel, LightState
from drivers.clock import VirtualClock
from drivers.errors import (
    ConfigError,
    DeviceError,
    InvalidOperation,
    InvalidValue,
    NotConnected,
    NotSupported,
)
from drivers.registry import OpenContext, open_device
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.opener import open_emulator

Rig = tuple[AlnitakEmulator, AlnitakPanel, simulators.Bench]


@pytest.fixture
def rig() -> Iterator[Callable[..., Rig]]:
    """rig(product=99, query="timeout=2", **emulator options) → (emulator, connected driver, bench).

    Replies get two seconds: on a loaded machine a short timeout turns a healthy reply into a retry; the tests
    about timeouts give their own."""
    started: list[tuple[AlnitakEmulator, AlnitakPanel]] = []

    def make(product: int = 99, query: str = "timeout=2", tcp: bool = False, **options: object) -> Rig:
        clock = VirtualClock()
        bench = simulators.Bench(sensor="small", seed=0, clock=clock, cover=product in (98, 99))
        emu = AlnitakEmulator.on_bench(bench, product=product, tcp_port=0 if tcp else None, **options).start()
        url = emu.tcp_url if tcp else emu.url
        panel = open_alnitak(f"{url}?{query}", OpenContext(clock=clock))
        started.append((emu, panel))
        panel.connect()
        return emu, panel, bench

    yield make
    for emu, panel in started:
        panel.disconnect()
        emu.stop()


def closed_flipflat(rig: Callable[..., Rig], **options: object) -> Rig:
    emu, panel, bench = rig(99, **options)
    panel.close_cover()
    assert panel.wait_for_cover() is CoverState.CLOSED
    return emu, panel, bench


def test_connect_handshakes_by_ping_then_firmware_version(rig: Callable[..., Rig]) -> None:
    emu, panel, _ = rig(99, firmware=213)
    assert emu.received == [">P000", ">V000"]
    assert (panel.product_id, panel.firmware_version) == (99, 213)
    assert panel.name == f"Alnitak Flip-Flat (id 99, fw 213) on {emu.path}"
    assert isinstance(panel, FlatPanel)
    assert panel.brightness_range == (0, 255)


@pytest.mark.parametrize(
    ("product", "name", "cover", "light"),
    [
        (10, "Flat-Man XL", False, True),
        (15, "Flat-Man L", False, True),
        (19, "Flat-Man", False, True),
        (98, "Flip-Mask", True, False),
        (99, "Flip-Flat", True, True),
    ],
)
def test_each_product_id_sets_name_and_capabilities(
    rig: Callable[..., Rig], product: int, name: str, cover: bool, light: bool
) -> None:
    emu, panel, _ = rig(product)
    assert panel.name.startswith(f"Alnitak {name} (id {product:02d}")
    assert (panel.has_cover, panel.has_light) == (cover, light)
    if not cover:
        assert panel.cover_state() is CoverState.NOT_PRESENT
        with pytest.raises(NotSupported, match="has no cover"):
            panel.open_cover()
        with pytest.raises(NotSupported, match="has no cover"):
            panel.close_cover()
    if not light:
        with pytest.raises(NotSupported, match="no light"):
            panel.light_on(10)
        panel.light_off()  # harmless: nothing to switch off
        assert panel.light_state() is LightState.OFF
        assert ">L000" not in emu.received


def test_light_on_sets_brightness_then_switches_on_and_reaches_the_bench(rig: Callable[..., Rig]) -> None:
    emu, panel, bench = rig(19)
    panel.light_on(128)
    assert emu.received[2:] == [">B128", ">L000", ">S000"]
    assert emu.state().light_on and emu.state().brightness == 128
    assert bench.panel.brightness() == 128
    assert bench.panel.light_state() is not LightState.OFF
    assert panel.light_state() is LightState.READY
    assert panel.brightness() == 128
    panel.light_off()
    assert emu.received[-1] == ">D000"
    assert not emu.state().light_on
    assert panel.light_state() is LightState.OFF
    assert bench.panel.light_state() is LightState.OFF


@pytest.mark.parametrize("bad", [-1, 256, 12.5, True])
def test_brightness_outside_0_255_or_not_an_integer_is_refused(rig: Callable[..., Rig], bad: object) -> None:
    emu, panel, _ = rig(19)
    with pytest.raises(InvalidValue, match="brightness"):
        panel.light_on(bad)  # type: ignore[arg-type]
    assert emu.received == [">P000", ">V000"]


def test_settle_option_reports_settling_then_ready_on_the_injected_clock(rig: Callable[..., Rig]) -> None:
    _, panel, bench = rig(10, query="timeout=2&settle=3")
    panel.light_on(50)
    assert panel.light_state() is LightState.SETTLING
    bench.clock.sleep(3.1)
    assert panel.light_state() is LightState.READY


def test_cover_moves_are_started_then_awaited_on_the_clock(rig: Callable[..., Rig]) -> None:
    emu, panel, bench = rig(99)
    assert panel.cover_state() is CoverState.OPEN  # where the bench put it
    panel.close_cover()
    assert panel.cover_state() is CoverState.MOVING
    assert emu.received[-2:] == [">C000", ">S000"]
    start = bench.clock.now()
    assert panel.wait_for_cover() is CoverState.CLOSED
    assert bench.clock.now() - start >= 2.9  # the bench's 3 s motor, waited for on the virtual clock
    panel.open_cover()
    assert panel.wait_for_cover() is CoverState.OPEN
    assert emu.state().cover is CoverState.OPEN


def test_light_is_refused_while_the_flip_flat_is_open_or_moving(rig: Callable[..., Rig]) -> None:
    emu, panel, _ = rig(99)
    with pytest.raises(InvalidOperation, match="cover is open; close it first") as info:
        panel.light_on(100)
    assert info.value.answered == "motor stopped, light off, cover open"
    panel.close_cover()
    with pytest.raises(InvalidOperation, match="cover is moving"):
        panel.light_on(100)
    assert ">L000" not in emu.received and ">B100" not in emu.received
    panel.wait_for_cover()
    panel.light_on(100)
    assert emu.state().light_on


def test_opening_a_lit_flip_flat_turns_its_light_off(rig: Callable[..., Rig]) -> None:
    emu, panel, _ = closed_flipflat(rig)
    panel.light_on(60)
    panel.open_cover()
    panel.wait_for_cover()
    assert not emu.state().light_on
    assert panel.light_state() is LightState.OFF


def test_a_jammed_cover_is_reported_as_an_error(rig: Callable[..., Rig]) -> None:
    _, panel, _ = rig(99, cover_jam=True)
    panel.close_cover()
    with pytest.raises(DeviceError, match="cover move timed out") as info:
        panel.wait_for_cover()
    assert "cover timed out" in str(info.value)
    assert panel.cover_state() is CoverState.ERROR


@pytest.mark.parametrize("eol", ["lf", "crlf", "cr"])
@pytest.mark.parametrize("filler", ["000", "OOO", "auto"])
def test_every_reply_ending_and_filler_is_understood(rig: Callable[..., Rig], eol: str, filler: str) -> None:
    emu, panel, _ = closed_flipflat(rig, eol=eol, filler=filler)
    panel.light_on(17)
    assert panel.brightness() == 17
    assert panel.light_state() is LightState.READY
    panel.light_off()
    assert not emu.state().light_on


@pytest.mark.parametrize(("eol", "filler"), [("cr", "OOO"), ("crlf", "000"), ("lf", "OOO")])
def test_the_driver_can_send_the_specs_cr_and_letter_fillers(rig: Callable[..., Rig], eol: str, filler: str) -> None:
    emu, panel, _ = rig(15, query=f"timeout=2&eol={eol}&filler={filler}")
    panel.light_on(5)
    assert emu.received[0] == f">P{filler}"
    assert emu.state().light_on


def test_over_tcp_too(rig: Callable[..., Rig]) -> None:
    emu, panel, _ = rig(19, tcp=True)
    assert emu.tcp_address is not None
    assert panel.name.endswith(f"on socket://127.0.0.1:{emu.tcp_address[1]}")
    panel.light_on(201)
    assert emu.state().brightness == 201 and emu.state().light_on


def test_two_threads_never_interleave_on_the_wire(rig: Callable[..., Rig]) -> None:
    emu, panel, _ = rig(19)
    panel.light_on(33)
    errors: list[BaseException] = []

    def hammer(call: Callable[[], object], expected: object) -> None:
        try:
            for _ in range(40):
                assert call() == expected
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=hammer, args=(panel.brightness, 33)),
        threading.Thread(target=hammer, args=(panel.light_state, LightState.READY)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(emu.received) == 2 + 3 + 80  # no retries were needed


def test_disconnect_and_reconnect(rig: Callable[..., Rig]) -> None:
    _, panel, _ = rig(19)
    panel.disconnect()
    assert not panel.connected
    with pytest.raises(NotConnected, match="call connect"):
        panel.brightness()
    panel.connect()
    assert panel.brightness() == 0


def test_a_missing_port_is_a_clear_error() -> None:
    panel = open_alnitak("alnitak:///dev/no-such-panel", OpenContext(clock=VirtualClock()))
    with pytest.raises(DeviceError, match="cannot open /dev/no-such-panel: No such file or directory"):
        panel.connect()
    assert not panel.connected


def test_the_registry_opens_alnitak_urls(rig: Callable[..., Rig]) -> None:
    emu, _, _ = rig(19)
    panel = open_device(emu.url, clock=VirtualClock())
    assert isinstance(panel, AlnitakPanel)
    assert panel.options.port == emu.path


def test_url_options_are_parsed_and_stripped_before_pyserial() -> None:
    opts = parse_alnitak_url("alnitak+socket://127.0.0.1:5000?timeout=0.5&retries=0&baud=19200&logging=debug")
    assert opts.port == "socket://127.0.0.1:5000?logging=debug"
    assert (opts.timeout, opts.retries, opts.baud, opts.eol, opts.filler) == (0.5, 0, 19200, "lf", "000")
    assert not opts.is_device_path
    path = parse_alnitak_url("alnitak:///dev/ttyACM0?EOL=CR&filler=ooo")
    assert (path.port, path.eol, path.filler, path.is_device_path) == ("/dev/ttyACM0", "cr", "OOO", True)
    assert parse_alnitak_url("alnitak://COM3").port == "COM3"
    assert parse_alnitak_url("alnitak+loop://").port == "loop://"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("alnitak:///dev/ttyACM0?eol=tab", "eol='tab' must be one of"),
        ("alnitak:///dev/ttyACM0?timeout=soon", "timeout='soon' is not a float"),
        ("alnitak:///dev/ttyACM0?retries=-1", "retries='-1' must be at least 0"),
        ("alnitak:///dev/ttyACM0?speed=9600", "unknown option"),
        ("alnitak://", "names no serial port"),
        ("alnitak+://x", "nothing after '+'"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_url(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_alnitak_url(url)


def test_loopback_echo_is_garbage_not_a_reply() -> None:
    """pyserial's loop:// hands our own command back: never mistaken for the device's answer."""
    panel = open_alnitak("alnitak+loop://?timeout=0.1&retries=1", OpenContext(clock=VirtualClock()))
    with pytest.raises(DeviceError, match="no valid reply after 2 attempt") as info:
        panel.connect()
    assert info.value.answered == ">P000"
    assert not panel.connected


def test_the_in_process_emulator_url_shares_the_run_bench_and_stops_with_the_driver() -> None:
    clock = VirtualClock()
    ctx = OpenContext(clock=clock)
    panel = open_emulator("alnitak+emulator://?product=15&reply_eol=crlf&timeout=2", ctx)
    assert ctx.bench is not None  # created for the run, for the sim:// devices opened after it
    panel.connect()
    assert panel.name.startswith("Alnitak Flat-Man L (id 15, fw 123) on /dev/")
    panel.light_on(66)
    assert ctx.bench.panel.brightness() == 66
    panel.light_off()
    panel.disconnect()
    panel.connect()  # the emulator restarts on a new pty, its state intact
    assert panel.brightness() == 66
    panel.disconnect()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("alnitak+emulator://?product=100", "product id must be 00-99"),
        ("alnitak+emulator://?fault=flaky", "fault='flaky' must be one of"),
        ("alnitak+emulator://?reply_eol=tab", "eol must be one of"),
        ("alnitak+emulator://?motor_time=slow", "motor_time='slow' is not a float"),
        ("alnitak+emulator://?colour=red", "unknown option(s) colour"),
    ],
)
def test_bad_emulator_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        open_emulator(url, OpenContext(clock=VirtualClock()))


def test_the_in_process_emulator_takes_fault_options() -> None:
    panel = open_emulator("alnitak+emulator://?fault=silent&timeout=0.05&retries=0", OpenContext(clock=VirtualClock()))
    with pytest.raises(DeviceError, match="nothing came back"):
        panel.connect()
    panel.disconnect()
