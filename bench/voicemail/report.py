"""The voicemail benchmark's own table, printed as the levels run, and its verdict at 500 callers."""

from __future__ import annotations

import statistics

TARGET_P99_MS = 20.0

HEADER = f"{'kind':>7} {'calls':>6} {'time':>5} {'place':>8} {'loop':>7} {'rep':>3} {'wall s':>7} {'peak':>5} " \
         f"{'done':>10} {'samples':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu/call':>8} {'events':>7} " \
         f"{'us/event':>8} {'rss KiB/s':>9}"
LEGEND = "place: pinned (service alone on one core) or unpinned; loop: the service's event loop; cpu/call: " \
         "service CPU ms per call; events: call events the service consumed; us/event: service CPU us per call " \
         "event; rss KiB/s: RSS growth per active session"


def done_text(row: dict) -> str:
    if row["kind"] == "check":
        folders = row["folders"]
        return f"{folders.get('saved', 0)}s/{folders.get('deleted', 0)}d"
    return f"{row['stored']} stored"


def rss_kib_per_session(row: dict) -> float:
    return max(0, row["rss_peak"] - row["rss_before"]) / max(1, row["peak_active"] or row["calls"]) / 1024


def print_row(row: dict, *, verbose: bool = False) -> None:
    memory = row.get("memory")
    print(f"{row['kind']:>7} {row['calls']:>6} {row['time']:>5} {row['placement']:>8} {row['loop']:>7} "
          f"{row['repeat']:>3} {row['wall_s']:>7.1f} "
          f"{row['peak_active']:>5} {done_text(row):>10} {row['samples']:>8} {row['p50_ms']:>8.2f} "
          f"{row['p99_ms']:>8.2f} {row['max_ms']:>8.2f} {row['cpu_ms_per_call']:>8.1f} {row['events']:>7} "
          f"{row['cpu_us_per_event']:>8.0f} {rss_kib_per_session(row):>9.1f}"
          + (f"  failures: {len(row['failures'])} ({row['failures'][0]})" if row["failures"] else "")
          + ("  (traced: latency not comparable)" if row.get("traced") else ""), flush=True)
    if memory:
        print(f"         tracemalloc: {memory['per_session'] / 1024:.1f} KiB per session at {memory['active']} "
              f"active (traced growth {memory['traced_growth'] / 2 ** 20:.1f} MiB, store growth "
              f"{memory['store_growth'] / 2 ** 20:.2f} MiB, not per session)", flush=True)
        for site, size in memory["sites"][:10 if verbose else 6]:
            print(f"           {size / 1024:7.2f} KiB/session  {site}", flush=True)
    if verbose:
        for app, figures in sorted(row["by_command"].items()):
            print(f"         next command {app}: n={figures['n']} p50 {figures['p50']:.2f} ms "
                  f"p99 {figures['p99']:.2f} ms", flush=True)


def print_verdicts(rows: list[dict]) -> None:
    """The target (p99 at 500 callers in real time), per kind, placement and event loop: the median of
    the runs."""
    for kind, placement, loop in dict.fromkeys((r["kind"], r["placement"], r["loop"]) for r in rows):
        real = [r["p99_ms"] for r in rows if r["kind"] == kind and r["time"] == "real" and r["calls"] == 500
                and not r["traced"] and r["placement"] == placement and r["loop"] == loop]
        if real:
            p99 = sorted(real)[len(real) // 2]
            verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
            print(f"{kind} ({placement}, {loop}): target p99 <= {TARGET_P99_MS:g} ms at 500 calls in real time: "
                  f"{verdict} (median of {len(real)} runs: {p99:.2f} ms)")


def print_raw(raw: dict | None) -> None:
    """The raw aio-pika baseline beside the service's CPU per call event."""
    if raw and raw["rounds"]:
        per = [r["cpu_us_per_message"] for r in raw["rounds"]]
        print(f"raw aio-pika baseline ({raw['placement']}): {statistics.median(per):.0f} us CPU per consumed and "
              f"published message (median of {len(per)} round{'s' if len(per) != 1 else ''}; compare with us/event)")
