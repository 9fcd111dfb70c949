"""`flatseq sim alpaca`: the simulated bench served over ASCOM Alpaca (127.0.0.1 unless told otherwise), for
other programs (alpyca, N.I.N.A., ConformU) and flatseq's own Alpaca drivers."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from drivers.errors import ConfigError
from simulators.alpaca.discovery import DISCOVERY_PORT
from simulators.alpaca.server import AlpacaServer
from simulators.devices.faults import parse_fault
from simulators.physics.options import add_option_argument, options_from_cli

if TYPE_CHECKING:
    from simulators.devices.bench import Bench

CLI_HELP = "serve the simulated bench (camera, flat panel, filter wheel) over ASCOM Alpaca"


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)"
    )
    parser.add_argument("--port", type=int, default=11111, help="TCP port (default 11111; 0 picks a free one)")
    parser.add_argument("--sensor", default="small", help="simulated sensor preset (small, imx455, imx571)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the simulated bench")
    parser.add_argument("--cover", action="store_true", help="give the flat panel a motorised cover (a flip-flat)")
    parser.add_argument(
        "--discovery", action="store_true", help="answer Alpaca discovery on 127.0.0.1 (off by default)"
    )
    parser.add_argument("--discovery-port", type=int, default=DISCOVERY_PORT, help="UDP discovery port (default 32227)")
    parser.add_argument(
        "--legacy", action="store_true", help="answer as Platform 6 devices (Connected only, no Connect/DeviceState)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    add_option_argument(parser)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="MOMENT[:N]=ACTION",
        help="strike a fault when the bench sees a moment for the Nth time, e.g. lit_exposure:3=freeze, "
        "dark_exposure:2=kill, light_off=panel.unplugged, lit_exposure=garbage (for fault tests; repeatable)",
    )


def arm_fault(spec: str, bench: Bench, server: AlpacaServer) -> None:
    """Arm one `--fault MOMENT[:N]=ACTION` on the served bench."""
    try:
        moment, nth, action = parse_fault(spec)
    except ValueError as exc:
        raise ConfigError(f"--fault {exc}") from None
    device, _, effect = action.partition(".")
    actions: dict[str, Callable[[], None]] = {
        "freeze": lambda: os.kill(os.getpid(), signal.SIGSTOP),
        "kill": lambda: os.kill(os.getpid(), signal.SIGKILL),
        "garbage": server.answer_garbage,
    }
    bench.faults.at(moment, nth, actions.get(action) or (lambda: bench.faults.inject(device, effect)))


def serve_cli(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly and exit 0."""
    from simulators.devices.bench import Bench

    options: dict[str, Any] = {"cover": True} if args.cover else {}
    options.update(options_from_cli(args.option))
    bench = Bench(sensor=args.sensor, seed=args.seed, **options)
    server = AlpacaServer.for_bench(
        bench,
        host=args.host,
        port=args.port,
        discovery=args.discovery,
        discovery_port=args.discovery_port,
        quiet=not args.verbose,
        legacy=args.legacy,
    )
    for spec in args.fault:
        arm_fault(spec, bench, server)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        print(f"Alpaca server for the simulated bench (sensor {args.sensor}) at {server.base_url}")
        labels = {"camera": "camera", "panel": "flat panel", "filter_wheel": "filter wheel"}
        for role, url in server.equipment_urls.items():
            print(f"  {labels[role] + ':':14s}{url}")
        if server.discovery is not None:
            print(f"  discovery:    UDP 127.0.0.1:{server.discovery.port}")
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Alpaca server stopped.", flush=True)
    return 0
