"""Voicemail under load: N simultaneous callers compose or check with one voicemail_svc process.

Run with ``python -m bench.bench_voicemail [--quick]`` against a RabbitMQ broker
(``KZ_AMQP_URL`` or ``--amqp-url``).  A vhost of its own is created for the run
when the broker can be administered (rabbitmqctl or the management API), so no
other service competes for ``voicemail_actions``.

Two processes:

* the **service process** (this module with ``--serve``): config_svc and
  voicemail_svc on an in-memory store seeded with one account and one box per
  caller -- what ``kzvoice run --only config,voicemail`` would run.  It measures
  the command latency inside voicemail_svc: from the moment a call event is
  handed to its session (after decoding and validation) to the moment the next
  command for that call has been published, counted once per consumed event
  that is followed by a command.  It also counts the sessions active at once
  and, when started with ``--trace`` (the memory run), reads tracemalloc when
  every caller of the level is on the line;
* the **load process**: the gateway simulator's scripted callers, a router
  that parks, the executor (action.execute, then a hangup after the result, as
  callflow_svc does) and a notifier that answers ``voicemail_new`` with
  ``completed``.

Two kinds of call, both paced as real callers.  Prompts last the simulator's
lengths (1.5 s each; ``say`` 1 s; the beep 0.6 s); a caller reacts to a prompt
0.5-1.5 s after it ends and types keys 0.3 s apart.

* **compose**: the caller listens to the whole greeting, speaks 10-30 s
  (uniformly drawn), ends the recording with ``#`` and presses ``1`` one
  second after ``vm-review_recording`` starts;
* **check** (``*97``/``*98``): before the level every caller's box gets two
  new messages of 4-12 s each (drawn; they play for their length).  The caller
  types the PIN after ``vm-enter_pass``, presses ``1`` at the main menu, listens
  to the first message and its envelope and saves it (``1``), listens to the
  second and deletes it (``7``), and hangs up at the main menu that follows.

The N callers of a level arrive evenly over ``--ramp`` seconds (10 s by
default; a call lasts 20-60 s, so all N are on the line together).  Each level
runs ``--repeats`` times (the levels of one repeat, then the next), and every
figure is reported per repeat.

Memory per session (``--memory``): after the latency levels, one traced level
per kind at the largest level, always in real time, in the same service process.
tracemalloc starts when that level starts and slows the service, so its latency
is not reported.  Once all N sessions are active and ``HOLD_SECONDS`` (8 s;
3 s with ``--quick``) more have passed (callers are then mid-call: recording, or
listening to a message), a full collection runs and the traced memory is read:
what the level allocated and still holds, minus the growth of the in-memory
store (stored messages, reported apart), divided by the active sessions.  It
also lists where that memory was allocated (the innermost frame in this
repository).  Then every caller hangs up, which ends the level.  Memory
allocated before the level and freed during it is not seen, so the figure errs
high; under tracing the service also falls behind, and the events queued for
it are counted as well.

``--quick``: 10 and 100 calls in compressed time only (media 20 times faster), 2 runs each,
and the traced level at 100 callers arriving over 3 s;
compressed rows are labelled ``x20`` and are not comparable with real time:
they pack the same commands into far less time.  A measurement, not a test: it
exits 0 unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ACCOUNT = "b0a1b2c3d4e5f60718293a4b5c6d7e8f"
REALM = "bench.example.com"
FIRST_BOX = 10000
CHECK_FIRST = 100000                # box indexes of check callers start here (fresh boxes per level)
LEVELS = (10, 100, 500)
QUICK_LEVELS = (100,)                # --quick: compressed time, 2 runs of each kind (about 20 s)
KINDS = ("compose", "check")
COMPRESSED_SCALE = 0.05
REAL_REPEATS = 2
COMPRESSED_REPEATS = 2
COMPRESSED_LEVELS = (10, 100)       # full run: x500 compressed only saturates the service (a capacity limit)
QUICK_REPEATS = 2
PIN = "1234"
CHECK_MESSAGES = 2                  # new messages in a check caller's box
MESSAGE_SECONDS = (4.0, 12.0)       # their length, uniformly drawn
REACT_SECONDS = (0.5, 1.5)          # a caller answers a prompt this long after it ends
DTMF_GAP = 0.3                      # seconds between two keys a caller types
TRACE_FRAMES = 12
HOLD_SECONDS = 8.0                  # the memory reading: this long after all N callers are on the line
QUICK_HOLD_SECONDS = 3.0
QUICK_MEMORY_RAMP = 3.0             # --quick: the traced level's callers arrive over 3 s
TARGET_P99_MS = 20.0
VERBOSE = False
REPO_ROOT = Path(__file__).resolve().parent.parent


def box_id(i: int) -> str:
    return f"{i:032x}"


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def time_label(scale: float) -> str:
    return "real" if scale == 1.0 else f"x{1 / scale:g}"


# ---- the service process ------------------------------------------------------------------------

class Latencies:
    """event handed to a session -> next command published, per call."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.by_command: dict[str, list[float]] = {}
        self.publish: list[float] = []           # the publish call alone


