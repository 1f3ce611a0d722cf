"""``kzvoice run``: run services in this process until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse

from services.runtime import registered_services, run_services


def register(subparsers: argparse._SubParsersAction) -> None:
    installed = ", ".join(registered_services()) or "none installed"
    parser = subparsers.add_parser(
        "run", help="run the services in one process",
        description="Run kzvoice services in this process until SIGTERM or SIGINT, then drain and exit 0. "
                    "Broker, store, ports and the event loop (KZ_EVENT_LOOP: asyncio or uvloop) come from "
                    "KZ_* environment variables (README.md, \"Configuration\").")
    parser.add_argument("--only", metavar="NAMES",
                        help=f"comma-separated subset of: {installed} (default: all installed)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    return run_services(names)
