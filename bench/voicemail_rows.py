"""Voicemail under load, as rows for ``python -m bench``: bench_voicemail's levels plus CPU and memory per call.

Run with ``python -m bench.voicemail_rows [--quick]``.  The calls, pacing and
latency are bench_voicemail's own (``python -m bench.bench_voicemail``: N
simultaneous callers leave a message with one voicemail_svc process, paced as
real callers; a compressed-time ``x20`` figure beside it, labelled).  This
module only watches the service process from outside while each level runs:

* **CPU per call**: the service process's CPU time during the level / calls;
* **memory per active call**: the peak RSS of the service process during the
  level minus its RSS before it, divided by the calls active together (an
  upper bound of what one session holds: it also counts the level's buffers,
  and freed memory a previous level left in the allocator lowers it).

Target: command latency p99 <= 20 ms and <= 64 KiB per active session at
500 calls in real time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench import bench_voicemail as vm
from bench.common import (Result, add_common_arguments, amqp_url_default, cpu_seconds, rss_bytes, run_module,
                          verdict)

TARGET_P99_MS = 20.0
TARGET_KIB = 64.0
_pids: list[int] = []
_usage: dict[tuple[int, float], dict[str, float]] = {}


def _watch() -> None:
    """Record the service process's pid, and its CPU and peak RSS around every level."""
    start, level = vm.Service.start, vm.Load.level

    async def service_start(self):
        started = await start(self)
        _pids.append(self.process.pid)
        return started

    async def watched_level(self, calls: int, seed: int, *args, **kwargs) -> float:
        pid = _pids[-1]
        cpu, rss = cpu_seconds(pid), rss_bytes(pid)
        peak = rss

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_bytes(pid))
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        try:
            wall = await level(self, calls, seed, *args, **kwargs)
        finally:
            sampler.cancel()
        peak = max(peak, rss_bytes(pid))
        _usage[(calls, self.time_scale)] = {"cpu_ms": (cpu_seconds(pid) - cpu) / calls * 1000,
                                           "kib": max(0, peak - rss) / calls / 1024,
                                           "rss_mib": peak / 2 ** 20}
        return wall

    vm.Service.start = service_start
    vm.Load.level = watched_level


def collect(args) -> Result:
    _watch()
    levels = vm.QUICK_LEVELS if args.quick else vm.LEVELS
    scales = (vm.COMPRESSED_SCALE,) if args.quick else (1.0, vm.COMPRESSED_SCALE)
    url, cleanup = vm._with_vhost(args.amqp_url)
    print(f"compose: N simultaneous callers against one voicemail_svc process (arriving over {args.ramp:g} s); "
          "latency = call event handed to its session -> next command published", flush=True)
    print(vm.HEADER, flush=True)
    try:
        rows = asyncio.run(vm.measure(url, levels, scales, args.ramp))
    finally:
        if cleanup is not None:
            cleanup()
    result = Result()
    for row in rows:
        scale = 1.0 if row["time"] == "real" else vm.COMPRESSED_SCALE
        usage = _usage.get((row["calls"], scale), {})
        label = f"compose x{row['calls']} ({'real time' if row['time'] == 'real' else row['time'] + ' compressed'})"
        headline = row["time"] == "real" and row["calls"] == max(vm.LEVELS)
        failures = f"; {len(row['failures'])} failed calls" if row["failures"] else ""
        result.add("voicemail", f"{label}: command latency p50 / p99",
                   f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f} ms (max {row['max_ms']:.1f})",
                   target=f"p99 <= {TARGET_P99_MS:g} ms" if headline else "",
                   verdict=verdict(row["p99_ms"] <= TARGET_P99_MS) if headline else "",
                   note=f"{row['samples']} commands, {row['stored']} messages stored, "
                        f"{row['calls_per_s']:.2f} calls/s over {row['wall_s']:.0f} s{failures}; one run per level")
        if usage:
            result.add("voicemail", f"{label}: CPU per call", f"{usage['cpu_ms']:.1f} ms")
            result.add("voicemail", f"{label}: memory per active call", f"{usage['kib']:.1f} KiB",
                       target=f"<= {TARGET_KIB:g} KiB" if headline else "",
                       verdict=verdict(usage["kib"] <= TARGET_KIB) if headline else "",
                       note=f"peak RSS {usage['rss_mib']:.0f} MiB")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voicemail_rows", description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-url", default=amqp_url_default())
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (bench_voicemail's --ramp)")
    add_common_arguments(parser)
    return run_module(collect, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
