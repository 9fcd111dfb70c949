"""One IMX455 frame (9576 x 6388, 122 MB; a 163 MB base64 FITS BLOB in XML) over INDI into a numpy array, against
reading the same bytes from the socket without parsing them, in the same run.

    .venv/bin/python bench/indi_download.py [--repeat 3]

The server is `flatseq sim indi --sensor imx455 --option readout=0` in its own process on 127.0.0.1 (no
simulated readout wait); every exposure renders a new frame there and encodes it while sending. Both clients
ask for the same exposure and stop at the end of the BLOB: flatseq's INDI camera driver (XML parser, base64
decoded into one buffer, FITS turned into uint16 in place) and a raw socket loop that only looks for
`</setBLOBVector>`, each alone on the server. Both include the server's render and encoding, which run in
parallel with the client on the other core.

Figures: wall time per frame (median of `--repeat`), its ratio to the raw read, the client's CPU seconds, and
the client's peak Python/numpy memory during a download (tracemalloc, a separate pass), as a multiple of the
frame. Targets: within 1.5x of the raw read, peak < 3x the frame.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.clock import SystemClock, wait_until
from drivers.indi.device import IndiDevice
from drivers.indi.url import open_indi, parse_indi_url
from drivers.registry import OpenContext

ROWS, COLS = 6388, 9576
FRAME_BYTES = ROWS * COLS * 2
TARGET_RATIO = 1.5
TARGET_PEAK = 3.0
END = b"</setBLOBVector>"


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sequencer",
            "sim",
            "indi",
            "--sensor",
            "imx455",
            "--port",
            "0",
            "--option",
            "readout=0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip().startswith("camera:"):
            return process, line.split()[-1]
    raise SystemExit("the INDI simulator did not start")


def driver_download(camera: IndiDevice) -> np.ndarray:
    camera.start_exposure(0.001, light=False)
    assert wait_until(SystemClock(), camera.image_ready, timeout=120, poll=0.005)
    return camera.read_image()


class RawClient:
    """The same requests on a plain socket; the answer is read and counted, never parsed."""

    def __init__(self, url: str) -> None:
        address = parse_indi_url(url)
        self.device = address.device
        self.sock = socket.create_connection((address.host, address.port))
        self.buffer = bytearray(4 * 1024 * 1024)
        self.send(f'<getProperties version="1.7" device="{self.device}"/>')
        self.send(f'<enableBLOB device="{self.device}">Also</enableBLOB>')
        self.send(self._new("Switch", "CONNECTION", "CONNECT", "On"))
        self.sock.settimeout(1.0)
        try:
            while self.sock.recv_into(self.buffer):  # the definitions, until the server is quiet
                pass
        except TimeoutError:
            pass
        self.sock.settimeout(120)

    def _new(self, kind: str, prop: str, member: str, value: str) -> str:
        return (
            f'<new{kind}Vector device="{self.device}" name="{prop}"><one{kind} name="{member}">{value}'
            f"</one{kind}></new{kind}Vector>"
        )

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def download(self) -> int:
        self.send(self._new("Number", "CCD_EXPOSURE", "CCD_EXPOSURE_VALUE", "0.001"))
        view, total, tail = memoryview(self.buffer), 0, b""
        while True:
            n = self.sock.recv_into(view)
            if not n:
                raise SystemExit("the server closed the connection")
            total += n
            if self.buffer.find(END, 0, n) >= 0 or END in tail + bytes(view[: min(n, len(END))]):
                return total
            tail = (tail + bytes(view[max(0, n - len(END)) : n]))[-len(END) :]

    def close(self) -> None:
        self.sock.close()


def timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def peak_bytes(action: Callable[[], Any]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="downloads of each kind to take the median of")
    args = parser.parse_args()
    server, url = start_server()
    try:
        raw = RawClient(url)  # alone on the server first: neither client receives the other's images
        raw.download()  # warm-up: the bench builds its IMX455 maps once
        raw_runs = [timed(raw.download) for _ in range(max(1, args.repeat))]
        raw.close()
        camera = open_indi(url + "?download_timeout=120", OpenContext(clock=SystemClock()))
        camera.connect()
        frame = driver_download(camera)
        assert frame.shape == (ROWS, COLS) and frame.dtype == np.uint16
        del frame
        ours = [timed(lambda: driver_download(camera)) for _ in range(max(1, args.repeat))]
        peak = peak_bytes(lambda: driver_download(camera))
        camera.disconnect()
    finally:
        server.terminate()
        server.wait(timeout=30)
    raw_time, ours_time = statistics.median(r[0] for r in raw_runs), statistics.median(o[0] for o in ours)
    raw_cpu, ours_cpu = statistics.median(r[1] for r in raw_runs), statistics.median(o[1] for o in ours)
    ratio = ours_time / raw_time
    print(f"IMX455 frame over INDI ({raw_runs[0][2] / 1e6:.0f} MB on the socket, {FRAME_BYTES / 1e6:.0f} MB frame)")
    print(f"  raw socket read (no parsing):  {raw_time:6.2f} s   client CPU {raw_cpu:5.2f} s")
    print(f"  flatseq INDI driver to numpy:  {ours_time:6.2f} s   client CPU {ours_cpu:5.2f} s")
    print(f"  ratio {ratio:.2f}x the raw read (target <= {TARGET_RATIO:g}x)")
    print(f"  peak memory {peak / FRAME_BYTES:.2f}x the frame (target < {TARGET_PEAK:g}x)")
    ok = ratio <= TARGET_RATIO and peak / FRAME_BYTES < TARGET_PEAK
    print("targets met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
