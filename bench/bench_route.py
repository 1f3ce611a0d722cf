"""Routing: route_req -> route_resp through callflow_svc, beside raw aio-pika and FastStream, in one run.

Run with ``python -m bench.bench_route [--quick]`` (or ``python -m bench --only route``)
against a RabbitMQ broker (``KZ_AMQP_URL`` or ``--amqp-url``).  A vhost of its
own is made for the run when the broker can be administered, so no other
callflow_svc or config_svc answers.

Three responders, each in a process of its own (as a gateway and a router are
on a real system), all answering route_reqs from one load process that
publishes on ``callmgr`` and takes the route_resp on ``targeted`` to its own
queue, matched by Msg-ID:

* **kzvoice**: config_svc and callflow_svc (``kzvoice run --only
  config,callflow``) on the in-memory store: one account with 10,000 callflow
  numbers and 1,000 patterns (others for the growth curves).  Requests dial
  exact numbers (9 in 10) and pattern numbers (1 in 10) after a warm-up that
  fills the caches, as a running system has them;
* **raw aio-pika**: a bare consumer that decodes the JSON and publishes a fixed
  park reply, acking after it (our ack policy): what the transport alone costs;
* **FastStream**: the same minimal responder written with FastStream's
  ``RabbitBroker`` (defaults, logging off);
* **kzvoice bus only**: kzvoice's own Consumer and Publisher answering with a
  fixed park, without callflow_svc: how much of the gap to raw is the bus.

For each, in rounds interleaved so that drift on a shared machine hits all
alike: latency with one request in flight (p50, p99) and throughput with 64 in
flight; each figure is the median of the rounds with their spread.  Besides:
the responder's CPU per route_req (its process's CPU time over a throughput
round), the garbage collector's time per route_req, and callflow_svc's own
share in process without the broker (the route_req handler on pre-decoded
messages, route_resp built and validated but not sent).

Growth (not with ``--quick``): route latency and the in-process handler cost
at 100, 1,000, 10,000 and 100,000 numbers (1,000 patterns) and at 10, 100,
1,000 and 10,000 patterns (10,000 numbers).

Targets: route p50 <= 1.2x raw; throughput@64 >= 0.8x raw and ahead of
FastStream.  A measurement, not a test: it exits 0 unless the broker is
unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import subprocess
import sys
import time
import uuid

import aio_pika
import orjson

from bench.common import (ROOT, Result, add_common_arguments, amqp_url_default, cpu_seconds, median, own_vhost,
                          pct, run_module, spread, verdict)

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
DEVICE = "d" * 32
REALM = "bench.example.com"
NUMBERS = 10_000
PATTERNS = 1_000
IN_FLIGHT = 64
TARGET_R1 = 1.2
TARGET_R2 = 0.8
GROWTH_NUMBERS = (100, 1_000, 10_000, 100_000)
GROWTH_PATTERNS = (10, 100, 1_000, 10_000)
# the resource type in the routing key tells the responders apart: callflow_svc takes audio only
KEYS = {"kzvoice": "audio", "raw": "raw", "faststream": "fstream", "kzbus": "sms"}
LABELS = {"kzvoice": "kzvoice", "raw": "raw aio-pika", "faststream": "FastStream", "kzbus": "kzvoice bus only"}


# ---- data ------------------------------------------------------------------------------------

def number_of(i: int) -> str:
    return f"+1415{5000000 + i:07d}"


def pattern_of(i: int) -> str:
    return rf"^\*7{i:03d}(\d+)$"


async def seed(store, numbers: int = NUMBERS, patterns: int = PATTERNS) -> None:
    from services.store import layout
    db = layout.account_db(ACCOUNT)
    await store.init_db()
    await store.create_db(db)
    await store.put(db, {"_id": ACCOUNT, "pvt_type": "account", "name": "bench", "realm": REALM})
    # the calling device of every route_req (callflow_svc routes only endpoints of the account)
    await store.put(db, {"_id": DEVICE, "pvt_type": "device", "name": "bench phone",
                         "sip": {"method": "password", "username": "356", "password": "x"}})
    flow = {"module": "answer", "data": {}}
    docs = [{"_id": uuid.uuid4().hex, "pvt_type": "callflow", "numbers": [number_of(i)], "patterns": [],
             "flow": flow} for i in range(numbers)]
    docs += [{"_id": uuid.uuid4().hex, "pvt_type": "callflow", "numbers": [], "patterns": [pattern_of(i)],
              "flow": flow} for i in range(patterns)]
    for start in range(0, len(docs), 1000):
        await store.bulk_put(db, docs[start:start + 1000])


def dialled(rng: random.Random, numbers: int = NUMBERS, patterns: int = PATTERNS) -> str:
    if rng.random() < 0.9:
        return number_of(rng.randrange(numbers))[2:]          # national form: normalisation runs
    return f"*7{rng.randrange(patterns):03d}{rng.randrange(10_000)}"


def route_req(number: str, resource_type: str, server_id: str) -> dict:
    msg_id = uuid.uuid4().hex
    return {"Event-Category": "dialplan", "Event-Name": "route_req", "App-Name": "freeswitch",
            "App-Version": "1.0", "Node": "bench@gw", "Msg-ID": msg_id, "Server-ID": server_id,
            "Call-ID": uuid.uuid4().hex, "Request": f"{number}@{REALM}", "To": f"{number}@{REALM}",
            "From": f"356@{REALM}", "Resource-Type": resource_type,
            "Custom-Channel-Vars": {"Account-ID": ACCOUNT, "Authorizing-Type": "device",
                                    "Authorizing-ID": DEVICE, "Fetch-ID": msg_id}}


def park_reply(req: dict, app: str) -> dict:
    return {"Event-Category": "dialplan", "Event-Name": "route_resp", "App-Name": app, "App-Version": "1",
            "Msg-ID": req["Msg-ID"], "Call-ID": req["Call-ID"], "Method": "park", "Routes": [],
            "Custom-Channel-Vars": {"CallFlow-ID": app}}


# ---- the load process's client ---------------------------------------------------------------------

class Client:
    """Publishes route_reqs on ``callmgr`` and waits for replies on its own ``targeted`` queue."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._futures: dict[str, asyncio.Future] = {}

    async def open(self) -> "Client":
        self.conn = await aio_pika.connect_robust(self.url)
        self.channel = await self.conn.channel()
        self.callmgr = await self.channel.declare_exchange("callmgr", "topic", durable=False)
        targeted = await self.channel.declare_exchange("targeted", "direct", durable=False)
        self.queue_name = f"bench-gw-{uuid.uuid4().hex[:12]}"
        queue = await self.channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        await queue.bind(targeted, self.queue_name)
        await queue.consume(self._on_reply, no_ack=True)
        return self

    async def _on_reply(self, message) -> None:
        body = orjson.loads(message.body)
        future = self._futures.pop(body.get("Msg-ID"), None)
        if future is not None and not future.done():
            future.set_result(body)

    async def round_trip(self, number: str, resource_type: str, timeout: float = 5.0) -> float:
        body = route_req(number, resource_type, self.queue_name)
        future = asyncio.get_running_loop().create_future()
        self._futures[body["Msg-ID"]] = future
        started = time.perf_counter()
        await self.callmgr.publish(aio_pika.Message(orjson.dumps(body), content_type="application/json"),
                                   routing_key=f"route.req.{resource_type}.{ACCOUNT}")
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._futures.pop(body["Msg-ID"], None)
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.conn.close()


