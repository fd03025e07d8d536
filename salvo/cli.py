"""The ``salvo`` command: one argparse front that dispatches to each package's ``cli.py``.

Each package's ``cli`` module exposes ``register(subparsers)``, which adds its
subcommands and sets ``func`` (``func(args) -> int`` exit status) on each.  The
``cli`` modules import only the standard library at module level; heavy imports
happen inside the handlers, so ``salvo --help`` stays fast and a machine without
PortAudio can still run everything but live audio.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from salvo import __version__
from salvo.errors import SalvoError

# Order is the order of ``salvo --help``.
_CLI_MODULES = ("sim.cli", "locator.cli", "sensor_node.cli", "locator.service_cli", "salvo.demo", "dashboard.cli")


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``salvo`` argument parser from every package's ``register``."""
    parser = argparse.ArgumentParser(
        prog="salvo",
        description="Salvo: open acoustic gunshot detection and location.",
    )
    parser.add_argument("--version", action="version", version=f"salvo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A package whose cli is not written yet; anything else missing is a real error.
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``salvo`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SalvoError as exc:
        print(f"salvo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
