"""``kzvoice bench route``: the routing benchmark of ``bench/bench_route.py``.

``register`` adds the ``bench`` command with one sub-command per benchmark;
other benchmarks can join it as further sub-commands of ``bench``.  The
benchmarks live in the repository's ``bench/`` folder, which is not an
installed package: it is found beside this package when run from a checkout.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def _bench_module(name: str):
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parent.parent
        if not (root / "bench" / f"{name}.py").is_file():
            return None
        sys.path.insert(0, str(root))
        return importlib.import_module(f"bench.{name}")


def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="run a benchmark and print its figures")
    which = bench.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    route = which.add_parser("route", help="route_req -> route_resp through callflow_svc against raw aio-pika")
    module = _bench_module("bench_route")
    if module is None:
        route.set_defaults(func=lambda _args: print("kzvoice bench: bench/ is not in this installation") or 2)
        return
    module.add_arguments(route)
    route.set_defaults(func=module.run)
    bench.set_defaults(func=lambda _args: bench.print_help() or 2)
