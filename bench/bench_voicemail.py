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
from bench.voicemail.report import HEADER, LEGEND, print_raw, print_verdicts
from bench.voicemail.run import (COMPRESSED_REPEATS, LEVELS, LOOPS, QUICK_REPEATS, REAL_REPEATS, REAL_REPEATS_BY_CALLS,
                                 levels_of, memory_options, raw_options, run_plan)
from bench.voicemail.service import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--quick", action="store_true",
                        help="100 calls, compressed time only, pinned only, 1 run per kind and event loop")
    parser.add_argument("--levels", default=None, help="comma-separated numbers of simultaneous calls")
    parser.add_argument("--kinds", default=None, help="comma-separated: compose, check (default both)")
    small = ", ".join(f"{n} at {calls}" for calls, n in REAL_REPEATS_BY_CALLS.items())
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"runs of every level (default {REAL_REPEATS} real time ({small} calls), "
                             f"{COMPRESSED_REPEATS} compressed, {QUICK_REPEATS} with --quick)")
    parser.add_argument("--placement", default=None, metavar="LIST",
                        help="comma-separated: pinned (the service process alone on one core; the driver, its load "
                             "and the local broker's beam.smp threads on the others; needs 2 cores and the right "
                             "to change the broker's affinity, else reported n/a), unpinned (as the scheduler "
                             "places them).  The first gets the compressed and traced levels too.  Default "
                             "unpinned,pinned (--quick: pinned)")
    parser.add_argument("--loop", default=None, metavar="LIST",
                        help=f"comma-separated event loops of the service process: {', '.join(LOOPS)}.  The first "
                             "runs every level; each further one runs the largest level of each kind (pinned when "
                             "pinned is in the plan) in a fresh service process, beside the first (A/B).  "
                             f"Default {','.join(LOOPS)}")
    parser.add_argument("--raw-rounds", type=int, default=None,
                        help="rounds of the raw aio-pika baseline (consume one message, publish one; default 5 of "
                             "10,000 messages, 2 of 3,000 with --quick; 0 skips it)")
    parser.add_argument("--no-compressed", action="store_true", help="real time only")
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (real time; default 10)")
    parser.add_argument("--memory", action="store_true",
                        help="also a traced level (tracemalloc) per kind after the latency levels, at the "
                             "largest level up to 100 callers")
    parser.add_argument("--verbose", action="store_true", help="latency by the command that followed the event")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--boxes", type=int, default=max(LEVELS), help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        from services.runtime import run_async
        from services.settings import Settings
        event_loop = Settings.from_env().event_loop          # KZ_EVENT_LOOP, as the runtime reads it
        profile = os.environ.get("KZ_BENCH_PROFILE")      # a file: cProfile of the service process
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(run_async, serve(args.amqp_url, args.boxes), event_loop)
            finally:
                profiler.dump_stats(profile)
        return run_async(serve(args.amqp_url, args.boxes), event_loop)
    url, cleanup = own_vhost(args.amqp_url)
    print("compose and check: N simultaneous callers against one voicemail_svc process (arriving over "
          f"{args.ramp:g} s); latency = call event handed to its session -> next command published")
    print(LEGEND)
    print(HEADER)
    plan = levels_of(args)
    raw = raw_options(args)
    if args.raw_rounds is not None:
        raw["raw_rounds"] = args.raw_rounds
    try:
        done = asyncio.run(run_plan(url, plan, args.ramp, verbose=args.verbose, **memory_options(args), **raw))
    except OSError as exc:
        print(f"bench_voicemail: broker unreachable: {exc}")
        return 1
    except asyncio.CancelledError:                        # SIGTERM: placements put back, processes stopped
        print("bench_voicemail: stopped")
        return 1
    finally:
        if cleanup is not None:
            cleanup()
    print_verdicts(done["rows"])
    print_raw(done["raw"])
    for what, why in done["not_run"]:
        print(f"{what}: n/a ({why})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_voicemail", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
