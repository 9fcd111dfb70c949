"""`flatseq sim alpaca`: prints the URLs to use, serves, stops cleanly on SIGTERM and Ctrl-C (exit 0)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest


def _start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "sim", "alpaca", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if "stops it" in line:
            break
    else:
        process.wait(10)
        pytest.fail(f"server did not start: {lines} {process.stderr.read() if process.stderr else ''}")
    return process, lines


def _url(lines: list[str], label: str) -> str:
    return next(line.split()[-1] for line in lines if line.strip().startswith(label))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled_then_exits_0(stop_signal: signal.Signals) -> None:
    process, lines = _start("--sensor", "small")
    try:
        camera = _url(lines, "camera:")
        assert camera.startswith("alpaca://127.0.0.1:") and camera.endswith("/camera/0")
        assert _url(lines, "flat panel:").endswith("/covercalibrator/0")
        assert _url(lines, "filter wheel:").endswith("/filterwheel/0")
        port = int(camera.split(":")[2].split("/")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/management/v1/configureddevices", timeout=10) as reply:
            devices = json.loads(reply.read())["Value"]
        assert {d["DeviceType"] for d in devices} == {"Camera", "CoverCalibrator", "FilterWheel"}
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "stopped" in out


def test_discovery_when_asked() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    discovery_port = probe.getsockname()[1]
    probe.close()
    process, lines = _start("--discovery", "--discovery-port", str(discovery_port))
    try:
        port = int(_url(lines, "camera:").split(":")[2].split("/")[0])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(10)
        sock.sendto(b"alpacadiscovery1", ("127.0.0.1", discovery_port))
        assert json.loads(sock.recvfrom(1024)[0]) == {"AlpacaPort": port}
        sock.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_port_in_use_is_a_clear_error() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sequencer", "sim", "alpaca", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert result.returncode == 2
    assert f"cannot serve Alpaca on 127.0.0.1:{port}" in result.stderr
