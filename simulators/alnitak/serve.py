"""`flatseq sim alnitak`: the Alnitak emulator on a pty (and TCP) over a new simulated bench, for other
programs (INDI's indi_flipflat, N.I.N.A. through a virtual COM port) to drive."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from drivers.clock import SystemClock
from drivers.errors import ConfigError
from simulators.alnitak.emulator import AlnitakEmulator
from simulators.alnitak.firmware import COVER_PRODUCTS, FILLER_MODES, KNOWN_PRODUCTS
from simulators.alnitak.wire import REPLY_ENDINGS, Fault, FaultPlan

CLI_HELP = "emulate an Alnitak Flip-Flat / Flat-Man on a pseudo-terminal (and TCP) over a simulated bench"


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--product",
        type=int,
        default=99,
        choices=KNOWN_PRODUCTS,
        help="product id: 10/15/19 Flat-Man XL/L/plain, 98 Flip-Mask, 99 Flip-Flat (default)",
    )
    parser.add_argument("--firmware", type=int, default=123, help="firmware version reported by >V")
    parser.add_argument("--eol", choices=tuple(REPLY_ENDINGS), default="lf", help="reply terminator")
    parser.add_argument(
        "--filler", choices=FILLER_MODES, default="auto", help="reply filler: auto echoes the command's (000 or OOO)"
    )
    parser.add_argument("--motor-time", type=float, default=5.0, metavar="S", help="cover open/close time")
    parser.add_argument("--cover-jam", action="store_true", help="the cover never reaches its end stop")
    parser.add_argument("--tcp", type=int, metavar="PORT", help="also serve on 127.0.0.1:PORT (0: any)")
    parser.add_argument("--no-pty", action="store_true", help="serve TCP only")
    parser.add_argument("--fault", choices=[f.value for f in Fault], default="none")
    parser.add_argument("--fault-after", type=int, default=0, metavar="N", help="commands served before the fault")
    parser.add_argument("--fault-count", type=int, metavar="N", help="commands faulted (default: all)")
    parser.add_argument("--slow-delay", type=float, default=3.0, metavar="S", help="reply delay for --fault slow")
    parser.add_argument("--sensor", default="small", help="simulated bench sensor preset")
    parser.add_argument("--seed", type=int, default=0)


def _emulator(bench: Any, args: argparse.Namespace, plan: FaultPlan) -> AlnitakEmulator:
    return AlnitakEmulator.on_bench(
        bench,
        product=args.product,
        firmware=args.firmware,
        eol=args.eol,
        filler=args.filler,
        motor_time=args.motor_time,
        cover_jam=args.cover_jam,
        fault=plan,
        pty=not args.no_pty,
        tcp_port=args.tcp,
        seed=args.seed,
    )


def serve_cli(args: argparse.Namespace) -> int:
    """Start on a new bench, print the URLs to use, serve until Ctrl-C or SIGTERM, then stop cleanly."""
    from simulators.devices.bench import Bench  # imported late: the physics is only needed when serving

    clock = SystemClock()
    covered = args.product in COVER_PRODUCTS  # the bench's cover is then the motor, at --motor-time
    bench = Bench(sensor=args.sensor, seed=args.seed, clock=clock, cover=covered, cover_time=args.motor_time)
    plan = FaultPlan(Fault(args.fault), after=args.fault_after, count=args.fault_count, delay=args.slow_delay)
    try:
        emulator = _emulator(bench, args, plan)
    except ValueError as exc:  # the emulated firmware refuses (firmware 5000, a filler it does not know)
        raise ConfigError(str(exc)) from None
    done = threading.Event()

    def finish(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, finish) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with emulator:
            if emulator.path is not None:
                print(emulator.url, flush=True)
            if emulator.tcp_address is not None:
                print(emulator.tcp_url, flush=True)
            while not done.wait(timeout=0.5):  # a timed wait lets the main thread run its handler
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
