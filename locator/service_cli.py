"""``salvo locator --config locator.toml`` and ``salvo alerts --follow [--url URL]``.

Only the standard library is imported at module level (see ``salvo.cli``).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``locator`` and ``alerts`` subcommands."""
    p = subparsers.add_parser(
        "locator", help="run the locator service (node ingest, association, alerts, store)",
        description="Run the locator service: authenticated TCP ingest from nodes, online association and solving, "
                    "incidents in SQLite, alerts over HTTP Server-Sent Events, /health and /metrics.",
    )
    p.add_argument("--config", required=True, help="locator.toml")
    p.add_argument("--quiet", action="store_true", help="do not print alerts on stdout")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    p.set_defaults(func=_run_locator)

    a = subparsers.add_parser(
        "alerts", help="print a locator's alerts as they arrive",
        description="Follow a locator's alert feed (Server-Sent Events) and print one line per alert; "
                    "reconnects by itself and replays what it missed.",
    )
    a.add_argument("--follow", action="store_true", help="keep following (the default; kept for clarity)")
    a.add_argument("--url", default="http://127.0.0.1:7701", help="locator HTTP address (default %(default)s)")
    a.add_argument("--json", action="store_true", help="print each alert's JSON instead of a line")
    a.add_argument("--max", type=int, default=None, help="stop after this many alerts")
    a.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    a.set_defaults(func=_run_alerts)


def _run_locator(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from locator.service import serve
    from locator.service_config import load_keys, load_sensor_array, load_service_config

    import sys

    # The event loop (sockets, HMAC, SQLite) and the association thread share the GIL.  Every
    # system call the loop makes gives the GIL up and must win it back; with CPython's default
    # 5 ms switch interval that waits out the association's turn each time, so under load one
    # ack costs milliseconds of queueing.  A 0.5 ms interval lets the loop in sooner (measured
    # in benchmarks/bench_live.py).
    sys.setswitchinterval(0.0005)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_service_config(args.config)
    sensors = load_sensor_array(cfg.sensors)
    keys = load_keys(cfg.keys)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready(ports: tuple[int, int]) -> None:
            # One machine-readable line, for scripts (salvo demo) that started us with port 0.
            print(f"salvo locator ready ingest={ports[0]} http={ports[1]}", flush=True)

        await serve(cfg, sensors, keys, stop=stop, ready=ready, print_alerts=not args.quiet)

    asyncio.run(main())
    return 0


def _run_alerts(args: argparse.Namespace) -> int:
    from locator.alerts import follow

    try:
        follow(args.url, max_alerts=args.max, timeout_s=args.timeout, as_json=args.json)
    except KeyboardInterrupt:
        return 0
    return 0
