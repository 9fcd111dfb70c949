"""Real INDI peers for the tests: `indiserver` with drivers on a free 127.0.0.1 port and a throwaway HOME (INDI
keeps its config in ~/.indi), INDI's own indi_getprop / indi_setprop, and the pty shim indi_flipflat needs.

A missing INDI program fails the test that needs it (CI installs Debian's indi-bin): an INDI test that is
skipped proves nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import quote

from drivers.clock import SystemClock, wait_until
from tests.support.tools import require

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
"""INDI's serial handshake drops RTS with an ioctl Linux ptys refuse; this gives ptys the modem-line ioctls."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def build_shim(directory: Path) -> Path:
    require("cc")
    source, shim = directory / "modem_lines.c", directory / "modem_lines.so"
    source.write_text(MODEM_LINES_SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(source), "-ldl"], check=True)
    return shim


@dataclass
class IndiServer:
    """A running indiserver: its port, environment and log; `prop` reads and writes through INDI's own tools."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]

    def url(self, device: str, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"indi://127.0.0.1:{self.port}/{quote(device)}" + (f"?{query}" if query else "")

    def get(self, spec: str, timeout: float = 2) -> str | None:
        """indi_getprop -1 DEVICE.PROPERTY.MEMBER: the value, None if it does not answer."""
        got = subprocess.run(
            ["indi_getprop", "-p", str(self.port), "-t", f"{timeout:g}", "-1", spec],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout + 10,
        )
        return got.stdout.strip() if got.returncode == 0 and got.stdout.strip() else None

    def answers(self, device: str) -> bool:
        return self.get(f"{device}.CONNECTION.CONNECT", 1) is not None

    def set(self, spec: str) -> None:
        subprocess.run(["indi_setprop", "-p", str(self.port), spec], env=self.env, check=True, timeout=10)

    def freeze(self) -> None:
        """The server stopped dead (SIGSTOP): its sockets stay open and nothing answers; thawed when the block ends."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGSTOP)

    def kill(self) -> None:
        """The server and its drivers gone at once (SIGKILL), as a crash or a pulled network cable."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@contextmanager
def indiserver(
    home: Path, drivers: Sequence[str], devices: Sequence[str], *, env: dict[str, str] | None = None
) -> Iterator[IndiServer]:
    """indiserver running `drivers` (executables, or "@host:port" to chain another server) until the block ends;
    waits until every one of `devices` answers indi_getprop."""
    require("indiserver", "indi_getprop", "indi_setprop")
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = dict(os.environ, HOME=str(home), **(env or {}))
    log = home / "indiserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["indiserver", "-p", str(port), "-u", str(home / "indiserver.sock"), *drivers],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = IndiServer(port, environment, log, process)
    try:
        for device in devices:
            answered = wait_until(SystemClock(), partial(server.answers, device), timeout=20, poll=0.2)
            assert answered, f"{device} never showed up on indiserver: {log.read_text()[-2000:]}"
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGCONT)  # a frozen server must be thawed to hear SIGTERM
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
