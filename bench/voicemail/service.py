"""The service process of the voicemail benchmark, and its driver.

``serve`` (``python -m bench.bench_voicemail --serve``): config_svc and
voicemail_svc on an in-memory store seeded with one account and one box per
caller -- what ``kzvoice run --only config,voicemail`` would run -- with the
benchmark's call factory (measure.py).  It takes one command a line on stdin
and answers one JSON line on stdout: ``seed_check``, ``level``,
``await_reading``, ``report`` (latencies, call events consumed since ``level``,
the event loop it runs on, ...), ``quit``.  It runs on the event loop
``KZ_EVENT_LOOP`` names, as the runtime does (``services.runtime.run_async``).
``Service`` starts that process (with ``KZ_EVENT_LOOP`` set to the loop asked
for) and talks to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile

from bench.common import quit_child
from bench.voicemail.measure import REPO_ROOT, Latencies, LevelWatch, pct, timed_calls
from bench.voicemail.seed import seed, seed_check


async def serve(amqp_url: str, boxes: int) -> int:
    from config_svc.app import build as build_config
    from services.runtime import ServiceContext, settle_heap
    from services.settings import Settings
    from services.store import layout
    from services.store.memory import MemoryStore
    from voicemail_svc.app import build as build_voicemail

    latencies = Latencies()
    store = MemoryStore()
    await seed(store, boxes)
    spool = tempfile.mkdtemp(prefix="kzvoice-bench-spool-")
    settings = Settings(amqp_url=amqp_url, store_url="memory://", node="kzvoice@bench-vm", http_host="127.0.0.1",
                        spool_dir=spool)
    context = ServiceContext(settings, store=store)
    config = build_config(context)
    await config.start()
    voicemail = build_voicemail(context, upload_host="127.0.0.1", resend_mwi=False,
                                call_factory=timed_calls(latencies))
    await voicemail.start()
    settle_heap(Settings.from_env().gc_gen0)        # what Runtime.start does once the services are up (KZ_GC_GEN0)
    loop = asyncio.get_running_loop()
    loop_type = f"{type(loop).__module__}.{type(loop).__name__}"
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    watch: LevelWatch | None = None
    checked: set[str] = set()               # message ids seeded for the current check level
    seeded_ids: set[str] = set()            # every message seeded for check levels: not "stored"
    stored_before = 0
    print("READY", flush=True)
    try:
        while line := (await reader.readline()).decode().strip():
            word, *rest = line.split()
            if word == "seed_check":
                first, count, seed_value = (int(x) for x in rest)
                seeded = await seed_check(store, first, count, seed_value)
                checked = {doc_id for pairs in seeded.values() for doc_id, _ in pairs}
                seeded_ids |= checked
                print(json.dumps(seeded), flush=True)
            elif word == "level":               # a level is about to start: rest = [calls, traced 0|1]
                watch = LevelWatch(voicemail.listener, store, int(rest[0]), rest[1] == "1",
                                   float(rest[2]) if len(rest) > 2 else 0.0)
                latencies.events = 0
                print("{}", flush=True)
            elif word == "await_reading":       # the traced level: answer once every caller is on the line
                if watch is not None:
                    try:
                        await asyncio.wait_for(watch.read.wait(), float(rest[0]))
                    except asyncio.TimeoutError:
                        if watch.traced and watch.reading is None:
                            watch.read_now()     # never all N at once: read what is active, stop tracing
                print(json.dumps({"read": watch is not None and watch.read.is_set()}), flush=True)
            elif word == "report":
                await voicemail.deps.background.drain(60.0)
                stored = 0
                folders: dict[str, int] = {}
                for name in await store.list_dbs():
                    if layout.is_modb(name):
                        for row in await store.all_docs(name, include_docs=True):
                            doc = row["doc"]
                            if doc["_id"] in checked:
                                folder = (doc.get("metadata") or {}).get("folder", "?")
                                folders[folder] = folders.get(folder, 0) + 1
                            elif doc.get("_attachments") and doc["_id"] not in seeded_ids:
                                stored += 1
                checked = set()
                stored, stored_before = stored - stored_before, stored
                by_command = {app: {"n": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99)}
                              for app, v in latencies.by_command.items()}
                by_command["(publish call alone)"] = {"n": len(latencies.publish), "p50": pct(latencies.publish, 0.5),
                                                      "p99": pct(latencies.publish, 0.99)}
                latencies.publish = []
                level = watch.stop() if watch is not None else {"peak_active": 0, "memory": None}
                watch = None
                print(json.dumps({"latencies_ms": latencies.samples, "stored": stored, "folders": folders,
                                  "by_command": by_command, "uploads": voicemail.uploads.accepted,
                                  "events": latencies.events, "loop": loop_type, **level}), flush=True)
                latencies.samples = []
                latencies.by_command = {}
                latencies.events = 0
            elif word == "quit":
                break
    finally:
        await voicemail.stop(5.0)
        await config.stop(1.0)
        await context.close()
    return 0


class Service:
    """The service process, driven over its stdin/stdout."""

    def __init__(self, amqp_url: str, boxes: int, event_loop: str = "asyncio") -> None:
        self.amqp_url = amqp_url
        self.boxes = boxes
        self.event_loop = event_loop

    async def start(self) -> "Service":
        command = [sys.executable, "-m", "bench.bench_voicemail", "--serve", "--amqp-url", self.amqp_url,
                   "--boxes", str(self.boxes)]
        self.process = await asyncio.create_subprocess_exec(
            *command, cwd=str(REPO_ROOT), stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2 ** 24,
            env={**os.environ, "KZ_LOG_LEVEL": "warning", "KZ_EVENT_LOOP": self.event_loop})
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if line.decode().strip() != "READY":
            raise RuntimeError(f"the service process did not start: {line!r}")
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    async def ask(self, line: str, timeout: float = 300) -> dict:
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), timeout))

    async def report(self) -> dict:
        return await self.ask("report")

    async def stop(self) -> None:
        await quit_child(self.process)
