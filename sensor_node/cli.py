"""``salvo node --config node.toml``: run a sensor node.

Only the standard library is imported at module level (see ``salvo.cli``).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``node`` subcommand."""
    p = subparsers.add_parser(
        "node", help="run a sensor node (microphone or file -> detections -> locator)",
        description="Run a sensor node: audio from a microphone (PortAudio) or a file, the sample clock mapped to "
                    "UTC, the impulse detector, signed detections spooled to disk and sent to the locator, heartbeats.",
    )
    p.add_argument("--config", required=True, help="node.toml")
    p.add_argument("--drain", type=float, default=5.0,
                   help="when the audio ends (file source), wait this long for the locator's acks, s (default 5)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from sensor_node.config import load_node_config
    from sensor_node.node import run_node

    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_node_config(args.config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    report = run_node(cfg, stop, drain_s=args.drain)
    print(f"salvo node {cfg.sensor_id}: {report.samples} samples, {report.detections} detections, "
          f"{report.spool_depth} unacknowledged, {report.dropped_blocks} audio blocks dropped, "
          f"clock {report.clock_state}", flush=True)
    return 0
