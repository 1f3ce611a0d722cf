"""What the voicemail benchmark measures, and how.

Inside the service process:

* **command latency**: from the moment a call event is handed to its session
  (after decoding and validation) to the moment the next command for that call
  has been published, counted once per consumed event that is followed by a
  command.  ``timed_calls(latencies)`` is the service's call factory
  (``VoicemailService(call_factory=...)``): each call's event stream notes when
  an event arrived and was consumed, and the call's commands go out through a
  ``TimedCommands`` wrapper of the bus that takes the time after each publish.
  voicemail_svc itself is not changed;
* **call events consumed**: every call event handed to a call's event stream
  (``TimedEvents.put``) is counted, so the service's CPU time can be divided
  by the events it handled (CPU per call event);
* **sessions and memory per level**: ``LevelWatch`` counts the sessions active
  at once and, traced, reads tracemalloc once every caller is on the line.

From outside, ``Usage`` watches the service process's CPU time and peak RSS.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from voicemail_svc.call_control import BusCallControl, CallEvents, CallFactory, CommandPublisher, Timers

TRACE_FRAMES = 12
REPO_ROOT = Path(__file__).resolve().parents[2]


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---- command latency inside the service ------------------------------------------------------------

class Latencies:
    """event handed to a session -> next command published, per call."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.by_command: dict[str, list[float]] = {}
        self.publish: list[float] = []           # the publish call alone
        self.events = 0                          # call events handed to a call's event stream


class TimedEvents(CallEvents):
    """One call's event stream, noting when each event arrived and when the session took the last one."""

    def __init__(self, call_id: str, latencies: Latencies | None = None) -> None:
        super().__init__(call_id)
        self.latencies = latencies
        self.arrived: dict[int, float] = {}
        self.consumed_at: float | None = None

    def put(self, message) -> None:
        self.arrived[id(message)] = time.perf_counter()
        if self.latencies is not None:
            self.latencies.events += 1
        super().put(message)

    async def next(self, deadline):
        message = await super().next(deadline)
        # a command sent after a wait that ended without an event (a collect timeout) follows no event
        self.consumed_at = None if message is None else self.arrived.pop(id(message), None)
        return message


class TimedCommands:
    """The bus one call's control publishes on: times each publish, and event taken -> command published."""

    def __init__(self, bus: CommandPublisher, events: TimedEvents, latencies: Latencies) -> None:
        self.bus = bus
        self.events = events
        self.latencies = latencies

    async def publish(self, spec, fields: Mapping[str, Any], *, to: str | None = None,
                      server_id: str | None = None) -> dict[str, Any]:
        begin = time.perf_counter()
        sent = await self.bus.publish(spec, fields, to=to, server_id=server_id)
        self.latencies.publish.append((time.perf_counter() - begin) * 1000.0)
        consumed = self.events.consumed_at
        if consumed is not None:
            took = (time.perf_counter() - consumed) * 1000.0
            self.latencies.samples.append(took)
            self.latencies.by_command.setdefault(str(fields.get("Application-Name")), []).append(took)
            self.events.consumed_at = None
        return sent


def timed_calls(latencies: Latencies) -> CallFactory:
    """The service's call factory for the benchmark: ``BusCallControl`` on a timed stream and a timed bus."""

    def make(bus: CommandPublisher, call: Mapping[str, Any], replies, *, timers: Timers) -> BusCallControl:
        events = TimedEvents(call["Call-ID"], latencies)
        return BusCallControl(TimedCommands(bus, events, latencies), call, events, replies, timers=timers)

    return make


# ---- sessions and memory per level -----------------------------------------------------------------

def deep_size(root) -> int:
    """Bytes held by ``root`` and everything it reaches (containers, instances), each object once."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif not isinstance(obj, (str, bytes, bytearray, int, float, bool)) and obj is not None:
            if hasattr(obj, "__dict__"):
                stack.append(vars(obj))
            for slot in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, slot):
                    stack.append(getattr(obj, slot))
    return total


def site_of(frames) -> str:
    """The innermost frame inside this repository (not the virtualenv), else the innermost frame."""
    for frame in reversed(frames):         # a traceback runs from the oldest frame to the most recent
        name = frame.filename
        if name.startswith(str(REPO_ROOT)) and "/.venv/" not in name and "/bench/" not in name:
            return f"{os.path.relpath(name, REPO_ROOT)}:{frame.lineno}"
    frame = frames[-1]
    parts = Path(frame.filename).parts
    short = "/".join(parts[parts.index("site-packages") + 1:]) if "site-packages" in parts else \
        "/".join(parts[-2:])
    return f"{short}:{frame.lineno}"


class LevelWatch:
    """Sessions active at once during a level; traced: the memory allocated from the level's start
    that is still held when every caller is on the line.

    Tracing starts when the level starts (so the snapshot holds only the level's own allocations, and
    the warm-up runs at full speed) and stops once read.  Memory allocated before the level and freed
    during it is not seen, so the figure errs high, never low."""

    def __init__(self, listener, store, target: int, traced: bool, hold_s: float = 0.0) -> None:
        self.listener = listener
        self.store = store
        self.target = target
        self.traced = traced
        self.hold_s = hold_s                 # read this long after every caller is on the line
        self.peak_active = 0
        self.reading: dict | None = None
        self.read = asyncio.Event()          # set once the traced reading is taken
        if traced:
            import tracemalloc
            gc.collect()
            self.store_before = deep_size(store)
            tracemalloc.start(TRACE_FRAMES)
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        full_at = None
        while True:
            active = len(self.listener.sessions)
            self.peak_active = max(self.peak_active, active)
            if self.traced and self.reading is None and active >= self.target:
                full_at = full_at or time.monotonic()
                if time.monotonic() - full_at >= self.hold_s:
                    self.read_now()
            await asyncio.sleep(0.05)

    def read_now(self) -> None:
        """Take the reading now (also when the level never had every caller on the line); stop tracing."""
        import tracemalloc
        gc.collect()
        active = len(self.listener.sessions)
        traced = tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        store_growth = deep_size(self.store) - self.store_before
        sites: dict[str, int] = {}
        for stat in snapshot.statistics("traceback"):
            site = site_of(stat.traceback)
            sites[site] = sites.get(site, 0) + stat.size
        top = sorted(sites.items(), key=lambda kv: -kv[1])[:15]
        self.reading = {"active": active, "traced_growth": traced, "store_growth": store_growth,
                        "per_session": (traced - store_growth) / max(1, active),
                        "sites": [[site, size / max(1, active)] for site, size in top]}
        self.read.set()

    def stop(self) -> dict:
        self._task.cancel()
        if self.traced and self.reading is None:
            import tracemalloc
            tracemalloc.stop()
        return {"peak_active": self.peak_active, "memory": self.reading}


# ---- the service process from outside ----------------------------------------------------------------

class Usage:
    """The service process's CPU time and peak RSS around one level, watched from outside."""

    def __init__(self, pid: int) -> None:
        from bench.common import cpu_seconds, rss_bytes
        self._cpu, self._rss = cpu_seconds, rss_bytes
        self.pid = pid
        self.cpu = cpu_seconds(pid)
        self.rss = self.peak = rss_bytes(pid)
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self._rss(self.pid))
            await asyncio.sleep(0.2)

    def stop(self) -> dict:
        self._task.cancel()
        self.peak = max(self.peak, self._rss(self.pid))
        return {"cpu_s": self._cpu(self.pid) - self.cpu, "rss_before": self.rss, "rss_peak": self.peak}