def instrument(latencies: Latencies) -> None:
    """Time voicemail_svc's sessions without changing them: a timed event stream and a timed send."""
    from voicemail_svc import call_control, listener

    class TimedEvents(call_control.CallEvents):
        def __init__(self, call_id: str) -> None:
            super().__init__(call_id)
            self.arrived: dict[int, float] = {}
            self.consumed_at: float | None = None

        def put(self, message) -> None:
            self.arrived[id(message)] = time.perf_counter()
            super().put(message)

        async def next(self, deadline):
            message = await super().next(deadline)
            # a command sent after a wait that ended without an event (a collect timeout) follows no event
            self.consumed_at = None if message is None else self.arrived.pop(id(message), None)
            return message

    original_send = call_control.BusCallControl._send

    async def timed_send(self, application, fields=None, *, insert_at=None):
        begin = time.perf_counter()
        sent = await original_send(self, application, fields, insert_at=insert_at)
        latencies.publish.append((time.perf_counter() - begin) * 1000.0)
        events = self._events
        consumed = getattr(events, "consumed_at", None)
        if consumed is not None:
            took = (time.perf_counter() - consumed) * 1000.0
            latencies.samples.append(took)
            latencies.by_command.setdefault(application, []).append(took)
            events.consumed_at = None
        return sent

    listener.CallEvents = TimedEvents
    call_control.BusCallControl._send = timed_send


def box_doc(i: int, db: str) -> dict:
    from services.store import layout
    return layout.stamp({"_id": box_id(i), "name": f"Box {FIRST_BOX + i}", "mailbox": str(FIRST_BOX + i),
                         "pin": PIN, "is_setup": True}, pvt_type="vmbox", db=db)


async def seed(store, boxes: int) -> None:
    from services.store import layout
    db = layout.account_db(ACCOUNT)
    await store.init_db()
    await store.create_db(db)
    account = {"_id": ACCOUNT, "name": "bench", "realm": REALM}
    for target in (db, layout.ACCOUNTS_DB):
        await store.put(target, layout.stamp(dict(account), pvt_type="account", db=db))
    docs = [box_doc(i, db) for i in range(boxes)]
    for start in range(0, len(docs), 500):
        await store.bulk_put(db, docs[start:start + 500])


async def seed_check(store, first: int, count: int, seed_value: int) -> dict[str, list[list]]:
    """Boxes ``first`` .. ``first + count - 1`` with CHECK_MESSAGES new messages each (tiny audio: the
    simulator plays a message for its length without reading it).  Returns box index -> [[id, seconds]]."""
    import base64

    from services.store import layout
    rng = random.Random(seed_value)
    db = layout.account_db(ACCOUNT)
    boxes = [box_doc(i, db) for i in range(first, first + count)]
    for start in range(0, len(boxes), 500):
        await store.bulk_put(db, boxes[start:start + 500])
    when = layout.now_gregorian() - 3600
    modb = layout.modb_at(ACCOUNT, when)
    await store.create_db(modb)
    audio = base64.b64encode(b"audio").decode()
    docs, seeded = [], {}
    for i in range(first, first + count):
        for k in range(CHECK_MESSAGES):
            stamp = when - 60 * k
            doc_id = layout.modb_doc_id(stamp)
            seconds = round(rng.uniform(*MESSAGE_SECONDS), 1)
            name = f"{secrets.token_hex(16)}.mp3"
            doc = {"_id": doc_id, "name": "bench message", "source_type": "voicemail", "source_id": box_id(i),
                   "media_filename": name,
                   "metadata": {"media_id": doc_id, "folder": "new", "timestamp": stamp,
                                "length": int(seconds * 1000), "from": f"{3000 + i}@{REALM}",
                                "to": f"{FIRST_BOX + i}@{REALM}", "caller_id_number": str(3000 + i),
                                "caller_id_name": "Bench"},
                   "_attachments": {name: {"content_type": "audio/mpeg", "data": audio}}}
            docs.append(layout.stamp(doc, pvt_type="mailbox_message", db=modb, now=stamp))
            seeded.setdefault(str(i), []).append([doc_id, seconds])
    for start in range(0, len(docs), 500):
        await store.bulk_put(modb, docs[start:start + 500])
    return seeded


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


