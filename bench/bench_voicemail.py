"""Voicemail under load: N simultaneous callers compose or check with one voicemail_svc process.

``python -m bench.bench_voicemail [--quick]`` (``--help`` for the options); what
it does and how it measures is described in ``bench/voicemail/__init__.py``.
A measurement, not a test: it exits 0 unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from bench.common import own_vhost
from bench.voicemail.report import HEADER, print_verdicts
from bench.voicemail.run import (COMPRESSED_REPEATS, LEVELS, QUICK_REPEATS, REAL_REPEATS, levels_of, memory_options,
                                 run_levels)
from bench.voicemail.service import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--quick", action="store_true", help="100 calls, compressed time only")
    parser.add_argument("--levels", default=None, help="comma-separated numbers of simultaneous calls")
    parser.add_argument("--kinds", default=None, help="comma-separated: compose, check (default both)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"runs of every level (default {REAL_REPEATS} real time, {COMPRESSED_REPEATS} "
                             f"compressed, {QUICK_REPEATS} with --quick)")
    parser.add_argument("--no-compressed", action="store_true", help="real time only")
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (real time; default 10)")
    parser.add_argument("--memory", action="store_true",
                        help="also a tracemalloc run (separate service process) at the largest level")
    parser.add_argument("--verbose", action="store_true", help="latency by the command that followed the event")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--boxes", type=int, default=max(LEVELS), help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        profile = os.environ.get("KZ_BENCH_PROFILE")      # a file: cProfile of the service process
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(asyncio.run, serve(args.amqp_url, args.boxes))
            finally:
                profiler.dump_stats(profile)
        return asyncio.run(serve(args.amqp_url, args.boxes))
    url, cleanup = own_vhost(args.amqp_url)
    print("compose and check: N simultaneous callers against one voicemail_svc process (arriving over "
          f"{args.ramp:g} s); latency = call event handed to its session -> next command published")
    print(HEADER)
    try:
        rows = asyncio.run(run_levels(url, levels_of(args), args.ramp, verbose=args.verbose,
                                      **memory_options(args)))
    except OSError as exc:
        print(f"bench_voicemail: broker unreachable: {exc}")
        return 1
    finally:
        if cleanup is not None:
            cleanup()
    print_verdicts(rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_voicemail", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
