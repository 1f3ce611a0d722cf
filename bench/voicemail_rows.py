"""Voicemail under load, as rows for ``python -m bench``: bench_voicemail's compose and check levels.

Run with ``python -m bench.voicemail_rows [--quick]``.  The calls, pacing and
latency are bench_voicemail's own (``python -m bench.bench_voicemail``: N
simultaneous callers leave a message, or check two new messages, with one
voicemail_svc process, paced as real callers; a compressed-time ``x20``
figure beside it, labelled).  Every level runs several times (``--repeats``;
by default 2 in real time, 2 compressed at 10 and 100 calls; ``--quick``: 2
compressed at 100 calls, and no traced level) and each figure is the median of
the runs with their spread ``[min-max]``; p50 and p99 of one run are taken
over every command of that run.

* **CPU per call**: the service process's CPU time during the level / calls;
* **memory per active session (tracemalloc)**: from a traced level of its own
  at the largest level (tracemalloc slows the service, so its latency is not
  reported): memory allocated in the service process since the level began and
  still held when every caller is on the line, minus the growth of the
  in-memory store, divided by the active sessions;
* **memory per active session (RSS growth)**: peak RSS of the service process
  during the level minus its RSS before, divided by the sessions active at
  once.  It counts the allocator's arenas, the spool, buffers and stored
  messages as well, so it is an upper bound of what a session holds (and
  memory freed by an earlier level and reused lowers it).

Targets: command latency p99 <= 20 ms at 500 calls in real time (compose and
check), and <= 64 KiB per active session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import defaultdict

from bench.common import (Result, add_common_arguments, amqp_url_default, median, own_vhost, run_module, spread,
                          verdict)
from bench.voicemail import run as vm
from bench.voicemail.report import HEADER, rss_kib_per_session

TARGET_P99_MS = 20.0
TARGET_KIB = 64.0


def label(kind: str, calls: int, time: str) -> str:
    return f"{kind} x{calls} ({'real time' if time == 'real' else time + ' compressed'})"


def _done(kind: str, runs: list[dict]) -> str:
    if kind == "check":
        saved = median(r["folders"].get("saved", 0) for r in runs)
        deleted = median(r["folders"].get("deleted", 0) for r in runs)
        return f"{saved:g} messages saved and {deleted:g} deleted"
    return f"{median(r['stored'] for r in runs):g} messages stored"


def rows_to_result(rows: list[dict], quick: bool) -> Result:
    """Group the runs of every level (kind, time, calls) and turn them into table rows."""
    result = Result()
    groups: dict[tuple[str, str, int], list[dict]] = defaultdict(list)
    for row in rows:
        if not row["traced"]:
            groups[(row["kind"], row["time"], row["calls"])].append(row)
    top_calls = max((calls for _, _, calls in groups), default=0)
    for (kind, time, calls), runs in groups.items():
        name = label(kind, calls, time)
        headline = time == "real" and calls == 500
        p99 = median(r["p99_ms"] for r in runs)
        failures = sum(len(r["failures"]) for r in runs)
        result.add("voicemail", f"{name}: command latency p50 / p99",
                   f"{spread((r['p50_ms'] for r in runs))} / {spread((r['p99_ms'] for r in runs), unit='ms')}",
                   target=f"p99 <= {TARGET_P99_MS:g} ms" if headline else "",
                   verdict=verdict(p99 <= TARGET_P99_MS) if headline else "",
                   note=f"{len(runs)} runs; per run (median): {median(r['samples'] for r in runs):g} commands, "
                        f"{_done(kind, runs)}, {median(r['peak_active'] for r in runs):g} sessions active at "
                        f"peak, {median(r['calls_per_s'] for r in runs):.2f} calls/s over "
                        f"{median(r['wall_s'] for r in runs):.0f} s; max "
                        f"{max(r['max_ms'] for r in runs):.1f} ms"
                        + (f"; {failures} failed calls in all runs" if failures else ""))
        result.add("voicemail", f"{name}: CPU per call", spread((r["cpu_ms_per_call"] for r in runs), "{:.1f}", "ms"),
                   note=f"{len(runs)} runs")
        if calls == top_calls:
            result.add("voicemail", f"{name}: memory per active session, RSS growth (upper bound)",
                       spread((rss_kib_per_session(r) for r in runs), "{:.1f}", "KiB"),
                       note=f"{len(runs)} runs; peak RSS {median(r['rss_peak'] for r in runs) / 2 ** 20:.0f} MiB; "
                            "counts allocator arenas, buffers, spool and stored messages too; "
                            "see the tracemalloc row")
    add_latency_curve(result, groups)
    for row in rows:
        memory = row["memory"] if row["traced"] else None
        if row["traced"] and not memory:
            result.add("voicemail", f"{label(row['kind'], row['calls'], row['time'])}: memory per active session "
                       "(tracemalloc)", "n/a", note=f"the level never had {row['calls']} sessions active at once "
                                                    f"(peak {row['peak_active']})")
        if not memory:
            continue
        sites = "; ".join(f"{site} {size / 1024:.1f}" for site, size in memory["sites"][:4])
        result.add("voicemail", f"{label(row['kind'], row['calls'], row['time'])}: memory per active session "
                   "(tracemalloc)", f"{memory['per_session'] / 1024:.1f} KiB",
                   target=f"<= {TARGET_KIB:g} KiB", verdict=verdict(memory["per_session"] / 1024 <= TARGET_KIB),
                   note=f"1 traced run (its latency not used), read at {memory['active']} active sessions "
                        f"of {row['calls']}; "
                        f"store growth {memory['store_growth'] / 1024:.0f} KiB kept apart; largest sites "
                        f"(KiB per session): {sites}")
    return result


def add_latency_curve(result: Result, groups: dict[tuple[str, str, int], list[dict]]) -> None:
    """Command latency as simultaneous calls grow, real time only (docs/perf/voicemail_latency.png)."""
    series: dict[str, list[list[float]]] = {}
    for kind in ("compose", "check"):
        for figure in ("p99", "p50"):
            points = []
            for calls in sorted(c for k, t, c in groups if k == kind and t == "real"):
                values = [r[f"{figure}_ms"] for r in groups[(kind, "real", calls)]]
                points.append([calls, median(values), min(values), max(values)])
            if points:
                series[f"{kind} {figure}"] = points
    if series:
        result.curves["voicemail_latency"] = {
            "title": "voicemail command latency as simultaneous calls grow (real time)",
            "x_label": "simultaneous calls", "log_x": True, "y_label": "ms (event in -> next command out)",
            "series": series}


def collect(args) -> Result:
    args.levels = None
    args.kinds = None
    args.no_compressed = False
    args.memory = not args.quick          # the traced levels take a real-time minute; the full run has them
    url, cleanup = own_vhost(args.amqp_url)
    print(f"compose and check: N simultaneous callers against one voicemail_svc process (arriving over "
          f"{args.ramp:g} s); latency = call event handed to its session -> next command published", flush=True)
    print(HEADER, flush=True)
    try:
        rows = asyncio.run(vm.run_levels(url, vm.levels_of(args), args.ramp, **vm.memory_options(args)))
    finally:
        if cleanup is not None:
            cleanup()
    return rows_to_result(rows, args.quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voicemail_rows", description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-url", default=amqp_url_default())
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (bench_voicemail's --ramp)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"runs of every level (default {vm.REAL_REPEATS} real time, {vm.COMPRESSED_REPEATS} "
                             f"compressed, {vm.QUICK_REPEATS} with --quick)")
    add_common_arguments(parser)
    return run_module(collect, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