def _site(frames) -> str:
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
                    self._read()
            await asyncio.sleep(0.05)

    def _read(self) -> None:
        import tracemalloc
        gc.collect()
        active = len(self.listener.sessions)
        traced = tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        store_growth = deep_size(self.store) - self.store_before
        sites: dict[str, int] = {}
        for stat in snapshot.statistics("traceback"):
            site = _site(stat.traceback)
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


async def serve(amqp_url: str, boxes: int) -> int:
    from config_svc.app import build as build_config
    from services.runtime import ServiceContext, settle_heap
    from services.settings import Settings
    from services.store import layout
    from services.store.memory import MemoryStore
    from voicemail_svc.app import build as build_voicemail

    latencies = Latencies()
    instrument(latencies)
    store = MemoryStore()
    await seed(store, boxes)
    spool = tempfile.mkdtemp(prefix="kzvoice-bench-spool-")
    settings = Settings(amqp_url=amqp_url, store_url="memory://", node="kzvoice@bench-vm", http_host="127.0.0.1",
                        spool_dir=spool)
    context = ServiceContext(settings, _store=store)
    config = build_config(context)
    await config.start()
    voicemail = build_voicemail(context, upload_host="127.0.0.1", resend_mwi=False)
    await voicemail.start()
    settle_heap(Settings.from_env().gc_gen0)        # what Runtime.start does once the services are up (KZ_GC_GEN0)
    loop = asyncio.get_running_loop()
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
                print("{}", flush=True)
            elif word == "await_reading":       # the traced level: answer once every caller is on the line
                if watch is not None:
                    try:
                        await asyncio.wait_for(watch.read.wait(), float(rest[0]))
                    except asyncio.TimeoutError:
                        if watch.traced and watch.reading is None:
                            watch._read()        # never all N at once: read what is active, stop tracing
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
                                  "by_command": by_command, "uploads": voicemail.deps.uploads.accepted,
                                  **level}), flush=True)
                latencies.samples = []
                latencies.by_command = {}
            elif word == "quit":
                break
    finally:
        await voicemail.stop(5.0)
        await config.stop(1.0)
        await context.close()
    return 0


# ---- the load process --------------------------------------------------------------------------

def check_script(rng: random.Random) -> "object":
    """A caller checking two new messages: PIN, 1 (new messages), save the first, delete the second,
    hang up at the main menu that follows."""
    from gateway_sim import Script

    def react() -> float:
        return round(rng.uniform(*REACT_SECONDS), 2)

    return (Script()
            .on_prompt("vm-enter_pass", after=react(), press=PIN + "#")
            .on_prompt("vm-main_menu", after=react(), press="1")
            .on_prompt("vm-message_menu", after=react(), press="1")
            .on_prompt("vm-message_menu", after=react(), press="7")
            .on_prompt("vm-main_menu", after=react(), hangup=True))


def compose_script(rng: random.Random) -> "object":
    from gateway_sim import Script
    speak = rng.uniform(10.0, 30.0)
    return Script().on_record_start(speak=speak, press="#") \
        .on_prompt("vm-review_recording", barge=True, after=1.0, press="1")


