"""Voicemail under load, as rows for ``python -m bench``: bench_voicemail's compose and check levels.

Run with ``python -m bench.voicemail_rows [--quick]``.  The calls, pacing and
latency are bench_voicemail's own (``python -m bench.bench_voicemail``: N
simultaneous callers leave a message, or check two new messages, with one
voicemail_svc process, paced as real callers; a compressed-time ``x20``
figure beside it, labelled).  Every row names its placement (``unpinned``, or
``pinned``: the service process alone on one core, its load and the broker on
the other; bench/voicemail/placement.py) and, when it is not the default
``asyncio``, the service's event loop (``uvloop``).

By default: unpinned, 1 run of each real-time level at 10 and 100 calls and 2
at 500, 2 compressed at 10 and 100 calls, and the traced levels; pinned, the
same real-time levels; pinned on uvloop, 2 runs at 500 calls (each placement
and loop in a fresh service process).  ``--quick``: pinned only, 1 compressed
run at 100 calls on each loop, no traced level.  Each figure is the median of
the runs with their spread ``[min-max]``; p50 and p99 of one run are taken
over every command of that run.

* **CPU per call**: the service process's CPU time during the level / calls;
* **CPU per call event**: the same CPU time / the call events the service
  consumed (counted as each is handed to its call); baseline: a raw aio-pika
  process consuming one ~1.5 KB JSON message and publishing one in answer,
  pinned like the service (bench/voicemail/raw.py), its CPU per message;
* **uvloop** rows: the same figures with the service on uvloop; baseline: the
  same row on the default loop, in the same run;
* **memory per active session (tracemalloc)**: from a traced level of its own
  at the largest level up to 100 callers (tracemalloc slows the service, so
  its latency is not reported): memory allocated in the service process since the level began and
  still held when every caller is on the line, minus the growth of the
  in-memory store, divided by the active sessions;
* **memory per active session (RSS growth)**: peak RSS of the service process
  during the level minus its RSS before, divided by the sessions active at
  once.  It counts the allocator's arenas, the spool, buffers and stored
  messages as well, so it is an upper bound of what a session holds (and
  memory freed by an earlier level and reused lowers it).

A placement or loop that cannot be had on the machine (fewer than 2 cores, no
local broker whose affinity may be changed, uvloop not installed) gets an
``n/a`` row saying why; the run goes on.

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
from bench.voicemail.report import HEADER, LEGEND, rss_kib_per_session

TARGET_P99_MS = 20.0
TARGET_KIB = 64.0


DEFAULT_LOOP = vm.LOOPS[0]


def label(kind: str, calls: int, time: str, placement: str | None = None, loop: str = DEFAULT_LOOP) -> str:
    where = [] if placement is None else [placement]
    where += [] if loop == DEFAULT_LOOP else [loop]
    return f"{kind} x{calls} ({', '.join(['real time' if time == 'real' else time + ' compressed'] + where)})"


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _done(kind: str, runs: list[dict]) -> str:
    if kind == "check":
        saved = median(r["folders"].get("saved", 0) for r in runs)
        deleted = median(r["folders"].get("deleted", 0) for r in runs)
        return f"{saved:g} messages saved and {deleted:g} deleted"
    return f"{median(r['stored'] for r in runs):g} messages stored"


Key = tuple[str, str, int, str, str]          # kind, time, calls, placement, loop


def _ratio(figure: float, base: float) -> float | None:
    return figure / base if base and base == base and figure == figure else None


def rows_to_result(rows: list[dict], quick: bool, raw: dict | None = None,
                   not_run: list[list[str]] | tuple = ()) -> Result:
    """Group the runs of every level (kind, time, calls, placement, event loop) and turn them into table
    rows; levels on another event loop than the default get the default loop's same row as baseline, and
    CPU per call event on the default loop gets the raw aio-pika baseline (``raw``, run_plan's)."""
    result = Result()
    groups: dict[Key, list[dict]] = defaultdict(list)
    for row in rows:
        if not row["traced"]:
            groups[(row["kind"], row["time"], row["calls"], row.get("placement", "unpinned"),
                    row.get("loop", DEFAULT_LOOP))].append(row)
    top_calls = max((key[2] for key in groups), default=0)
    raw_us = [r["cpu_us_per_message"] for r in raw["rounds"]] if raw and raw.get("rounds") else []
    us = "{:.0f}"
    for (kind, time, calls, placement, loop), runs in groups.items():
        name = label(kind, calls, time, placement, loop)
        base = groups.get((kind, time, calls, placement, DEFAULT_LOOP)) if loop != DEFAULT_LOOP else None
        headline = time == "real" and calls == 500 and loop == DEFAULT_LOOP
        p99 = median(r["p99_ms"] for r in runs)
        failures = sum(len(r["failures"]) for r in runs)

        def latency(of: list[dict]) -> str:
            return f"{spread((r['p50_ms'] for r in of))} / {spread((r['p99_ms'] for r in of), unit='ms')}"

        result.add("voicemail", f"{name}: command latency p50 / p99", latency(runs),
                   baseline=latency(base) if base else "",
                   ratio=_ratio(p99, median(r["p99_ms"] for r in base)) if base else None,
                   target=f"p99 <= {TARGET_P99_MS:g} ms" if headline else "",
                   verdict=verdict(p99 <= TARGET_P99_MS) if headline else "",
                   note=f"{_runs(len(runs))}; per run (median): {median(r['samples'] for r in runs):g} commands, "
                        f"{_done(kind, runs)}, {median(r['peak_active'] for r in runs):g} sessions active at "
                        f"peak, {median(r['calls_per_s'] for r in runs):.2f} calls/s over "
                        f"{median(r['wall_s'] for r in runs):.0f} s; max "
                        f"{max(r['max_ms'] for r in runs):.1f} ms"
                        + (f"; baseline: the same level on {DEFAULT_LOOP} ({_runs(len(base))}), ratio of the p99 "
                           "medians" if base else "")
                        + (f"; {failures} failed calls in all runs" if failures else ""))
        result.add("voicemail", f"{name}: CPU per call", spread((r["cpu_ms_per_call"] for r in runs), "{:.1f}", "ms"),
                   baseline=spread((r["cpu_ms_per_call"] for r in base), "{:.1f}", "ms") if base else "",
                   ratio=_ratio(median(r["cpu_ms_per_call"] for r in runs),
                                median(r["cpu_ms_per_call"] for r in base)) if base else None,
                   note=f"{_runs(len(runs))}" + (f"; baseline: the same level on {DEFAULT_LOOP}" if base else ""))
        per_event = [r["cpu_us_per_event"] for r in runs if "cpu_us_per_event" in r]
        if per_event:
            figure = median(per_event)
            if base:
                base_events = [r["cpu_us_per_event"] for r in base if "cpu_us_per_event" in r]
                baseline, ratio = spread(base_events, us, "us"), _ratio(figure, median(base_events))
                whose = f"the same level on {DEFAULT_LOOP}"
            elif raw_us:
                baseline, ratio = spread(raw_us, us, "us"), _ratio(figure, median(raw_us))
                whose = (f"raw aio-pika consuming one ~1.5 KB JSON message and publishing one in answer "
                         f"({raw['placement']}, {len(raw_us)} rounds of {raw['rounds'][0]['messages']} messages)")
            else:
                baseline, ratio, whose = "", None, ""
            result.add("voicemail", f"{name}: CPU per call event", spread(per_event, us, "us"), baseline=baseline,
                       ratio=ratio,
                       note=f"{_runs(len(runs))}; service CPU during the level / call events it consumed "
                            f"({median(r['events'] for r in runs):g} per run, median); the service also answers "
                            "action.execute, media_req and uploads, all counted in its CPU"
                            + (f"; baseline: {whose}" if whose else ""))
        if calls == top_calls:
            result.add("voicemail", f"{name}: memory per active session, RSS growth (upper bound)",
                       spread((rss_kib_per_session(r) for r in runs), "{:.1f}", "KiB"),
                       note=f"{_runs(len(runs))}; peak RSS {median(r['rss_peak'] for r in runs) / 2 ** 20:.0f} MiB; "
                            "counts allocator arenas, buffers, spool and stored messages too; "
                            "see the tracemalloc row")
    if raw_us:
        result.add("voicemail", f"raw aio-pika ({raw['placement']}): CPU per consumed and published message",
                   spread(raw_us, us, "us"),
                   note=f"{len(raw_us)} rounds of {raw['rounds'][0]['messages']} messages of "
                        f"{raw['rounds'][0]['bytes_in']} bytes, 64 in flight: a bare aio-pika consumer decodes each "
                        "and publishes one reply of about the same size (publisher confirms), then acks; its "
                        "process's CPU time / messages (bench/voicemail/raw.py)")
    for what, why in not_run:
        result.add("voicemail", f"{what}", "n/a", note=why)
    add_latency_curve(result, groups)
    for row in rows:
        memory = row["memory"] if row["traced"] else None
        name = label(row["kind"], row["calls"], row["time"], row.get("placement", "unpinned"),
                     row.get("loop", DEFAULT_LOOP))
        if row["traced"] and not memory:
            result.add("voicemail", f"{name}: memory per active session (tracemalloc)", "n/a",
                       note=f"the level never had {row['calls']} sessions active at once (peak {row['peak_active']})")
        if not memory:
            continue
        sites = "; ".join(f"{site} {size / 1024:.1f}" for site, size in memory["sites"][:4])
        result.add("voicemail", f"{name}: memory per active session (tracemalloc)",
                   f"{memory['per_session'] / 1024:.1f} KiB",
                   target=f"<= {TARGET_KIB:g} KiB", verdict=verdict(memory["per_session"] / 1024 <= TARGET_KIB),
                   note=f"1 traced run (its latency not used), read at {memory['active']} active sessions "
                        f"of {row['calls']}; "
                        f"store growth {memory['store_growth'] / 1024:.0f} KiB kept apart; largest sites "
                        f"(KiB per session): {sites}")
    return result


def add_latency_curve(result: Result, groups: dict[Key, list[dict]]) -> None:
    """Command latency as simultaneous calls grow, real time, default loop (docs/perf/voicemail_latency.png):
    p99 and p50 unpinned, and p99 pinned."""
    series: dict[str, list[list[float]]] = {}
    for placement, figures, suffix in (("unpinned", ("p99", "p50"), ""), ("pinned", ("p99",), " pinned")):
        for kind in ("compose", "check"):
            for figure in figures:
                points = []
                for calls in sorted(c for k, t, c, pl, lp in groups
                                    if k == kind and t == "real" and pl == placement and lp == DEFAULT_LOOP):
                    values = [r[f"{figure}_ms"] for r in groups[(kind, "real", calls, placement, DEFAULT_LOOP)]]
                    points.append([calls, median(values), min(values), max(values)])
                if points:
                    series[f"{kind} {figure}{suffix}"] = points
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
    print(LEGEND, flush=True)
    print(HEADER, flush=True)
    try:
        done = asyncio.run(vm.run_plan(url, vm.levels_of(args), args.ramp, **vm.memory_options(args),
                                       **vm.raw_options(args)))
    finally:
        if cleanup is not None:
            cleanup()
    return rows_to_result(done["rows"], args.quick, done["raw"], done["not_run"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voicemail_rows", description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-url", default=amqp_url_default())
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (bench_voicemail's --ramp)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"runs of every level (default {vm.REAL_REPEATS} real time, 1 at 10 and 100 calls, "
                             f"{vm.COMPRESSED_REPEATS} compressed, {vm.QUICK_REPEATS} with --quick)")
    parser.add_argument("--placement", default=None, metavar="LIST",
                        help="bench_voicemail's --placement: pinned, unpinned (default unpinned,pinned; --quick: "
                             "pinned)")
    parser.add_argument("--loop", default=None, metavar="LIST",
                        help=f"bench_voicemail's --loop: the service's event loops (default {','.join(vm.LOOPS)})")
    add_common_arguments(parser)
    return run_module(collect, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
