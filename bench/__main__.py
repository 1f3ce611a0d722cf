"""``python -m bench [--quick]`` (``make bench`` / ``make bench-quick``): every benchmark, then one table.

Each benchmark runs in a process of its own, one after the other (so one
cannot slow another), prints its own progress and table, and hands its rows
(figure, same-run baseline, ratio, target, PASS/MISS) and curves back as JSON.
At the end this runner prints them all as one table, draws the growth curves
(``--plots``, docs/perf/ by default on a full run) and can write the table as
Markdown (``--markdown``).  It exits non-zero only when a benchmark failed to
run; a MISS is a result, not a failure.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, Result, format_table, markdown_table, result_from_json

# name -> module; each module is also runnable alone: python -m bench.<module> [--quick]
BENCHMARKS = {
    "validation": "bench_validation",
    "bus": "bench_bus",
    "config": "bench_config",
    "store": "bench_store",
    "route": "bench_route",
    "voicemail": "voicemail_rows",
    "media": "bench_media",
}


def machine() -> str:
    import os
    try:
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        ram = f"{int(mem.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        ram = "RAM unknown"
    broker = "RabbitMQ version unknown"
    try:
        out = subprocess.run(["rabbitmqctl", "-q", "version"], capture_output=True, text=True, timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            broker = f"RabbitMQ {out.stdout.strip()}"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return f"{os.cpu_count()} cores (nproc), {ram}, Python {platform.python_version()}, {broker}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short version of every benchmark (about a minute)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--plots", help="folder for the growth-curve PNGs (default docs/perf on a full run)")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    parser.add_argument("--json", help="also write every row and curve to this JSON file")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    plots = args.plots or (None if args.quick else str(ROOT / "docs" / "perf"))

    total = Result()
    failed = []
    run_started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kzvoice-bench-") as folder:
        for name in chosen:
            module = BENCHMARKS[name]
            rows_file = Path(folder) / f"{name}.json"
            print(f"\n=== {name} ({module}) ===", flush=True)
            started = time.monotonic()
            command = [sys.executable, "-m", f"bench.{module}", "--rows-json", str(rows_file)]
            code = subprocess.call(command + (["--quick"] if args.quick else []), cwd=str(ROOT))
            print(f"=== {name}: exit {code} after {time.monotonic() - started:.1f} s", flush=True)
            if code != 0 or not rows_file.exists():
                failed.append(name)
                continue
            part = result_from_json(json.loads(rows_file.read_text(encoding="utf-8")))
            total.rows.extend(part.rows)
            total.curves.update(part.curves)

    command = "make bench-quick" if args.quick else "make bench"
    print(f"\n=== all benchmarks ({command}; {time.monotonic() - run_started:.0f} s) on {machine()} ===")
    print(format_table(total.rows))
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(total.rows) + "\n", encoding="utf-8")
    if args.json:
        from bench.common import result_to_json
        Path(args.json).write_text(json.dumps(result_to_json(total), indent=1), encoding="utf-8")
    if plots and total.curves:
        try:
            from bench.plots import draw
        except ImportError as exc:          # matplotlib is in the bench extra
            print(f"plots not drawn: {exc}")
        else:
            for path in draw(total.curves, Path(plots)):
                print(f"plot: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