class Load:
    def __init__(self, amqp_url: str, time_scale: float, recording_dir: str) -> None:
        self.amqp_url = amqp_url
        self.time_scale = time_scale
        self.recording_dir = recording_dir
        self.failures: list[str] = []
        self.media: dict[str, float] = {}        # message id -> seconds it plays (check levels)

    async def start(self) -> "Load":
        from gateway_sim import Gateway, GatewayConfig
        from services.bus import Bus, open_transport, unique_queue_name
        from services.bus.exchanges import CALLMGR, NOTIFICATIONS, route_req_key
        from services.messages import catalogue as m
        from services.messages.validation import Validator

        validator = Validator()
        self.m = m
        self.gw_bus = Bus(open_transport(self.amqp_url), validator, app_name="freeswitch", node="fs@bench")
        await self.gw_bus.start()
        self.bus = Bus(open_transport(self.amqp_url), validator, app_name="callflow", node="cf@bench")
        await self.bus.start()
        self.gateway = Gateway(self.gw_bus, None, GatewayConfig(time_scale=self.time_scale, route_timeout=5.0,
                                                                max_call_seconds=180.0, post_hangup_linger=0.5,
                                                                recording_dir=self.recording_dir,
                                                                dtmf_gap=DTMF_GAP, media_seconds=self.media))
        await self.gateway.start()
        self.replies = await self.bus.reply_queue("bench-executor")
        self.replies.on(m.ROUTE_WIN, self._on_win)
        self.wins: dict[str, asyncio.Future] = {}
        self.reqs: dict[str, dict] = {}
        routes = await self.bus.consumer(unique_queue_name("bench-router"), exclusive=True, prefetch=256)
        await routes.bind(CALLMGR, route_req_key("audio", account_id=ACCOUNT))
        routes.on(m.ROUTE_REQ, self._on_req)
        await routes.start()
        notifier = await self.bus.consumer(unique_queue_name("bench-notifier"), exclusive=True, prefetch=256)
        await notifier.bind(NOTIFICATIONS, "notifications.voicemail.new")
        notifier.on(m.VOICEMAIL_NEW, self._on_new)
        await notifier.start()
        return self

    def _win(self, call_id: str) -> asyncio.Future:
        return self.wins.setdefault(call_id, asyncio.get_running_loop().create_future())

    async def _on_req(self, req) -> None:
        self.reqs[req["Call-ID"]] = dict(req)
        await self.bus.publish(self.m.ROUTE_RESP, {"Msg-ID": req.msg_id, "Call-ID": req["Call-ID"],
                                                   "Method": "park", "Routes": [], "Pre-Park": "none"},
                               to=req.server_id, server_id=self.replies.name)

    async def _on_win(self, win) -> None:
        future = self._win(win["Call-ID"])
        if not future.done():
            future.set_result(win)

    async def _on_new(self, message) -> None:
        await self.bus.publish(self.m.NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": "completed"},
                               to=message.server_id)

    async def one_call(self, kind: str, i: int, box: int, rng: random.Random) -> None:
        from gateway_sim import Endpoint
        from services.messages.etf import decode_result
        m = self.m
        if kind == "check":
            script, dial, data = check_script(rng), "*97", {"action": "check", "id": box_id(box)}
        else:
            script, dial, data = compose_script(rng), str(FIRST_BOX + box), {"id": box_id(box)}
        endpoint = Endpoint(account_id=ACCOUNT, realm=REALM, username=f"caller{i}", caller_id_name="Bench",
                            caller_id_number=f"{2000 + i}", device_id=secrets.token_hex(16))
        call = await self.gateway.start_call(endpoint=endpoint, dial=dial, script=script)
        try:
            win = await asyncio.wait_for(self._win(call.call_id), 30)
        except asyncio.TimeoutError:
            self.failures.append(f"call {i}: not routed")
            return
        req = self.reqs.pop(call.call_id)
        self.wins.pop(call.call_id, None)
        call_object = {"Call-ID": call.call_id, "Account-ID": ACCOUNT, "Control-Queue": win["Control-Queue"],
                       "Request": req["Request"], "To": req["To"], "From": req["From"], "Language": "en-us",
                       "Caller-ID-Number": req.get("Caller-ID-Number"), "Caller-ID-Name": req.get("Caller-ID-Name"),
                       "Switch-Nodename": req.get("Switch-Nodename"),
                       "Key-Value-Store": {"remote-action": "voicemail"}}
        body = self.bus.publisher.build(m.ACTION_EXECUTE, {"Call-ID": call.call_id, "Data": data,
                                                           "Call": call_object}, server_id=self.replies.name)
        stream = self.replies.stream(body["Msg-ID"])
        await self.bus.publisher.send(m.ACTION_EXECUTE, body)
        try:
            while True:
                reply = await stream.next(150)
                if reply.spec.key == "callflow.action.result":
                    if decode_result(reply["Result"]).kind != "continue":
                        self.failures.append(f"call {i}: result {reply['Result']}")
                    break
        except asyncio.TimeoutError:
            self.failures.append(f"call {i}: no result")
        finally:
            stream.close()
        await self.bus.publish(m.COMMANDS["hangup"], {"Call-ID": call.call_id, "Application-Name": "hangup"},
                               to=win["Control-Queue"])
        await call.finished(timeout=120)

    async def level(self, calls: int, seed: int, ramp_s: float = 0.0, *, kind: str = "compose",
                    first_box: int = 0) -> float:
        """``calls`` callers arriving evenly over ``ramp_s`` real seconds, all on the line together."""
        rng = random.Random(seed)
        started = time.perf_counter()

        async def caller(i: int) -> None:
            await asyncio.sleep(ramp_s * i / max(1, calls))
            await self.one_call(kind, i, first_box + i, rng)

        await asyncio.gather(*(caller(i) for i in range(calls)))
        return time.perf_counter() - started

    def hang_up_all(self) -> None:
        """Every caller on the line hangs up now."""
        for call in list(self.gateway.calls.values()):
            call.hangup()

    async def stop(self) -> None:
        await self.gateway.stop()
        await self.bus.close()
        await self.gw_bus.close()


