"""A voicemail benchmark run: the plan of levels, and the loop that runs the levels.

The plan (``levels_of``) is a list of levels, each with its placement
(``pinned`` or ``unpinned``, placement.py) and the service's event loop
(``asyncio`` or ``uvloop``).  Consecutive levels of one placement and loop form
a group, and every group runs against a fresh service process (``run_plan``):

* full run: the unpinned group (real time at 10, 100, 500 callers; the
  compressed levels; the traced levels), then the pinned group (real time at
  10, 100, 500), then the same 500-caller levels pinned on uvloop -- the A/B
  pair beside the pinned default-loop levels;
* ``--quick``: compressed time at 100 callers, pinned only, one run per kind
  on the default loop and one on uvloop.

Before the groups, the raw aio-pika baseline (raw.py) runs a few rounds,
pinned as the service is when the pinned placement is in the plan.

Each level: seed the check callers' boxes (service.py), tell the service a
level starts, start the callers (load.py) arriving over the ramp, watch the
service's CPU and RSS (measure.py), then take the service's report (with the
call events it consumed); a traced level ends once its memory reading is
taken (every caller hangs up).  One row per level, printed as it ends
(report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import signal
import tempfile
from dataclasses import dataclass, replace

from bench.voicemail.load import Load
from bench.voicemail.measure import Usage, pct
from bench.voicemail.placement import PLACEMENTS, Pinning
from bench.voicemail.raw import RawBaseline
from bench.voicemail.report import print_row
from bench.voicemail.seed import CHECK_FIRST
from bench.voicemail.service import Service

LEVELS = (10, 100, 500)
QUICK_LEVELS = (100,)                # --quick: compressed time, 1 run of each kind per event loop, pinned
KINDS = ("compose", "check")
LOOPS = ("asyncio", "uvloop")        # the first is the default loop; every further one gets the A/B levels
COMPRESSED_SCALE = 0.05
REAL_REPEATS = 2
REAL_REPEATS_BY_CALLS = {10: 1, 100: 1}   # full run: fewer runs of the small real-time levels (run time)
COMPRESSED_REPEATS = 2
COMPRESSED_LEVELS = (10, 100)       # full run: x500 compressed only saturates the service (a capacity limit)
QUICK_REPEATS = 1
QUICK_PLACEMENTS = ("pinned",)
RAW_ROUNDS, RAW_MESSAGES = 5, 10_000          # the raw aio-pika baseline
QUICK_RAW_ROUNDS, QUICK_RAW_MESSAGES = 2, 3_000
HOLD_SECONDS = 8.0                  # the memory reading: this long after all N callers are on the line
QUICK_HOLD_SECONDS = 3.0
QUICK_MEMORY_RAMP = 3.0             # --quick: the traced level's callers arrive over 3 s
# Traced, the service runs about ten times slower: at 500 callers it fell behind, never had
# them all on the line and gave up unbinds, so its reading divided the level's memory by the
# few sessions still active.  100 callers it keeps on the line together.
TRACED_CALLS = 100


def time_label(scale: float) -> str:
    return "real" if scale == 1.0 else f"x{1 / scale:g}"


@dataclass(frozen=True)
class Level:
    kind: str                 # compose | check
    calls: int
    scale: float              # 1.0 = real time
    repeat: int               # 1, 2, ...
    traced: bool = False      # the memory level: tracemalloc from its start to its peak; latency not used
    placement: str = "unpinned"   # pinned | unpinned (placement.py)
    loop: str = "asyncio"     # the service's event loop: asyncio | uvloop


def plan(levels: tuple[int, ...], scales: tuple[float, ...], repeats: dict[float, int],
         kinds: tuple[str, ...] = KINDS, scale_levels: dict[float, tuple[int, ...]] | None = None, *,
         repeats_by_calls: dict[int, int] | None = None, placement: str = "unpinned",
         loop: str = "asyncio") -> list[Level]:
    """Every level of a run in the order it runs: by time scale, then repeat, then kind, then calls
    (``scale_levels`` narrows the levels of one time scale; ``repeats_by_calls`` runs a real-time
    level of that many calls fewer times than ``repeats`` says)."""
    scale_levels = scale_levels or {}
    repeats_by_calls = repeats_by_calls or {}

    def runs(scale: float, calls: int) -> int:
        return min(repeats[scale], repeats_by_calls.get(calls, repeats[scale])) if scale == 1.0 else repeats[scale]

    return [Level(kind, calls, scale, r + 1, placement=placement, loop=loop)
            for scale in scales for r in range(repeats[scale])
            for kind in kinds for calls in scale_levels.get(scale, levels) if r < runs(scale, calls)]


def choices(raw: str | None, allowed: tuple[str, ...], default: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not raw:
        return default
    chosen = tuple(dict.fromkeys(word.strip() for word in raw.split(",") if word.strip()))
    unknown = [word for word in chosen if word not in allowed]
    if unknown or not chosen:
        raise SystemExit(f"--{what}: {', '.join(unknown) or 'nothing'} not one of {', '.join(allowed)}")
    return chosen


def levels_of(args: argparse.Namespace) -> list[Level]:
    """The plan of a run, group by group (placement, event loop).

    The first placement's group on the default loop (the first of ``--loop``) has the latency levels
    (every repeat) and then (``args.memory``) one traced level per kind at the largest level up to
    ``TRACED_CALLS``, in real time; every further placement's group has the real-time levels (the
    first time scale's, with ``--quick``); then, for every further loop, the A/B levels: each kind at the largest level, in the
    pinned placement when it is in the plan, as many runs as that level has on the default loop."""
    kinds = tuple(k.strip() for k in args.kinds.split(",")) if getattr(args, "kinds", None) else KINDS
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else (QUICK_LEVELS if args.quick else LEVELS)
    placements = choices(getattr(args, "placement", None), PLACEMENTS,
                         QUICK_PLACEMENTS if args.quick else PLACEMENTS[::-1], "placement")
    loops = choices(getattr(args, "loop", None), LOOPS, LOOPS, "loop")
    by_calls = {} if args.repeats or args.levels else REAL_REPEATS_BY_CALLS
    if args.quick:
        scales, repeats = (COMPRESSED_SCALE,), {COMPRESSED_SCALE: args.repeats or QUICK_REPEATS}
    elif args.no_compressed:
        scales, repeats = (1.0,), {1.0: args.repeats or REAL_REPEATS}
    else:
        scales = (1.0, COMPRESSED_SCALE)
        repeats = {1.0: args.repeats or REAL_REPEATS, COMPRESSED_SCALE: args.repeats or COMPRESSED_REPEATS}
    narrowed = {} if args.quick or args.levels else {COMPRESSED_SCALE: COMPRESSED_LEVELS}
    default_loop = loops[0]
    planned = plan(levels, scales, repeats, kinds, narrowed, repeats_by_calls=by_calls,
                   placement=placements[0], loop=default_loop)
    if args.memory:          # always in real time: a session's memory at its real pace, mid-call
        traced_calls = min(max(levels), TRACED_CALLS)
        planned += [Level(kind, traced_calls, 1.0, 1, traced=True, placement=placements[0], loop=default_loop)
                    for kind in kinds]
    for placement in placements[1:]:
        planned += plan(levels, scales[:1], repeats, kinds, repeats_by_calls=by_calls, placement=placement,
                        loop=default_loop)
    ab_placement = "pinned" if "pinned" in placements else placements[0]
    for loop in loops[1:]:
        planned += plan((max(levels),), scales[:1], repeats, kinds, repeats_by_calls=by_calls,
                        placement=ab_placement, loop=loop)
    return planned


def raw_options(args: argparse.Namespace) -> dict:
    """Rounds and messages of the raw aio-pika baseline: fewer with --quick."""
    if args.quick:
        return {"raw_rounds": QUICK_RAW_ROUNDS, "raw_messages": QUICK_RAW_MESSAGES}
    return {"raw_rounds": RAW_ROUNDS, "raw_messages": RAW_MESSAGES}


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
                     hold_s: float = HOLD_SECONDS, verbose: bool = False, placement: str = "unpinned",
                     loop: str = "asyncio", pinning: Pinning | None = None) -> list[dict]:
    """Run ``levels`` against one service process on ``loop``, in order; one row per level.  Traced levels
    arrive over ``memory_ramp_s`` (default ``ramp_s``) and are read ``hold_s`` after every caller is on the
    line.  With ``pinning`` (already entered) the service process is put on its own core once started."""
    rows: list[dict] = []
    compose_calls = max((lv.calls for lv in levels if lv.kind == "compose"), default=0)
    service = await Service(amqp_url, max(compose_calls, 2), event_loop=loop).start()
    if pinning is not None:
        pinning.pin(service.pid)
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
                    events = report["events"]
                    rows.append({"kind": level.kind, "calls": level.calls, "time": time_label(level.scale),
                                 "scale": level.scale, "repeat": level.repeat, "traced": level.traced,
                                 "placement": placement, "loop": loop, "loop_type": report["loop"],
                                 "events": events, "cpu_s": used["cpu_s"],
                                 "cpu_us_per_event": used["cpu_s"] / events * 1e6 if events else float("nan"),
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


async def run_raw(amqp_url: str, rounds: int, messages: int, pinning: Pinning | None) -> dict:
    """The raw aio-pika baseline (raw.py): ``rounds`` of ``messages``, its process on the service's core
    when ``pinning`` (already entered) is given.  One warm-up round first, not counted."""
    raw = await RawBaseline(amqp_url).start()
    if pinning is not None:
        pinning.pin(raw.pid)
    placement = "pinned" if pinning is not None else "unpinned"
    runs = []
    try:
        await raw.round(min(messages, 1000))
        for n in range(rounds):
            runs.append(await raw.round(messages))
            print(f"raw aio-pika baseline ({placement}) round {n + 1}/{rounds}: {messages} messages of "
                  f"{runs[-1]['bytes_in']} bytes consumed and answered in {runs[-1]['wall_s']:.1f} s, "
                  f"{runs[-1]['cpu_us_per_message']:.0f} us CPU per message", flush=True)
    finally:
        await raw.stop()
    return {"placement": placement, "rounds": runs}


def groups_of(levels: list[Level]) -> list[tuple[tuple[str, str], list[Level]]]:
    """Consecutive levels of one placement and event loop: each group gets a service process of its own."""
    groups: list[tuple[tuple[str, str], list[Level]]] = []
    for level in levels:
        key = (level.placement, level.loop)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(level)
        else:
            groups.append((key, [level]))
    return groups


async def run_plan(amqp_url: str, levels: list[Level], ramp_s: float, *, memory_ramp_s: float | None = None,
                   hold_s: float = HOLD_SECONDS, verbose: bool = False, raw_rounds: int = RAW_ROUNDS,
                   raw_messages: int = RAW_MESSAGES) -> dict:
    """The whole run: the raw baseline, then every group of levels with a fresh service process, pinned
    or not.  Returns ``{"rows": [...], "raw": {...} | None, "not_run": [[what, why], ...]}``; a placement or
    loop that cannot be had here is skipped with its reason, never an error."""
    pinning = Pinning(amqp_url)
    not_run: list[list[str]] = []
    # SIGTERM ends the run like Ctrl-C does, through the placements' clean-up: the broker is not left pinned
    loop_now, task = asyncio.get_running_loop(), asyncio.current_task()
    loop_now.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _run_plan(amqp_url, levels, ramp_s, pinning, not_run, memory_ramp_s=memory_ramp_s,
                               hold_s=hold_s, verbose=verbose, raw_rounds=raw_rounds, raw_messages=raw_messages)
    finally:
        loop_now.remove_signal_handler(signal.SIGTERM)


async def _run_plan(amqp_url: str, levels: list[Level], ramp_s: float, pinning: Pinning, not_run: list[list[str]],
                    *, memory_ramp_s: float | None, hold_s: float, verbose: bool, raw_rounds: int,
                    raw_messages: int) -> dict:
    wants_pinned = any(level.placement == "pinned" for level in levels)
    if wants_pinned and not pinning.possible:
        print(f"pinned placement: n/a ({pinning.reason})", flush=True)
        not_run.append(["pinned placement", pinning.reason])
        if all(level.placement == "pinned" for level in levels):
            print("  the pinned levels run unpinned instead", flush=True)
            levels = [replace(level, placement="unpinned") for level in levels]
        else:
            levels = [level for level in levels if level.placement != "pinned"]
    elif wants_pinned:
        print(f"pinned placement: {pinning.describe()}", flush=True)
    if any(level.loop == "uvloop" for level in levels) and importlib.util.find_spec("uvloop") is None:
        reason = "uvloop is not installed (pip install '.[fast]')"
        print(f"uvloop levels: n/a ({reason})", flush=True)
        not_run.append(["uvloop", reason])
        levels = [level for level in levels if level.loop != "uvloop"]
    pinned = pinning.possible and any(level.placement == "pinned" for level in levels)

    def placed(placement: str):
        return pinning if placement == "pinned" else contextlib.nullcontext()

    raw = None
    if raw_rounds > 0:
        try:
            with placed("pinned" if pinned else "unpinned"):
                raw = await run_raw(amqp_url, raw_rounds, raw_messages, pinning if pinned else None)
        except (OSError, RuntimeError, asyncio.TimeoutError) as exc:
            print(f"raw aio-pika baseline: not measured ({exc})", flush=True)
            not_run.append(["raw aio-pika baseline", str(exc)])
    rows: list[dict] = []
    for n, ((placement, loop), group) in enumerate(groups_of(levels)):
        print(f"-- {placement}, {loop}: a fresh service process for {len(group)} levels", flush=True)
        try:
            with placed(placement):
                done = await run_levels(amqp_url, group, ramp_s, memory_ramp_s=memory_ramp_s, hold_s=hold_s,
                                        verbose=verbose, placement=placement, loop=loop,
                                        pinning=pinning if placement == "pinned" else None)
        except (RuntimeError, asyncio.TimeoutError, json.JSONDecodeError) as exc:
            if n == 0:
                raise                    # the first group failing is the run failing
            print(f"   {placement}, {loop}: not run ({exc})", flush=True)
            not_run.append([f"{placement} placement on {loop}", f"its service process failed: {exc}"])
            continue
        rows += done
        if any(not row["loop_type"].startswith(loop) for row in done):
            print(f"   (the service ran on {done[-1]['loop_type']}, not {loop})", flush=True)
    return {"rows": rows, "raw": raw, "not_run": not_run}
