"""INDI's own Alnitak driver (`indi_flipflat`, Debian's indi-bin) drives the emulator unchanged.

One catch, which is INDI's and not the protocol's: its handshake drops RTS with `ioctl(TIOCMBIC)`, and
Linux pseudo-terminals have no modem lines, so the kernel answers ENOTTY and INDI refuses the port
(any pty: ours, socat's). The test therefore preloads a 10-line shim that gives ptys the modem-line
ioctls every UART has; the INDI binary, its bytes and its parsing are untouched. Skipped where
indi-bin or a C compiler is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import simulators
from drivers.base import CoverState, LightState
from drivers.clock import SystemClock, wait_until
from simulators.alnitak.emulator import AlnitakEmulator

TOOLS = ("indiserver", "indi_flipflat", "indi_getprop", "indi_setprop", "cc")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(tool) is None for tool in TOOLS), reason="needs indi-bin and a C compiler"),
]

MODEM_LINES_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>
int ioctl(int fd, unsigned long request, ...) {
    va_list ap; va_start(ap, request); void *arg = va_arg(ap, void *); va_end(ap);
    int (*real)(int, unsigned long, ...) = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    int rc = real(fd, request, arg);
    if (rc != 0 && errno == ENOTTY && isatty(fd)) {
        if (request == TIOCMGET) { *(int *)arg = TIOCM_DTR | TIOCM_CTS | TIOCM_DSR | TIOCM_CAR; return 0; }
        if (request == TIOCMBIC || request == TIOCMBIS || request == TIOCMSET) return 0;
    }
    return rc;
}
"""

DEVICE = "Flip Flat"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def indi(tmp_path: Path) -> Iterator[Callable[..., str | None]]:
    shim = tmp_path / "modem_lines.so"
    source = tmp_path / "modem_lines.c"
    source.write_text(MODEM_LINES_SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(source), "-ldl"], check=True)
    port = str(_free_port())
    env = dict(os.environ, HOME=str(tmp_path), LD_PRELOAD=str(shim))
    server = subprocess.Popen(
        ["indiserver", "-p", port, "-u", str(tmp_path / "indiserver.sock"), "indi_flipflat"],  # own local socket
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def prop(name: str, value: str | None = None) -> str | None:
        """indi_getprop (value None) or indi_setprop of `Flip Flat.<name>`."""
        if value is not None:
            subprocess.run(["indi_setprop", "-p", port, f"{DEVICE}.{name}={value}"], env=env, check=True)
            return value
        got = subprocess.run(
            ["indi_getprop", "-p", port, "-t", "1", "-1", f"{DEVICE}.{name}"],
            env=env,
            capture_output=True,
            text=True,
        )
        return got.stdout.strip() if got.returncode == 0 else None

    try:
        assert wait_until(SystemClock(), lambda: prop("CONNECTION.CONNECT") is not None, timeout=15, poll=0.2)
        yield prop
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def eventually(check: Callable[[], bool]) -> bool:
    return wait_until(SystemClock(), check, timeout=15, poll=0.2)


def test_indi_flipflat_connects_parks_and_lights_the_emulated_flip_flat(indi: Callable[..., str | None]) -> None:
    bench = simulators.Bench(sensor="small", seed=0, clock=SystemClock(), cover=True, cover_time=0.5)
    with AlnitakEmulator.on_bench(bench, product=99, firmware=213) as emu:
        indi("DEVICE_PORT.PORT", emu.path)
        indi("CONNECTION.CONNECT", "On")
        assert eventually(lambda: indi("Firmware.Version") == "213")
        assert emu.received[:2] == [">P000", ">V000"]
        assert eventually(lambda: indi("Status.Cover") == "Open")  # the bench's cover starts open

        indi("CAP_PARK.PARK", "On")  # INDI's "park" closes the cover
        assert eventually(lambda: indi("Status.Cover") == "Closed")
        assert emu.state().cover is CoverState.CLOSED

        indi("FLAT_LIGHT_INTENSITY.FLAT_LIGHT_INTENSITY_VALUE", "77")
        indi("FLAT_LIGHT_CONTROL.FLAT_LIGHT_ON", "On")
        assert eventually(lambda: emu.state().light_on and indi("Status.Light") == "On")
        assert emu.state().brightness == 77
        assert bench.panel.brightness() == 77
        assert ">B077" in emu.received and ">L000" in emu.received

        indi("FLAT_LIGHT_CONTROL.FLAT_LIGHT_OFF", "On")
        assert eventually(lambda: not emu.state().light_on and indi("Status.Light") == "Off")
        assert bench.panel.light_state() is LightState.OFF