class Service:
    """The service process, driven over its stdin/stdout."""

    def __init__(self, amqp_url: str, boxes: int) -> None:
        self.amqp_url = amqp_url
        self.boxes = boxes

    async def start(self) -> "Service":
        command = [sys.executable, "-m", "bench.bench_voicemail", "--serve", "--amqp-url", self.amqp_url,
                   "--boxes", str(self.boxes)]
        self.process = await asyncio.create_subprocess_exec(
            *command, cwd=str(REPO_ROOT), stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2 ** 24,
            env={**os.environ, "KZ_LOG_LEVEL": "warning"})
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
        if self.process.returncode is None:
            self.process.stdin.write(b"quit\n")
            await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except asyncio.TimeoutError:
                self.process.send_signal(signal.SIGTERM)
                await self.process.wait()


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


async def _warm(service: Service, amqp_url: str, next_box: int) -> int:
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


async def measure(amqp_url: str, levels: list[Level], ramp_s: float, *, memory_ramp_s: float | None = None,
                  hold_s: float = HOLD_SECONDS) -> list[dict]:
    """Run ``levels`` against one service process, in order; one row per level.  Traced levels arrive over
    ``memory_ramp_s`` (default ``ramp_s``) and are read ``hold_s`` after every caller is on the line."""
    rows: list[dict] = []
    compose_calls = max((lv.calls for lv in levels if lv.kind == "compose"), default=0)
    service = await Service(amqp_url, max(compose_calls, 2)).start()
    next_box = CHECK_FIRST
    try:
        next_box = await _warm(service, amqp_url, next_box)
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
                    print_row(rows[-1])
            finally:
                if load is not None:
                    await load.stop()
    finally:
        await service.stop()
    return rows


HEADER = f"{'kind':>7} {'calls':>6} {'time':>5} {'rep':>3} {'wall s':>7} {'peak':>5} {'done':>10} " \
         f"{'samples':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu/call':>8} {'rss KiB/s':>9}"


def done_text(row: dict) -> str:
    if row["kind"] == "check":
        folders = row["folders"]
        return f"{folders.get('saved', 0)}s/{folders.get('deleted', 0)}d"
    return f"{row['stored']} stored"


def rss_kib_per_session(row: dict) -> float:
    return max(0, row["rss_peak"] - row["rss_before"]) / max(1, row["peak_active"] or row["calls"]) / 1024


