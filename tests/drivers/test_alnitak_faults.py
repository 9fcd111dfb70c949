"""Each emulator fault mode gives the driver's documented error, bounded by its retries, and leaves it
usable (or, once the port is gone, cleanly closed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import simulators
from drivers.alnitak.panel import AlnitakPanel, open_alnitak
from drivers.clock import VirtualClock
from drivers.errors import DeviceDisconnected, DeviceError, DeviceTimeout, NotConnected
from drivers.registry import OpenContext
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.wire import Fault, FaultPlan

Rig = tuple[AlnitakEmulator, AlnitakPanel]


@pytest.fixture
def rig() -> Iterator[Callable[..., Rig]]:
    started: list[tuple[AlnitakEmulator, AlnitakPanel]] = []

    # Replies get a second: a loaded machine must not turn a healthy reply into a retry. Tests about
    # timeouts pass their own short ones.
    def make(query: str = "timeout=1&retries=2", tcp: bool = False, **options: object) -> Rig:
        clock = VirtualClock()
        bench = simulators.Bench(sensor="small", seed=0, clock=clock)
        emu = AlnitakEmulator.on_bench(bench, product=19, tcp_port=0 if tcp else None, **options).start()
        panel = open_alnitak(f"{emu.tcp_url if tcp else emu.url}?{query}", OpenContext(clock=clock))
        started.append((emu, panel))
        panel.connect()
        return emu, panel

    yield make
    for emu, panel in started:
        panel.disconnect()
        emu.stop()


def test_silent_device_times_out_after_bounded_retries_then_recovers(rig: Callable[..., Rig]) -> None:
    emu, panel = rig(query="timeout=0.2&retries=2")
    panel.light_on(42)
    emu.set_fault(FaultPlan(Fault.SILENT))
    before = len(emu.received)
    with pytest.raises(DeviceTimeout) as info:
        panel.brightness()
    assert str(info.value) == (
        f"Alnitak Flat-Man (id 19, fw 123) on {emu.path}: no complete reply within 0.2 s, 3 attempt(s); "
        "sent '>J000\\n', nothing came back"
    )
    assert emu.received[before:] == [">J000"] * 3
    emu.set_fault(FaultPlan())
    assert panel.brightness() == 42  # still connected, nothing stale in the way


def test_retries_option_bounds_the_attempts(rig: Callable[..., Rig]) -> None:
    emu, panel = rig(query="timeout=0.1&retries=0")
    emu.set_fault(FaultPlan(Fault.SILENT))
    before = len(emu.received)
    with pytest.raises(DeviceTimeout, match="1 attempt"):
        panel.status()
    assert len(emu.received) == before + 1


def test_a_silent_device_fails_the_handshake_cleanly() -> None:
    bench = simulators.Bench(sensor="small", seed=0, clock=VirtualClock())
    with AlnitakEmulator.on_bench(bench, product=19, fault=FaultPlan(Fault.SILENT)) as emu:
        panel = open_alnitak(f"{emu.url}?timeout=0.1&retries=1", OpenContext(clock=bench.clock))
        with pytest.raises(DeviceTimeout, match="sent '>P000\\\\n', nothing came back"):
            panel.connect()
        assert not panel.connected
        emu.set_fault(FaultPlan())
        panel.connect()  # a device that wakes up later can still be connected
        assert panel.product_id == 19


def test_garbage_everywhere_is_a_device_error_that_shows_what_came_back(rig: Callable[..., Rig]) -> None:
    emu, panel = rig()
    emu.set_fault(FaultPlan(Fault.GARBAGE))
    with pytest.raises(DeviceError) as info:
        panel.brightness()
    assert not isinstance(info.value, DeviceTimeout)
    assert "no valid reply after 3 attempt(s)" in str(info.value)
    assert info.value.sent == ">J000\n"
    assert info.value.answered  # the noise itself is in the message
    emu.set_fault(FaultPlan())
    assert panel.brightness() == 0


@pytest.mark.parametrize("seed", range(6))
def test_occasional_garbage_is_flushed_and_the_command_resynchronised(rig: Callable[..., Rig], seed: int) -> None:
    emu, panel = rig(seed=seed)
    emu.set_fault(FaultPlan(Fault.GARBAGE, count=2))
    panel.light_on(77)  # >B, >L, >S: the first two replies are noise or wrong replies
    assert emu.state().light_on
    assert panel.brightness() == 77
    assert emu.received.count(">B077") + emu.received.count(">L000") >= 3  # retried


def test_a_slow_device_times_out_with_the_documented_error(rig: Callable[..., Rig]) -> None:
    emu, panel = rig(query="timeout=0.2&retries=1")
    emu.set_fault(FaultPlan(Fault.SLOW, delay=0.5))  # longer than both attempts together
    with pytest.raises(DeviceTimeout, match=r"no complete reply within 0\.2 s, 2 attempt"):
        panel.status()
    emu.set_fault(FaultPlan())
    status = panel.status()  # the late replies never pass for this one
    assert not status.light_on


def test_a_late_reply_is_never_read_as_the_next_commands(rig: Callable[..., Rig]) -> None:
    emu, panel = rig(query="timeout=0.2&retries=2")
    panel.light_on(12)
    emu.set_fault(FaultPlan(Fault.SLOW, count=1, delay=0.3))
    assert panel.brightness() == 12  # first >J times out, the retry is answered
    # the first >J's late *J reply arrives now, while >S waits: it is flushed, not taken for status
    status = panel.status()
    assert status.light_on and not status.motor_running


def test_disconnect_after_n_commands_closes_the_driver_cleanly(rig: Callable[..., Rig]) -> None:
    emu, panel = rig(fault=FaultPlan(Fault.DISCONNECT, after=4))  # P, V, B, L served; S pulls the cable
    gone = r"the port went away during >S000 \(.+\); unplugged\?"  # the OS's words for it vary
    with pytest.raises(DeviceDisconnected, match=gone):
        panel.light_on(9)
    assert emu.received[2:] == [">B009", ">L000", ">S000"]
    assert not emu.alive
    assert not panel.connected
    with pytest.raises(NotConnected, match=r"not connected \(the port went away: .*\); call connect"):
        panel.light_off()


def test_unplug_on_demand(rig: Callable[..., Rig]) -> None:
    emu, panel = rig()
    panel.light_on(3)
    emu.unplug()
    with pytest.raises(DeviceDisconnected):
        panel.light_off()
    with pytest.raises(DeviceError, match="cannot open"):
        panel.connect()  # the pty is gone, as a pulled USB adapter's device node is


def test_a_dropped_tcp_connection_can_be_reconnected(rig: Callable[..., Rig]) -> None:
    _, panel = rig(tcp=True, fault=FaultPlan(Fault.DISCONNECT, after=2, count=1))
    with pytest.raises(DeviceDisconnected, match="socket disconnected"):
        panel.brightness()
    panel.connect()  # the listener is still there, like a ser2net bridge after a hiccup
    assert panel.brightness() == 0
