"""`flatseq sim indi`: the simulated bench served as INDI devices (127.0.0.1 unless told otherwise), for KStars/Ekos,
INDI's own tools (indi_getprop, indi_setprop), a real indiserver chaining it, and flatseq's own INDI drivers."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from simulators.indi.server import DEFAULT_PORT, IndiServer
from simulators.physics.options import add_option_argument, options_from_cli

CLI_HELP = "serve the simulated bench (camera, light box with cover, filter wheel) as INDI devices"


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default 7624; 0 picks a free one)")
    parser.add_argument("--sensor", default="small", help="simulated sensor preset (small, imx455, imx571)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the simulated bench")
    parser.add_argument("--no-cover", action="store_true", help="a light box without a dust cap (no CAP_PARK)")
    add_option_argument(parser)


def serve_cli(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly and exit 0."""
    from simulators.devices.bench import Bench

    options: dict[str, Any] = {} if args.no_cover else {"cover": True}
    options.update(options_from_cli(args.option))
    bench = Bench(sensor=args.sensor, seed=args.seed, **options)
    server = IndiServer.for_bench(bench, host=args.host, port=args.port)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        print(f"INDI server for the simulated bench (sensor {args.sensor}) at {args.host}:{server.port}")
        labels = {"camera": "camera", "panel": "light box", "filter_wheel": "filter wheel"}
        for role, url in server.equipment_urls.items():
            print(f"  {labels[role] + ':':14s}{url}")
        print("Ctrl-C or SIGTERM stops it.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("INDI server stopped.", flush=True)
    return 0