def print_row(row: dict) -> None:
    memory = row.get("memory")
    print(f"{row['kind']:>7} {row['calls']:>6} {row['time']:>5} {row['repeat']:>3} {row['wall_s']:>7.1f} "
          f"{row['peak_active']:>5} {done_text(row):>10} {row['samples']:>8} {row['p50_ms']:>8.2f} "
          f"{row['p99_ms']:>8.2f} {row['max_ms']:>8.2f} {row['cpu_ms_per_call']:>8.1f} "
          f"{rss_kib_per_session(row):>9.1f}"
          + (f"  failures: {len(row['failures'])} ({row['failures'][0]})" if row["failures"] else "")
          + ("  (traced: latency not comparable)" if row.get("traced") else ""), flush=True)
    if memory:
        print(f"         tracemalloc: {memory['per_session'] / 1024:.1f} KiB per session at {memory['active']} "
              f"active (traced growth {memory['traced_growth'] / 2 ** 20:.1f} MiB, store growth "
              f"{memory['store_growth'] / 2 ** 20:.2f} MiB, not per session)", flush=True)
        for site, size in memory["sites"][:10 if VERBOSE else 6]:
            print(f"           {size / 1024:7.2f} KiB/session  {site}", flush=True)
    if VERBOSE:
        for app, figures in sorted(row["by_command"].items()):
            print(f"         next command {app}: n={figures['n']} p50 {figures['p50']:.2f} ms "
                  f"p99 {figures['p99']:.2f} ms", flush=True)


def _with_vhost(url: str):
    """A vhost of our own on the broker when it can be administered; else the URL as given."""
    try:
        sys.path.insert(0, str(REPO_ROOT))
        from tests.support.broker import admin_for
        admin = admin_for(url)
        vhost = f"kzvoice-bench-{secrets.token_hex(4)}"
        admin.add_vhost(vhost)
    except Exception as exc:
        print(f"(no vhost of our own: {exc}; using the broker's URL as given)")
        return url, None
    parts = urllib.parse.urlsplit(url)
    own = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + urllib.parse.quote(vhost, safe=""),
                                   parts.query, ""))
    return own, (lambda: admin.delete_vhost(vhost))


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--quick", action="store_true", help="100 calls, compressed time only")
    parser.add_argument("--levels", default=None, help="comma-separated numbers of simultaneous calls")
    parser.add_argument("--kinds", default=None, help="comma-separated: compose, check (default both)")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"runs of every level (default {REAL_REPEATS} real time, {COMPRESSED_REPEATS} "
                             f"compressed, {QUICK_REPEATS} with --quick)")
    parser.add_argument("--no-compressed", action="store_true", help="real time only")
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="callers of a level arrive evenly over this many seconds (real time; default 10)")
    parser.add_argument("--memory", action="store_true",
                        help="also a tracemalloc run (separate service process) at the largest level")
    parser.add_argument("--verbose", action="store_true", help="latency by the command that followed the event")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--boxes", type=int, default=max(LEVELS), help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    global VERBOSE
    VERBOSE = args.verbose
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        profile = os.environ.get("KZ_BENCH_PROFILE")      # a file: cProfile of the service process
        if profile:
            import cProfile
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(asyncio.run, serve(args.amqp_url, args.boxes))
            finally:
                profiler.dump_stats(profile)
        return asyncio.run(serve(args.amqp_url, args.boxes))
    url, cleanup = _with_vhost(args.amqp_url)
    print("compose and check: N simultaneous callers against one voicemail_svc process (arriving over "
          f"{args.ramp:g} s); latency = call event handed to its session -> next command published")
    print(HEADER)
    try:
        rows = asyncio.run(measure(url, levels_of(args), args.ramp, **memory_options(args)))
    except OSError as exc:
        print(f"bench_voicemail: broker unreachable: {exc}")
        return 1
    finally:
        if cleanup is not None:
            cleanup()
    for kind in KINDS:
        real = [r["p99_ms"] for r in rows if r["kind"] == kind and r["time"] == "real" and r["calls"] == 500
                and not r["traced"]]
        if real:
            p99 = sorted(real)[len(real) // 2]
            verdict = "met" if p99 <= TARGET_P99_MS else "NOT met"
            print(f"{kind}: target p99 <= {TARGET_P99_MS:g} ms at 500 calls in real time: {verdict} "
                  f"(median of {len(real)} runs: {p99:.2f} ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_voicemail", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
