"""A voicemail benchmark run: the plan of levels, and the loop that runs the levels.

Each level: seed the check callers' boxes (service.py), tell the service a
level starts, start the callers (load.py) arriving over the ramp, watch the
service's CPU and RSS (measure.py), then take the service's report; a traced
level ends once its memory reading is taken (every caller hangs up).  One row
per level, printed as it ends (report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass

from bench.voicemail.load import Load
from bench.voicemail.measure import Usage, pct
from bench.voicemail.report import print_row
from bench.voicemail.seed import CHECK_FIRST
from bench.voicemail.service import Service

LEVELS = (10, 100, 500)
QUICK_LEVELS = (100,)                # --quick: compressed time, 2 runs of each kind (about 20 s)
KINDS = ("compose", "check")
COMPRESSED_SCALE = 0.05
REAL_REPEATS = 2
COMPRESSED_REPEATS = 2
COMPRESSED_LEVELS = (10, 100)       # full run: x500 compressed only saturates the service (a capacity limit)
QUICK_REPEATS = 2
HOLD_SECONDS = 8.0                  # the memory reading: this long after all N callers are on the line
QUICK_HOLD_SECONDS = 3.0
QUICK_MEMORY_RAMP = 3.0             # --quick: the traced level's callers arrive over 3 s


def time_label(scale: float) -> str:
    return "real" if scale == 1.0 else f"x{1 / scale:g}"


@dataclass(frozen=True)
class Level:
    kind: str                 # compose | check
    calls: int
    scale: float              # 1.0 = real time
    repeat: int               # 1, 2, ...
    traced: bool = False      # the memory level: tracemalloc from its start to its peak; latency not used


def plan(levels: tuple[int, ...], scales: tuple[float, ...], repeats: dict[float, int],
         kinds: tuple[str, ...] = KINDS, scale_levels: dict[float, tuple[int, ...]] | None = None) -> list[Level]:
    """Every level of a run in the order it runs: by time scale, then repeat, then kind, then calls
    (``scale_levels`` narrows the levels of one time scale)."""
    scale_levels = scale_levels or {}
    return [Level(kind, calls, scale, r + 1) for scale in scales for r in range(repeats[scale])
            for kind in kinds for calls in scale_levels.get(scale, levels)]


def levels_of(args: argparse.Namespace) -> list[Level]:
    """The latency levels (every repeat), then (``args.memory``) one traced level per kind at the largest
    level, in the time of the run's first scale, after every latency level of the same service process."""
    kinds = tuple(k.strip() for k in args.kinds.split(",")) if getattr(args, "kinds", None) else KINDS
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else (QUICK_LEVELS if args.quick else LEVELS)
    if args.quick:
        scales, repeats = (COMPRESSED_SCALE,), {COMPRESSED_SCALE: args.repeats or QUICK_REPEATS}
    elif args.no_compressed:
        scales, repeats = (1.0,), {1.0: args.repeats or REAL_REPEATS}
    else:
        scales = (1.0, COMPRESSED_SCALE)
        repeats = {1.0: args.repeats or REAL_REPEATS, COMPRESSED_SCALE: args.repeats or COMPRESSED_REPEATS}
    narrowed = {} if args.quick or args.levels else {COMPRESSED_SCALE: COMPRESSED_LEVELS}
    planned = plan(levels, scales, repeats, kinds, narrowed)
    if args.memory:          # always in real time: a session's memory at its real pace, mid-call
        planned += [Level(kind, max(levels), 1.0, 1, traced=True) for kind in kinds]
    return planned


def memory_options(args: argparse.Namespace) -> dict:
    """Ramp and hold of the traced levels: shorter with --quick."""
    if args.quick:
        return {"memory_ramp_s": QUICK_MEMORY_RAMP, "hold_s": QUICK_HOLD_SECONDS}
    return {"memory_ramp_s": args.ramp, "hold_s": HOLD_SECONDS}


