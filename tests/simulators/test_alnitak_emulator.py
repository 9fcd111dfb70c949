"""The emulator on the wire: exact replies, liberal command framing, state, and `flatseq sim alnitak`.

These talk to the pty with plain pyserial, byte for byte, the way third-party clients do (INDI sends
`>P000\\n` and reads to LF; N.I.N.A. sends `>POOO\\r` and wants `OOO` back).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

import simulators
from drivers.base import CoverState, LightState
from drivers.clock import VirtualClock
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.firmware import FirmwareConfig
from simulators.alnitak.wire import take_commands

REPO = Path(__file__).resolve().parents[2]


def _bench(cover: bool) -> simulators.Bench:
    return simulators.Bench(sensor="small", seed=0, clock=VirtualClock(), cover=cover)


FlipFlat = tuple[AlnitakEmulator, serial.Serial, simulators.Bench]


@pytest.fixture
def flipflat() -> Iterator[FlipFlat]:
    bench = _bench(cover=True)
    with AlnitakEmulator.on_bench(bench, product=99, firmware=213) as emu:
        assert emu.path is not None
        port = serial.Serial(emu.path, 9600, timeout=1)
        yield emu, port, bench
        port.close()


def ask(port: serial.Serial, command: bytes) -> bytes:
    port.reset_input_buffer()
    port.write(command)
    return bytes(port.read_until(b"\n"))


def test_every_command_answers_as_the_published_table(flipflat: FlipFlat) -> None:
    emu, port, bench = flipflat
    assert ask(port, b">P000\n") == b"*P99000\n"
    assert ask(port, b">V000\n") == b"*V99213\n"
    assert ask(port, b">C000\n") == b"*C99000\n"
    assert ask(port, b">S000\n")[:5] == b"*S991"  # motor running right after >C
    bench.clock.sleep(10)  # let the bench's cover motor finish
    assert ask(port, b">S000\n") == b"*S99001\n"  # stopped, light off, closed
    assert ask(port, b">B128\n") == b"*B99128\n"
    assert ask(port, b">J000\n") == b"*J99128\n"
    assert ask(port, b">L000\n") == b"*L99000\n"
    assert ask(port, b">S000\n") == b"*S99011\n"
    assert ask(port, b">D000\n") == b"*D99000\n"
    assert ask(port, b">O000\n") == b"*O99000\n"
    assert emu.received == [
        ">P000",
        ">V000",
        ">C000",
        ">S000",
        ">S000",
        ">B128",
        ">J000",
        ">L000",
        ">S000",
        ">D000",
        ">O000",
    ]


def test_the_reply_filler_echoes_the_commands(flipflat: FlipFlat) -> None:
    _, port, _ = flipflat
    assert ask(port, b">POOO\r") == b"*P99OOO\n"  # N.I.N.A.'s spelling
    assert ask(port, b">P000\n") == b"*P99000\n"  # INDI's


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n", b""])
def test_commands_are_accepted_however_terminated(flipflat: FlipFlat, terminator: bytes) -> None:
    _, port, _ = flipflat
    assert ask(port, b">J000" + terminator) == b"*J99000\n"


def test_framing_skips_noise_and_drops_truncated_commands() -> None:
    buffer = bytearray(b"\x00xx>P000\r\n>B12\n>J000>S0")
    assert take_commands(buffer) == [">P000", ">J000"]
    assert bytes(buffer) == b">S0"


def test_brightness_is_clamped_and_unknown_commands_get_no_reply(flipflat: FlipFlat) -> None:
    _, port, _ = flipflat
    assert ask(port, b">B999\n") == b"*B99255\n"
    port.write(b">X000\n>Bzzz\n")
    assert port.read(1) == b""  # nothing, until the port's 1 s timeout
    assert ask(port, b">J000\n") == b"*J99255\n"


@pytest.mark.parametrize(("eol", "ending"), [("lf", b"\n"), ("crlf", b"\r\n"), ("cr", b"\r")])
@pytest.mark.parametrize("filler", ["000", "OOO"])
def test_reply_ending_and_fixed_filler_are_configurable(eol: str, ending: bytes, filler: str) -> None:
    emu = AlnitakEmulator.on_bench(_bench(cover=False), product=19, eol=eol, filler=filler)
    with emu, serial.Serial(emu.path, timeout=1) as port:
        port.write(b">P000\n")
        assert port.read_until(ending) == b"*P19" + filler.encode() + ending


def test_the_light_drives_the_bench_panel_and_the_state_shows_it() -> None:
    bench = _bench(cover=False)
    with AlnitakEmulator.on_bench(bench, product=10) as emu, serial.Serial(emu.path, timeout=1) as port:
        ask(port, b">B040\n")
        assert bench.panel.light_state() is LightState.OFF  # brightness is stored while dark
        ask(port, b">L000\n")
        assert bench.panel.light_state() is not LightState.OFF
        assert bench.panel.brightness() == 40
        ask(port, b">B090\n")
        assert bench.panel.brightness() == 90  # changed while on
        state = emu.state()
        assert (state.light_on, state.brightness, state.cover) == (True, 90, CoverState.NOT_PRESENT)
        ask(port, b">D000\n")
        assert not emu.state().light_on
        assert bench.panel.light_state() is LightState.OFF


def test_a_flip_flat_keeps_the_light_off_while_open_and_darkens_when_opening() -> None:
    bench = _bench(cover=True)  # the bench's cover starts open
    with AlnitakEmulator.on_bench(bench, product=99) as emu, serial.Serial(emu.path, timeout=1) as port:
        assert ask(port, b">L000\n") == b"*L99000\n"  # acknowledged ...
        assert not emu.state().light_on  # ... but refused
        ask(port, b">C000\n")
        bench.clock.sleep(10)
        ask(port, b">L000\n")
        assert emu.state().light_on
        ask(port, b">O000\n")
        assert not emu.state().light_on
        assert emu.state().cover is CoverState.MOVING
        assert bench.panel.light_state() is LightState.OFF


def test_a_flat_man_ignores_cover_commands_and_a_flip_mask_has_no_light() -> None:
    with AlnitakEmulator.on_bench(_bench(cover=False), product=15) as emu, serial.Serial(emu.path, timeout=1) as p:
        assert ask(p, b">O000\n") == b"*O15000\n"
        assert ask(p, b">S000\n") == b"*S15000\n"
        assert emu.state().cover is CoverState.NOT_PRESENT
    with AlnitakEmulator.on_bench(_bench(cover=True), product=98) as emu, serial.Serial(emu.path, timeout=1) as p:
        ask(p, b">L000\n")
        assert not emu.state().light_on


def test_a_bench_cover_needs_a_product_with_a_cover() -> None:
    with pytest.raises(ValueError, match="has a cover but product 19"):
        AlnitakEmulator.on_bench(_bench(cover=True), product=19)


def test_without_a_bench_cover_the_emulator_runs_its_own_motor() -> None:
    bench = _bench(cover=False)
    with AlnitakEmulator.on_bench(bench, product=99, motor_time=4.0) as emu, serial.Serial(emu.path, timeout=1) as p:
        assert ask(p, b">S000\n") == b"*S99001\n"  # starts closed
        ask(p, b">O000\n")
        bench.clock.sleep(3.9)
        assert ask(p, b">S000\n") == b"*S99100\n"
        bench.clock.sleep(0.2)
        assert ask(p, b">S000\n") == b"*S99002\n"


def test_firmware_config_is_validated() -> None:
    with pytest.raises(ValueError, match="filler"):
        FirmwareConfig(filler="xxx")
    with pytest.raises(ValueError, match="product"):
        FirmwareConfig(product=100)


def test_stop_removes_the_pty() -> None:
    emu = AlnitakEmulator.on_bench(_bench(cover=False), product=19).start()
    path = emu.path
    assert path is not None and os.path.exists(path)
    emu.stop()
    assert not emu.alive


def test_flatseq_sim_alnitak_prints_the_url_and_stops_cleanly_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "sim", "alnitak", "--product", "19", "--tcp", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        pty_url = proc.stdout.readline().strip()
        tcp_url = proc.stdout.readline().strip()
        assert pty_url.startswith("alnitak:///dev/")
        assert tcp_url.startswith("alnitak+socket://127.0.0.1:")
        with serial.Serial(pty_url.removeprefix("alnitak://"), timeout=5) as port:
            assert ask(port, b">P000\n") == b"*P19000\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reap it and close its pipes
