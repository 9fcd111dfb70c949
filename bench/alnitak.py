"""The Alnitak driver's cost per command over a real pty, against raw pyserial, timed in the same run.

    .venv/bin/python bench/alnitak.py [--commands 2000] [--repeat 3]

Baseline: a bare pyserial loop that writes `>J000\\n` and reads to LF (what INDI's driver does, without
any checking). Ours: `AlnitakPanel.brightness()`, i.e. flush, send, frame LF/CR LF/CR, validate, with the
lock and bounded retries. Both talk to the same emulator thread, so the ratio is the driver's overhead
(pty and emulator time are in both). Also reported: the brightness-search step `light_on(b)` on a
Flip-Flat (cover check, >B, >L, status check = 4 exchanges) as exchanges per second.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import serial

from drivers.alnitak.panel import open_alnitak
from drivers.clock import VirtualClock
from drivers.registry import OpenContext
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.devices.bench import Bench


def best_of(repeat: int, work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.commands

    clock = VirtualClock()
    bench = Bench(sensor="small", clock=clock, cover=True)
    with AlnitakEmulator.on_bench(bench, product=99) as emu:
        assert emu.path is not None
        raw = serial.Serial(emu.path, 9600, timeout=2)

        def baseline() -> None:
            for _ in range(n):
                raw.write(b">J000\n")
                if not raw.read_until(b"\n").startswith(b"*J"):
                    raise RuntimeError("bad reply")

        base = best_of(args.repeat, baseline)
        raw.close()

        panel = open_alnitak(f"{emu.url}?timeout=2", OpenContext(clock=clock))
        panel.connect()

        def ours() -> None:
            for _ in range(n):
                panel.brightness()

        mine = best_of(args.repeat, ours)
        panel.close_cover()
        panel.wait_for_cover()
        steps = max(1, n // 4)

        def search_steps() -> None:
            for i in range(steps):
                panel.light_on(i % 256)

        light = best_of(args.repeat, search_steps)
        panel.light_off()
        panel.disconnect()

    print(f"raw pyserial >J round trip : {base / n * 1e6:8.1f} us/command")
    print(f"driver brightness()        : {mine / n * 1e6:8.1f} us/command")
    print(f"ratio driver / raw         : {mine / base:8.2f}x")
    print(f"light_on(b) on a Flip-Flat : {light / steps * 1e3:8.2f} ms/step (4 exchanges)")
    print("(on a real 9600-baud line one 6+8-byte exchange takes >= 14.6 ms of wire time alone)")


if __name__ == "__main__":
    main()