async def warm(service: Service, amqp_url: str, next_box: int) -> int:
    """Config caches and both code paths warm before the first measured level."""
    with tempfile.TemporaryDirectory(prefix="kzvoice-bench-rec-") as recordings:
        warm = await Load(amqp_url, COMPRESSED_SCALE, recordings).start()
        try:
            for _ in range(2):     # config cache (settles once defaults are written back)
                seeded = await service.ask(f"seed_check {next_box} 2 0")
                warm.media.update({doc_id: seconds for pairs in seeded.values() for doc_id, seconds in pairs})
                await asyncio.gather(warm.level(2, seed=0),
                                     warm.level(2, seed=0, kind="check", first_box=next_box))
                next_box += 2
                await service.report()
        finally:
            await warm.stop()
    return next_box


async def run_levels(amqp_url: str, levels: list[Level], ramp_s: float, *, memory_ramp_s: float | None = None,
                     hold_s: float = HOLD_SECONDS, verbose: bool = False) -> list[dict]:
    """Run ``levels`` against one service process, in order; one row per level.  Traced levels arrive over
    ``memory_ramp_s`` (default ``ramp_s``) and are read ``hold_s`` after every caller is on the line."""
    rows: list[dict] = []
    compose_calls = max((lv.calls for lv in levels if lv.kind == "compose"), default=0)
    service = await Service(amqp_url, max(compose_calls, 2)).start()
    next_box = CHECK_FIRST
    try:
        next_box = await warm(service, amqp_url, next_box)
        load: Load | None = None
        with tempfile.TemporaryDirectory(prefix="kzvoice-bench-rec-") as recordings:
            try:
                for level in levels:
                    if load is None or load.time_scale != level.scale:
                        # one load at a time: two routers would both answer every route_req
                        if load is not None:
                            await load.stop()
                            load = None
                        load = await Load(amqp_url, level.scale, recordings).start()
                    load.media.clear()
                    first_box = 0
                    if level.kind == "check":
                        first_box = next_box
                        next_box += level.calls
                        seeded = await service.ask(f"seed_check {first_box} {level.calls} {level.calls}")
                        load.media.update({doc_id: seconds for pairs in seeded.values()
                                           for doc_id, seconds in pairs})
                    await service.ask(f"level {level.calls} {int(level.traced)} {hold_s:g}")
                    usage = Usage(service.pid)
                    try:
                        ramp = (memory_ramp_s if level.traced and memory_ramp_s is not None else ramp_s) * level.scale
                        running = asyncio.ensure_future(load.level(
                            level.calls, seed=level.calls * 100 + level.repeat, ramp_s=ramp,
                            kind=level.kind, first_box=first_box))
                        if level.traced:
                            # the memory level ends once it is read: every caller hangs up
                            await service.ask(f"await_reading {ramp + hold_s + 60:g}")
                            load.hang_up_all()
                        wall = await running
                    finally:
                        used = usage.stop()
                    report = await service.report()
                    samples = report["latencies_ms"]
                    rows.append({"kind": level.kind, "calls": level.calls, "time": time_label(level.scale),
                                 "scale": level.scale, "repeat": level.repeat, "traced": level.traced,
                                 "wall_s": wall, "calls_per_s": level.calls / wall, "stored": report["stored"],
                                 "folders": report["folders"], "samples": len(samples),
                                 "p50_ms": pct(samples, 0.50), "p99_ms": pct(samples, 0.99),
                                 "max_ms": max(samples, default=float("nan")),
                                 "peak_active": report["peak_active"], "memory": report["memory"],
                                 "cpu_ms_per_call": used["cpu_s"] / level.calls * 1000.0,
                                 "rss_before": used["rss_before"], "rss_peak": used["rss_peak"],
                                 "failures": list(load.failures), "by_command": report["by_command"]})
                    load.failures.clear()
                    print_row(rows[-1], verbose=verbose)
            finally:
                if load is not None:
                    await load.stop()
    finally:
        await service.stop()
    return rows