# ---- the responders (each in its own process: --serve KIND) -----------------------------------------

async def serve_raw(url: str):
    conn = await aio_pika.connect_robust(url)
    channel = await conn.channel()
    await channel.set_qos(prefetch_count=IN_FLIGHT)
    callmgr = await channel.declare_exchange("callmgr", "topic", durable=False)
    targeted = await channel.declare_exchange("targeted", "direct", durable=False)
    queue = await channel.declare_queue(f"bench-raw-{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True)
    await queue.bind(callmgr, f"route.req.{KEYS['raw']}.*")

    async def on_message(message) -> None:
        req = orjson.loads(message.body)
        await targeted.publish(aio_pika.Message(orjson.dumps(park_reply(req, "raw")),
                                                content_type="application/json"),
                               routing_key=req["Server-ID"])
        await message.ack()

    await queue.consume(on_message)

    async def stop() -> None:
        await conn.close()
    return stop


async def serve_faststream(url: str):
    from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue

    broker = RabbitBroker(url, logger=None)          # FastStream's defaults, logging off
    callmgr = RabbitExchange("callmgr", type=ExchangeType.TOPIC, durable=False)
    targeted = RabbitExchange("targeted", type=ExchangeType.DIRECT, durable=False)
    queue = RabbitQueue(f"bench-fs-{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True,
                        routing_key=f"route.req.{KEYS['faststream']}.*")

    @broker.subscriber(queue, callmgr)
    async def on_route_req(req: dict) -> None:
        await broker.publish(park_reply(req, "faststream"), exchange=targeted, routing_key=req["Server-ID"])

    await broker.start()

    async def stop() -> None:
        await broker.stop()
    return stop


class _BuildOnly:
    """A bus that builds and validates what it is asked to publish, and sends nothing."""

    def __init__(self, bus) -> None:
        self._bus = bus

    async def publish(self, spec, fields, *, to=None, server_id=None) -> dict:
        return self._bus.publisher.build(spec, fields, server_id=server_id)


async def serve_kzvoice(url: str, numbers: int, patterns: int):
    from callflow_svc.app import build as build_callflow
    from callflow_svc.calls import Calls
    from callflow_svc.config import CallflowConfig
    from callflow_svc.route_req import RouteReq
    from config_svc.app import build as build_config
    from services.config.client import ConfigClient
    from services.messages import catalogue
    from services.messages.spec import Message
    from services.routing.lookup import Lookup
    from services.runtime import ServiceContext, settle_heap
    from services.settings import Settings
    from services.store.memory import MemoryStore

    store = MemoryStore()
    await seed(store, numbers, patterns)
    context = ServiceContext(Settings(amqp_url=url, store_url="memory://", node="kzvoice@bench"), store=store)
    services = []
    for factory in (build_config, build_callflow):
        service = factory(context)
        await service.start()
        services.append(service)
    callflow = services[-1]
    settle_heap(Settings.from_env().gc_gen0)         # what Runtime.start does once the services are up (KZ_GC_GEN0)
    # callflow_svc's route_req handler, run in process on the service's own routing cache
    bus = await context.bus("bench-handler")
    client = await ConfigClient(bus).start()
    calls = Calls(None, None)
    handler = RouteReq(bus=_BuildOnly(bus), lookup=Lookup(store, callflow.cache), config=CallflowConfig(client),
                       calls=calls, store=store, server_id="callflow_route_bench")
    key = f"route.req.audio.{ACCOUNT}"

    def batch(rng: random.Random, n: int) -> list:
        return [Message(catalogue.ROUTE_REQ, route_req(dialled(rng, numbers, patterns), "audio", "bench-gw"),
                        routing_key=key) for _ in range(n)]

    async def warm() -> dict:
        """Every number through the service's routing decision and the in-process handler once:
        the caches (routing, documents, normalised numbers) of a running system."""
        docs = [Message(catalogue.ROUTE_REQ, route_req(number_of(i)[2:], "audio", "bench-gw"), routing_key=key)
                for i in range(numbers)]
        for message in docs:
            await callflow.route_req.route(message)
            await handler.handle(message)
        await calls.drain(0)
        return {"warmed": len(docs)}

    async def cost(count: int, rounds: int) -> dict:
        rng = random.Random(7)
        for message in batch(rng, min(count, 500)):
            await handler.handle(message)
        figures = []
        for _ in range(rounds):
            messages = batch(rng, count)
            started = time.perf_counter()
            for message in messages:
                await handler.handle(message)
            figures.append((time.perf_counter() - started) / count * 1e6)
            await calls.drain(0)                          # the route_win timers of this round
        return {"us": figures}

    async def stop() -> None:
        await calls.drain(0)
        await client.close()
        for service in reversed(services):
            await service.stop(5.0)
        await context.close()

    stop.commands = {"warm": warm, "cost": cost}
    return stop


async def serve_kzbus(url: str):
    """kzvoice's bus layer alone (Consumer and Publisher on AmqpTransport: decode, identify, validate,
    envelope, encode, ack) answering every route_req with a fixed park: the part of the round trip
    that is the bus, without callflow_svc."""
    from services.exchanges import CALLMGR
    from services.messages import catalogue
    from services.runtime import ServiceContext
    from services.settings import Settings

    context = ServiceContext(Settings(amqp_url=url, store_url="memory://", node="kzvoice@bench"))
    bus = await context.bus("bench-bus-only")
    queue = await bus.reply_queue("bench_bus_only", start=False)

    async def on_route_req(message) -> None:
        await bus.publish(catalogue.ROUTE_RESP, {"Msg-ID": message.msg_id, "Call-ID": message.call_id,
                                                 "Method": "park", "Routes": [],
                                                 "Custom-Channel-Vars": {"CallFlow-ID": "kzbus"}},
                          to=message.server_id)

    queue.on(catalogue.ROUTE_REQ, on_route_req)
    await queue.start()
    await queue.consumer.bind(CALLMGR, f"route.req.{KEYS['kzbus']}.*")

    async def stop() -> None:
        await context.close()
    return stop


class CollectorClock:
    """Wall time the cyclic garbage collector spends in this process (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def start(self) -> "CollectorClock":
        gc.callbacks.append(self._on_phase)
        return self

    def _on_phase(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1


async def serve(kind: str, url: str, numbers: int, patterns: int) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    starters = {"raw": lambda: serve_raw(url), "faststream": lambda: serve_faststream(url),
                "kzvoice": lambda: serve_kzvoice(url, numbers, patterns), "kzbus": lambda: serve_kzbus(url)}
    stop = await starters[kind]()
    collector = CollectorClock().start()
    profiler = None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("READY", flush=True)
    commands = getattr(stop, "commands", {})
    try:
        while line := (await reader.readline()).decode().strip():
            word, *rest = line.split()
            if word == "quit":
                break
            if word == "profile-start":
                from pyinstrument import Profiler
                profiler = Profiler(interval=0.0002, async_mode="disabled")
                profiler.start()
                print(json.dumps({"ok": True}), flush=True)
            elif word == "collector":
                print(json.dumps({"seconds": collector.seconds, "collections": collector.collections}), flush=True)
            elif word == "profile-stop":
                profiler.stop()
                with open(rest[0], "w", encoding="utf-8") as out:
                    out.write(profiler.output_text(unicode=True, color=False, show_all=False))
                print(json.dumps({"ok": True}), flush=True)
            elif word in commands:
                print(json.dumps(await commands[word](*map(int, rest))), flush=True)
            else:
                print(json.dumps({"error": f"unknown command {word!r}"}), flush=True)
    finally:
        await stop()
    return 0


class Responder:
    """A responder process, driven over its stdin/stdout."""

    def __init__(self, kind: str, url: str, numbers: int = NUMBERS, patterns: int = PATTERNS) -> None:
        self.kind, self.url, self.numbers, self.patterns = kind, url, numbers, patterns
        self.resource_type = KEYS[kind]

    async def start(self) -> "Responder":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.bench_route", "--serve", self.kind, "--amqp-url", self.url,
            "--numbers", str(self.numbers), "--patterns", str(self.patterns), cwd=str(ROOT),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "KZ_LOG_LEVEL": "warning"})
        line = await asyncio.wait_for(self.process.stdout.readline(), 300)
        if line.decode().strip() != "READY":
            raise RuntimeError(f"the {self.kind} responder did not start: {line!r}")
        return self

    async def command(self, line: str, timeout: float = 600) -> dict:
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), timeout))

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.stdin.write(b"quit\n")
            await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except asyncio.TimeoutError:
                self.process.terminate()
                await self.process.wait()


# ---- measuring -------------------------------------------------------------------------------------

async def latency(client: Client, resource_type: str, count: int, rng: random.Random, numbers: int = NUMBERS,
                  patterns: int = PATTERNS) -> list[float]:
    return [await client.round_trip(dialled(rng, numbers, patterns), resource_type) for _ in range(count)]


async def throughput(client: Client, responder: Responder, total: int,
                     rng: random.Random) -> tuple[float, float, float]:
    """Requests per second with 64 in flight, and the responder's CPU seconds and garbage-collector
    seconds per request."""
    numbers = [dialled(rng) for _ in range(total)]
    it = iter(numbers)

    async def worker() -> None:
        for number in it:
            await client.round_trip(number, responder.resource_type)

    collected = (await responder.command("collector"))["seconds"]
    cpu = responder.cpu()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    elapsed = time.perf_counter() - started
    cpu = responder.cpu() - cpu
    collected = (await responder.command("collector"))["seconds"] - collected
    return total / elapsed, cpu / total, collected / total


async def compare(url: str, args, result: Result) -> None:
    rng = random.Random(42)
    print(f"starting responders (kzvoice seeds {NUMBERS} numbers and {PATTERNS} patterns) ...", flush=True)
    responders = {kind: await Responder(kind, url).start() for kind in ("raw", "faststream", "kzbus", "kzvoice")}
    client = await Client(url).open()
    try:
        await responders["kzvoice"].command("warm")
        for responder in responders.values():
            for _ in range(args.warmup):
                await client.round_trip(dialled(rng), responder.resource_type)
        p50s = {k: [] for k in responders}
        p99s = {k: [] for k in responders}
        tps = {k: [] for k in responders}
        cpus = {k: [] for k in responders}
        gcs = {k: [] for k in responders}
        for round_no in range(args.rounds):
            for kind, responder in responders.items():
                samples = await latency(client, responder.resource_type, args.count, rng)
                p50s[kind].append(pct(samples, 0.5) * 1000)
                p99s[kind].append(pct(samples, 0.99) * 1000)
            for kind, responder in responders.items():
                tp, cpu, collected = await throughput(client, responder, args.total, rng)
                tps[kind].append(tp)
                cpus[kind].append(cpu * 1e6)
                gcs[kind].append(collected * 1e6)
            print(f"round {round_no + 1}/{args.rounds}: p50 ms " +
                  ", ".join(f"{k} {p50s[k][-1]:.3f}" for k in responders) + "; req/s " +
                  ", ".join(f"{k} {tps[k][-1]:.0f}" for k in responders), flush=True)
        if args.profile:
            await responders["kzvoice"].command("profile-start")
            await throughput(client, responders["kzvoice"], args.total, rng)
            await responders["kzvoice"].command(f"profile-stop {os.path.abspath(args.profile)}")
            print(f"profile of the kzvoice responder under load: {args.profile}")
        handler = (await responders["kzvoice"].command(f"cost {args.handler_count} {args.rounds + 2}"))["us"]
    finally:
        await client.close()
        for responder in responders.values():
            await responder.stop()

    ms, rps, us = "{:.3f}", "{:,.0f}", "{:.0f}"
    n = f"{args.rounds} rounds"
    r1 = median(p50s["kzvoice"]) / median(p50s["raw"])
    result.add("route", "p50 latency, 1 in flight, vs raw", spread(p50s["kzvoice"], ms, "ms"),
               spread(p50s["raw"], ms, "ms"), r1, f"<= {TARGET_R1}x", verdict(r1 <= TARGET_R1),
               note=f"{n} of {args.count} requests one at a time, per responder")
    result.add("route", "p50 latency, 1 in flight, vs FastStream", spread(p50s["kzvoice"], ms, "ms"),
               spread(p50s["faststream"], ms, "ms"), median(p50s["kzvoice"]) / median(p50s["faststream"]),
               "< 1.0x", verdict(median(p50s["kzvoice"]) < median(p50s["faststream"])))
    result.add("route", "FastStream p50 vs raw (peer)", spread(p50s["faststream"], ms, "ms"),
               spread(p50s["raw"], ms, "ms"), median(p50s["faststream"]) / median(p50s["raw"]))
    result.add("route", "p99 latency, 1 in flight, vs raw", spread(p99s["kzvoice"], ms, "ms"),
               spread(p99s["raw"], ms, "ms"), median(p99s["kzvoice"]) / median(p99s["raw"]))
    r2 = median(tps["kzvoice"]) / median(tps["raw"])
    result.add("route", f"throughput@{IN_FLIGHT} req/s, vs raw", spread(tps["kzvoice"], rps),
               spread(tps["raw"], rps), r2, f">= {TARGET_R2}x", verdict(r2 >= TARGET_R2),
               note=f"{n} of {args.total} requests with {IN_FLIGHT} in flight, per responder")
    r3 = median(tps["kzvoice"]) / median(tps["faststream"])
    result.add("route", f"throughput@{IN_FLIGHT} req/s, vs FastStream", spread(tps["kzvoice"], rps),
               spread(tps["faststream"], rps), r3, "> 1.0x", verdict(r3 > 1.0))
    result.add("route", f"FastStream throughput@{IN_FLIGHT} vs raw (peer)", spread(tps["faststream"], rps),
               spread(tps["raw"], rps), median(tps["faststream"]) / median(tps["raw"]))
    result.add("route", "responder CPU per route_req (us), vs raw", spread(cpus["kzvoice"], us, "us"),
               spread(cpus["raw"], us, "us"), median(cpus["kzvoice"]) / median(cpus["raw"]),
               note="responder process CPU time over a throughput round / requests (1 tick = 10 ms resolution)")
    result.add("route", "garbage collector per route_req (us), vs raw", spread(gcs["kzvoice"], "{:.1f}", "us"),
               spread(gcs["raw"], "{:.1f}", "us"),
               note="wall time in collections (gc.callbacks) over a throughput round / requests; the services run "
                    "with services.runtime.settle_heap (gc.freeze, KZ_GC_GEN0)")
    result.add("route", f"bus layer only: throughput@{IN_FLIGHT} req/s, vs raw", spread(tps["kzbus"], rps),
               spread(tps["raw"], rps), median(tps["kzbus"]) / median(tps["raw"]),
               note="kzvoice's Consumer and Publisher answering with a fixed park (decode, identify, validate, "
                    "envelope, encode, ack), no callflow_svc: the bus's share of the round trip")
    result.add("route", "bus layer only: responder CPU per route_req (us), vs raw", spread(cpus["kzbus"], us, "us"),
               spread(cpus["raw"], us, "us"), median(cpus["kzbus"]) / median(cpus["raw"]))
    result.add("route", "route_req handler in process (no broker)", spread(handler, "{:.1f}", "us"),
               note=f"{args.handler_count} pre-decoded route_reqs x {len(handler)} rounds; route_resp built "
                    "and validated, not sent")


async def growth(url: str, args, result: Result) -> None:
    """Latency and handler cost as the account's numbers and patterns grow."""
    points = [(n, PATTERNS) for n in GROWTH_NUMBERS] + [(NUMBERS, p) for p in GROWTH_PATTERNS if p != PATTERNS]
    measured: dict[tuple[int, int], dict] = {}
    raw = await Responder("raw", url).start()
    client = await Client(url).open()
    try:
        for numbers, patterns in points:
            started = time.perf_counter()
            responder = await Responder("kzvoice", url, numbers, patterns).start()
            try:
                await responder.command("warm")
                rng = random.Random(numbers + patterns)
                for _ in range(args.warmup):
                    await client.round_trip(dialled(rng, numbers, patterns), "audio")
                ours, base = [], []
                for _ in range(args.rounds):
                    base.append(pct(await latency(client, "raw", args.growth_count, rng), 0.5) * 1000)
                    ours.append(pct(await latency(client, "audio", args.growth_count, rng, numbers, patterns),
                                    0.5) * 1000)
                cost = (await responder.command(f"cost {args.handler_count} {args.rounds}"))["us"]
            finally:
                await responder.stop()
            measured[(numbers, patterns)] = {"p50": ours, "raw": base, "cost": cost}
            print(f"growth: {numbers} numbers, {patterns} patterns: p50 {median(ours):.3f} ms "
                  f"(raw {median(base):.3f}), handler {median(cost):.1f} us ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    finally:
        await client.close()
        await raw.stop()

    def series(keys, x_of, field):
        return [[x_of(k), median(measured[k][field]), min(measured[k][field]), max(measured[k][field])]
                for k in keys]

    by_numbers = [(n, PATTERNS) for n in GROWTH_NUMBERS]
    by_patterns = [(NUMBERS, p) for p in GROWTH_PATTERNS]
    for what, keys, x_of, label in (("numbers", by_numbers, lambda k: k[0], f"callflow numbers ({PATTERNS} patterns)"),
                                    ("patterns", by_patterns, lambda k: k[1], f"patterns ({NUMBERS} numbers)")):
        result.curves[f"route_growth_{what}"] = {
            "title": f"route_req -> route_resp as the account's {what} grow", "x_label": label, "log_x": True,
            "y_label": "ms, p50 with one request in flight",
            "series": {"kzvoice p50": series(keys, x_of, "p50"), "raw aio-pika p50": series(keys, x_of, "raw")}}
        result.curves[f"route_handler_{what}"] = {
            "title": f"callflow_svc route_req handler (in process) as the account's {what} grow",
            "x_label": label, "log_x": True, "y_label": "us per route_req",
            "series": {"handler": series(keys, x_of, "cost")}}
        first, last = measured[keys[0]], measured[keys[-1]]
        result.add("route", f"p50 at {x_of(keys[-1]):,} vs {x_of(keys[0]):,} {what}",
                   spread(last["p50"], "{:.3f}", "ms"), spread(first["p50"], "{:.3f}", "ms"),
                   median(last["p50"]) / median(first["p50"]), note="growth; see docs/perf/")
        result.add("route", f"handler at {x_of(keys[-1]):,} vs {x_of(keys[0]):,} {what}",
                   spread(last["cost"], "{:.1f}", "us"), spread(first["cost"], "{:.1f}", "us"),
                   median(last["cost"]) / median(first["cost"]))


async def main_async(args) -> Result:
    from services.bus import BrokerUnavailable  # noqa: F401 (import check: the project is installed)
    url, cleanup = own_vhost(args.amqp_url, "kzvoice-bench-route")
    result = Result()
    try:
        await compare(url, args, result)
        if args.growth:
            await growth(url, args, result)
    finally:
        if cleanup is not None:
            cleanup()
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amqp-url", default=amqp_url_default(), help="broker (default KZ_AMQP_URL or the local one)")
    parser.add_argument("--count", type=int, default=1000, help="requests per round and responder, one at a time")
    parser.add_argument("--total", type=int, default=3000, help="requests per round and responder, 64 in flight")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up requests per responder")
    parser.add_argument("--handler-count", type=int, default=2000,
                        help="requests per round for the in-process handler cost")
    parser.add_argument("--growth-count", type=int, default=300, help="requests per round at each growth point")
    parser.add_argument("--no-growth", dest="growth", action="store_false", help="skip the growth curves")
    parser.add_argument("--profile", help="write a pyinstrument profile of the kzvoice responder under load here")
    parser.add_argument("--serve", choices=sorted(KEYS), help=argparse.SUPPRESS)
    parser.add_argument("--numbers", type=int, default=NUMBERS, help=argparse.SUPPRESS)
    parser.add_argument("--patterns", type=int, default=PATTERNS, help=argparse.SUPPRESS)
    if not any(a.dest == "quick" for a in parser._actions):
        add_common_arguments(parser)


def collect(args) -> Result:
    if args.quick:
        args.count, args.total, args.rounds, args.warmup, args.handler_count = 200, 640, 3, 50, 500
        args.growth = False
    return asyncio.run(main_async(args))


def run(args) -> int:
    if args.serve:
        return asyncio.run(serve(args.serve, args.amqp_url, args.numbers, args.patterns))
    return run_module(collect, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_route", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
