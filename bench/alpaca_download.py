"""Downloading one IMX455 frame (9576 x 6388, 122 MB) over Alpaca: ImageBytes vs JSON, in the same run.

    .venv/bin/python bench/alpaca_download.py [--repeat 3] [--no-alpyca]

The server is `flatseq sim alpaca --sensor imx455` in its own process on 127.0.0.1: the frame is
rendered by the simulated bench's physics once (the render time is printed apart and kept out of the
download figures: the first, untimed download renders it and the server keeps it). The client is
flatseq's Alpaca camera driver in this process, once with ImageBytes and once with `imagebytes=0`
(JSON, the fallback for servers without ImageBytes). As a reference, alpyca's ImageArray (ImageBytes,
returned as nested lists) is timed too.

Figures: wall time per download (median of `--repeat` for ImageBytes, one JSON download), and the
client's peak Python/numpy memory during a download (tracemalloc, a separate pass so its overhead
stays out of the times), as a multiple of the frame size. Targets: JSON / ImageBytes time >= 10x,
ImageBytes peak < 3x the frame.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.alpaca.camera import AlpacaCamera
from drivers.alpaca.url import open_alpaca
from drivers.clock import SystemClock
from drivers.registry import OpenContext

ROWS, COLS = 6388, 9576  # Sony IMX455
FRAME_BYTES = ROWS * COLS * 2
TARGET_SPEEDUP = 10.0
TARGET_PEAK = 3.0


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sequencer", "sim", "alpaca", "--sensor", "imx455", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip().startswith("camera:"):
            return process, line.split()[-1]
    raise SystemExit("the Alpaca simulator did not start")


def open_camera(url: str) -> AlpacaCamera:
    camera = open_alpaca(url, OpenContext(clock=SystemClock()))
    assert isinstance(camera, AlpacaCamera)
    camera.connect()
    return camera


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


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
    parser.add_argument("--repeat", type=int, default=3, help="ImageBytes downloads to take the median of")
    parser.add_argument("--no-alpyca", action="store_true", help="skip the alpyca reference download")
    args = parser.parse_args()

    server, url = start_server()
    try:
        camera = open_camera(url)
        clock = SystemClock()
        camera.start_exposure(0.01, light=False)
        while not camera.image_ready():
            clock.sleep(0.05)
        render, frame = timed(camera.read_image)  # renders the frame on the server, which keeps it
        assert frame.shape == (ROWS, COLS) and frame.dtype == np.uint16
        json_camera = open_camera(url + "?imagebytes=0&download_timeout=600")

        ib_times = [timed(camera.read_image)[0] for _ in range(max(1, args.repeat))]
        json_time, json_frame = timed(json_camera.read_image)
        assert np.array_equal(json_frame, frame), "JSON and ImageBytes frames differ"
        del json_frame
        ib_peak = peak_bytes(camera.read_image)
        json_peak = peak_bytes(json_camera.read_image)
        rows = [
            ("ImageBytes (flatseq)", statistics.median(ib_times), ib_peak),
            ("JSON (flatseq)", json_time, json_peak),
        ]

        if not args.no_alpyca:
            from alpaca.camera import Camera

            reference = Camera(url.split("/")[2], 0)

            def alpyca_image() -> Any:
                return reference.ImageArray

            alpyca_time, _ = timed(alpyca_image)
            rows.append(("ImageBytes (alpyca)", alpyca_time, peak_bytes(alpyca_image)))
        camera.disconnect()
        json_camera.disconnect()
    finally:
        server.terminate()
        server.wait(30)

    print(f"Alpaca download of a {COLS} x {ROWS} uint16 frame ({FRAME_BYTES / 1e6:.1f} MB) on 127.0.0.1")
    print(f"  server render (first read, not a download figure): {render:.2f} s")
    for name, seconds, peak in rows:
        print(f"  {name:22s} {seconds:7.2f} s   client peak {peak / 1e6:7.1f} MB = {peak / FRAME_BYTES:4.2f}x frame")
    speedup = json_time / statistics.median(ib_times)
    ib_ratio = ib_peak / FRAME_BYTES
    verdict = {True: "OK", False: "MISSED"}
    print(
        f"JSON / ImageBytes time: {speedup:.1f}x (target >= {TARGET_SPEEDUP:g}x) {verdict[speedup >= TARGET_SPEEDUP]}"
    )
    print(f"ImageBytes peak / frame: {ib_ratio:.2f}x (target < {TARGET_PEAK:g}x) {verdict[ib_ratio < TARGET_PEAK]}")
    print(f"JSON peak / frame: {json_peak / FRAME_BYTES:.2f}x")


if __name__ == "__main__":
    main()
