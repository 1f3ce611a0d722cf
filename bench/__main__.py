"""``python -m bench [--quick]`` (``make bench`` / ``make bench-quick``): every benchmark, one after the other.

Each benchmark prints its own table with the baseline it measured in the same
run; this runner only runs them in turn, in one process tree, and stops with a
non-zero status if one of them fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

BENCHMARKS = ("bench_validation", "bench_bus", "bench_config", "bench_store", "bench_route")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short version of every benchmark")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = []
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])])
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.1f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
