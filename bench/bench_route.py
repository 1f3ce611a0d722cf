"""Routing: route_req -> route_resp through callflow_svc, against a raw aio-pika request/response.

Run with ``kzvoice bench route`` (or ``python -m bench.bench_route``) against a
RabbitMQ broker (``KZ_AMQP_URL`` or ``--amqp-url``; use a vhost where no other
callflow_svc or config_svc consumes).  config_svc, callflow_svc, the raw
responder and the load generator all run in this one process on one event
loop, with the in-memory store.

Data: one account with 10,000 callflow numbers and 1,000 patterns.  Requests
dial a mix of exact numbers (9 in 10) and pattern numbers (1 in 10), after a
warm-up that fills the caches, as a running system would have them.

Measured the same way for both sides (publish on ``callmgr``, reply on
``targeted`` to the client's queue, matched by Msg-ID):

* latency with one request in flight: p50 (and p99);
* throughput with 64 requests in flight.

Besides, callflow_svc's own share, without the broker: the route_req handler
run in process on pre-decoded messages, its route_resp built and validated but
not sent (best and median of a few rounds, microseconds per request).  Steadier
than the round trips on a busy machine, so a change to the routing path shows.

The raw side is a bare aio-pika consumer that decodes the JSON and publishes a
fixed park reply: what the transport alone costs.  The last line is::

    route: p50 X ms (raw Y ms, ratio R1), throughput@64 Z/s (raw W/s, ratio R2)

Targets: R1 <= 1.2 and R2 >= 0.8.  A measurement, not a test: it exits 0
unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import time
import uuid

import aio_pika
import orjson

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
REALM = "bench.example.com"
NUMBERS = 10_000
PATTERNS = 1_000
IN_FLIGHT = 64
TARGET_R1 = 1.2
TARGET_R2 = 0.8


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---- data ------------------------------------------------------------------------------------

def number_of(i: int) -> str:
    return f"+1415{5000000 + i:07d}"


def pattern_of(i: int) -> str:
    return rf"^\*7{i:03d}(\d+)$"


async def seed(store) -> None:
    from services.store import layout
    db = layout.account_db(ACCOUNT)
    await store.init_db()
    await store.create_db(db)
    await store.put(db, {"_id": ACCOUNT, "pvt_type": "account", "name": "bench", "realm": REALM})
    # the calling device of every route_req (callflow_svc routes only endpoints of the account)
    await store.put(db, {"_id": "d" * 32, "pvt_type": "device", "name": "bench phone",
                         "sip": {"method": "password", "username": "356", "password": "x"}})
    flow = {"module": "answer", "data": {}}
    docs = [{"_id": uuid.uuid4().hex, "pvt_type": "callflow", "numbers": [number_of(i)], "patterns": [],
             "flow": flow} for i in range(NUMBERS)]
    docs += [{"_id": uuid.uuid4().hex, "pvt_type": "callflow", "numbers": [], "patterns": [pattern_of(i)],
              "flow": flow} for i in range(PATTERNS)]
    for start in range(0, len(docs), 1000):
        await store.bulk_put(db, docs[start:start + 1000])


def dialled(rng: random.Random) -> str:
    if rng.random() < 0.9:
        return number_of(rng.randrange(NUMBERS))[2:]          # national form: normalisation runs
    return f"*7{rng.randrange(PATTERNS):03d}{rng.randrange(10_000)}"


# ---- the client ------------------------------------------------------------------------------

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

    def request(self, number: str, resource_type: str) -> dict:
        msg_id = uuid.uuid4().hex
        call_id = uuid.uuid4().hex
        return {"Event-Category": "dialplan", "Event-Name": "route_req", "App-Name": "freeswitch",
                "App-Version": "1.0", "Node": "bench@gw", "Msg-ID": msg_id, "Server-ID": self.queue_name,
                "Call-ID": call_id, "Request": f"{number}@{REALM}", "To": f"{number}@{REALM}",
                "From": f"356@{REALM}", "Resource-Type": resource_type,
                "Custom-Channel-Vars": {"Account-ID": ACCOUNT, "Authorizing-Type": "device",
                                        "Authorizing-ID": "d" * 32, "Fetch-ID": msg_id}}

    async def round_trip(self, number: str, resource_type: str, timeout: float = 5.0) -> float:
        body = self.request(number, resource_type)
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


# ---- the raw responder --------------------------------------------------------------------------

RAW_TYPE = "bench"      # route.req.bench.<account>: a key callflow_svc does not take


async def raw_responder(url: str):
    conn = await aio_pika.connect_robust(url)
    channel = await conn.channel()
    await channel.set_qos(prefetch_count=IN_FLIGHT)
    callmgr = await channel.declare_exchange("callmgr", "topic", durable=False)
    targeted = await channel.declare_exchange("targeted", "direct", durable=False)
    queue = await channel.declare_queue(f"bench-raw-{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True)
    await queue.bind(callmgr, f"route.req.{RAW_TYPE}.*")

    async def on_message(message) -> None:
        req = orjson.loads(message.body)
        reply = {"Event-Category": "dialplan", "Event-Name": "route_resp", "App-Name": "raw", "App-Version": "1",
                 "Msg-ID": req["Msg-ID"], "Call-ID": req["Call-ID"], "Method": "park", "Routes": [],
                 "Custom-Channel-Vars": {"CallFlow-ID": "raw"}}
        await targeted.publish(aio_pika.Message(orjson.dumps(reply), content_type="application/json"),
                               routing_key=req["Server-ID"])
        await message.ack()

    await queue.consume(on_message)
    return conn


# ---- callflow_svc's own share --------------------------------------------------------------------

class _BuildOnly:
    """A bus that builds and validates what it is asked to publish, and sends nothing."""

    def __init__(self, bus) -> None:
        self._bus = bus

    async def publish(self, spec, fields, *, to=None, server_id=None) -> dict:
        return self._bus.publisher.build(spec, fields, server_id=server_id)


async def handler_cost(context, store, count: int, rng: random.Random) -> list[float]:
    """Microseconds per route_req in ``RouteReq.handle``, per round (warm caches, no broker)."""
    from callflow_svc.cache import RoutingCache
    from callflow_svc.calls import Calls
    from callflow_svc.config import CallflowConfig
    from callflow_svc.lookup import Lookup
    from callflow_svc.route_req import RouteReq
    from services.config.client import ConfigClient
    from services.messages import catalogue
    from services.messages.spec import Message

    bus = await context.bus("bench-handler")
    client = await ConfigClient(bus).start()
    calls = Calls(None, None)
    route_req = RouteReq(bus=_BuildOnly(bus), lookup=Lookup(store, RoutingCache()), config=CallflowConfig(client),
                         calls=calls, store=store, server_id="callflow_route_bench")
    requester = Client("")
    requester.queue_name = "bench-gw"
    key = f"route.req.audio.{ACCOUNT}"

    def messages(n: int) -> list:
        return [Message(catalogue.ROUTE_REQ, requester.request(dialled(rng), "audio"), routing_key=key)
                for _ in range(n)]

    try:
        for message in messages(count):                  # fill the caches
            await route_req.handle(message)
        rounds = []
        for _ in range(7):
            batch = messages(count)
            started = time.perf_counter()
            for message in batch:
                await route_req.handle(message)
            rounds.append((time.perf_counter() - started) / count * 1e6)
            await calls.drain(0)                         # the route_win timers of this round
        return rounds
    finally:
        await calls.drain(0)
        await client.close()


# ---- measuring -------------------------------------------------------------------------------------

async def latency(client: Client, resource_type: str, count: int, rng: random.Random) -> list[float]:
    return [await client.round_trip(dialled(rng), resource_type) for _ in range(count)]


async def throughput(client: Client, resource_type: str, total: int, rng: random.Random) -> float:
    numbers = [dialled(rng) for _ in range(total)]
    it = iter(numbers)

    async def worker() -> None:
        for number in it:
            await client.round_trip(number, resource_type)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return total / (time.perf_counter() - started)


async def main_async(args) -> int:
    from callflow_svc.app import build as build_callflow
    from config_svc.app import build as build_config
    from services.bus import BrokerUnavailable
    from services.runtime import ServiceContext
    from services.settings import Settings
    from services.store.memory import MemoryStore

    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(42)
    store = MemoryStore()
    print(f"seeding one account with {NUMBERS} numbers and {PATTERNS} patterns ...", flush=True)
    await seed(store)
    settings = Settings(amqp_url=args.amqp_url, store_url="memory://", node="kzvoice@bench")
    context = ServiceContext(settings, _store=store)
    services = []
    try:
        for factory in (build_config, build_callflow):
            service = factory(context)
            await service.start()
            services.append(service)
    except BrokerUnavailable as exc:
        print(f"bench route: {exc}")
        return 2
    raw_conn = await raw_responder(args.amqp_url)
    client = await Client(args.amqp_url).open()
    try:
        print(f"warming up ({args.warmup} requests) ...", flush=True)
        for _ in range(args.warmup):
            await client.round_trip(dialled(rng), "audio")
            await client.round_trip(dialled(rng), RAW_TYPE)
        # interleave the two sides in rounds so both see the same machine state
        ours: list[float] = []
        raw: list[float] = []
        rounds = 5
        for _ in range(rounds):
            raw += await latency(client, RAW_TYPE, args.count // rounds, rng)
            ours += await latency(client, "audio", args.count // rounds, rng)
        ours_tp: list[float] = []
        raw_tp: list[float] = []
        for _ in range(3):
            raw_tp.append(await throughput(client, RAW_TYPE, args.total // 3, rng))
            ours_tp.append(await throughput(client, "audio", args.total // 3, rng))
        handler = await handler_cost(context, store, args.handler_count, rng)
    finally:
        await client.close()
        await raw_conn.close()
        for service in reversed(services):
            await service.stop(5.0)
        await context.close()

    p50, raw_p50 = statistics.median(ours) * 1000, statistics.median(raw) * 1000
    tp, raw_tp_best = statistics.median(ours_tp), statistics.median(raw_tp)
    r1, r2 = p50 / raw_p50, tp / raw_tp_best
    print(f"latency, 1 in flight ({len(ours)} requests each): p50 {p50:.3f} ms, p99 {pct(ours, 0.99) * 1000:.3f} ms; "
          f"raw p50 {raw_p50:.3f} ms, p99 {pct(raw, 0.99) * 1000:.3f} ms")
    print(f"throughput, {IN_FLIGHT} in flight ({args.total // 3} requests x 3): {tp:.0f}/s; raw {raw_tp_best:.0f}/s "
          f"(runs: ours {', '.join(f'{x:.0f}' for x in ours_tp)}; raw {', '.join(f'{x:.0f}' for x in raw_tp)})")
    print(f"handler, in process without the broker ({args.handler_count} requests x {len(handler)}): "
          f"best {min(handler):.1f} us, median {statistics.median(handler):.1f} us per route_req")
    print(f"targets: ratio R1 <= {TARGET_R1} {'met' if r1 <= TARGET_R1 else 'MISSED'}, "
          f"R2 >= {TARGET_R2} {'met' if r2 >= TARGET_R2 else 'MISSED'}")
    print(f"route: p50 {p50:.3f} ms (raw {raw_p50:.3f} ms, ratio {r1:.2f}), throughput@{IN_FLIGHT} {tp:.0f}/s "
          f"(raw {raw_tp_best:.0f}/s, ratio {r2:.2f})")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/",
                        help="broker (default KZ_AMQP_URL or the local one)")
    parser.add_argument("--count", type=int, default=2000, help="requests per side for latency")
    parser.add_argument("--total", type=int, default=6000, help="requests per side for throughput")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests per side")
    parser.add_argument("--handler-count", type=int, default=2000,
                        help="requests per round for the in-process handler cost")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")


def run(args) -> int:
    if args.quick:
        args.count, args.total, args.warmup, args.handler_count = 200, 640, 50, 500
    return asyncio.run(main_async(args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_route", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
