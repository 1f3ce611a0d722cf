"""What every benchmark shares: result rows, median and spread, the one table, an own vhost.

A benchmark module exposes ``collect(args) -> Result``: its rows (name,
figure, baseline, ratio, target, verdict) and, where it measures how cost
grows, its curves.  Its ``main`` prints the same table alone; ``python -m
bench`` runs every module in its own process (``--rows-json FILE``), collects
the rows and prints one table, and draws the curves (``bench/plots.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
ROOT = Path(__file__).resolve().parent.parent


def amqp_url_default() -> str:
    return os.environ.get("KZ_AMQP_URL") or DEFAULT_AMQP_URL


@dataclass
class Row:
    """One line of the table: a figure beside the baseline measured in the same run."""

    bench: str                       # the module: route, bus, validation, config, store, voicemail
    name: str                        # what was measured
    figure: str                      # median [min-max] of the repeats, with its unit
    baseline: str = ""               # the same-run baseline, same form
    ratio: float | None = None       # figure / baseline (medians)
    target: str = ""                 # e.g. "<= 1.2x", "<= 10 us"
    verdict: str = ""                # PASS, MISS, or "" for a figure without a target
    note: str = ""


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    # name -> {"title", "x_label", "y_label", "series": {label: [[x, median, low, high], ...]}, "log_x"}
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, *args: Any, **kwargs: Any) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row


# -- figures ----------------------------------------------------------------------------------

def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def spread(values: Iterable[float], fmt: str = "{:.2f}", unit: str = "") -> str:
    """``median [min-max] unit`` of the repeats."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    med = statistics.median(values)
    text = f"{fmt.format(med)} [{fmt.format(min(values))}-{fmt.format(max(values))}]"
    return f"{text} {unit}".rstrip()


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# -- the table ------------------------------------------------------------------------------------

COLUMNS = ("bench", "name", "figure", "baseline", "ratio", "target", "verdict")


def _cells(row: Row) -> list[str]:
    ratio = "" if row.ratio is None or math.isnan(row.ratio) else f"{row.ratio:.2f}x"
    return [row.bench, row.name, row.figure, row.baseline, ratio, row.target, row.verdict]


def format_table(rows: list[Row]) -> str:
    table = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    out = []
    for n, line in enumerate(table):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.bench}/{r.name}: {r.note}" for r in rows if r.note]
    if notes:
        out.append("notes:")
        out.extend(notes)
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in _cells(row)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def result_to_json(result: Result) -> dict[str, Any]:
    return {"rows": [asdict(r) for r in result.rows], "curves": result.curves}


def result_from_json(data: dict[str, Any]) -> Result:
    return Result(rows=[Row(**r) for r in data.get("rows", [])], curves=data.get("curves", {}))


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the short version (bench-quick)")
    parser.add_argument("--rows-json", help="also write the rows and curves to this JSON file (python -m bench)")


def run_module(collect: Callable[[argparse.Namespace], Result], args: argparse.Namespace) -> int:
    """Collect, print the module's own table, and hand the rows to the runner when asked."""
    result = collect(args)
    print()
    print(format_table(result.rows), flush=True)
    if getattr(args, "rows_json", None):
        Path(args.rows_json).write_text(json.dumps(result_to_json(result)), encoding="utf-8")
    return 0


# -- an own vhost -----------------------------------------------------------------------------------

def own_vhost(url: str, prefix: str = "kzvoice-bench") -> tuple[str, Callable[[], None] | None]:
    """A vhost of our own when the broker can be administered (testkit/broker.py); else ``url``."""
    from testkit.broker import admin_for, vhost_url
    try:
        admin = admin_for(url)
        vhost = f"{prefix}-{secrets.token_hex(4)}"
        admin.add_vhost(vhost)
    except Exception as exc:  # no rabbitmqctl, no management API: use the URL as given
        print(f"(no vhost of our own: {exc}; using the broker's URL as given)", flush=True)
        return url, None
    own = vhost_url(url, vhost)

    def cleanup() -> None:
        try:
            admin.delete_vhost(vhost)
        except Exception as exc:
            print(f"(vhost {vhost} not deleted: {exc})", flush=True)

    return own, cleanup


# -- a process's CPU time and memory (Linux /proc) ---------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of ``pid`` so far (0.0 where /proc is not there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


async def quit_child(process, timeout: float = 20.0) -> None:
    """End a benchmark child process driven over stdin: ``quit``, then SIGTERM if it outlives ``timeout``."""
    if process.returncode is not None:
        return
    process.stdin.write(b"quit\n")
    await process.stdin.drain()
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except asyncio.TimeoutError:
        process.terminate()
        await process.wait()
