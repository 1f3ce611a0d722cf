"""The ``kzvoice`` command line.

Each sub-command lives in the package it belongs to and exposes
``register(subparsers)``; this module only lists them.  A command module's
``register`` adds its parser with ``set_defaults(func=...)``, where ``func``
takes the parsed arguments and returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, what it adds) -- the order is the order of ``kzvoice --help``.
COMMAND_MODULES = (
    "services.commands.run",        # kzvoice run
    "services.store.commands",      # kzvoice import, kzvoice db init
    "services.config.commands",     # kzvoice config get|set|set-default|set-node|flush
    "services.media.commands",      # kzvoice prompts import|seed
    "gateway_sim.commands",         # kzvoice call
    "gateway_sim.demo",             # kzvoice demo
    "callflow_svc.bench_command",   # kzvoice bench route
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kzvoice",
        description="KAZOO-compatible call routing, voicemail and configuration services.",
        epilog="Configuration comes from KZ_* environment variables; see README.md.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
