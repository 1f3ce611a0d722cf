"""Config reads and the time a change takes to reach a running client.

Run with ``python -m bench.bench_config [--quick] [--amqp-url URL]`` against a
RabbitMQ broker (``KZ_AMQP_URL``, default the local one).  config_svc, the
config client and the raw aio-pika pair all run in this one process on one
event loop, with the in-memory store, so the figures include no store I/O.
Point it at a broker (or vhost) where no other config_svc consumes
``sysconf_listener``: a competing instance would answer from its own store.

Measures:

* **cached read**: ``ConfigClient.get_integer`` answered from the cache;
* **sysconf get round trip**: one get_req -> get_resp through config_svc
  (envelope, validation, store read, reply on ``targeted``), beside a **raw
  aio-pika round trip** (bare request and reply queues, no envelope) in the
  same run; their ratio is what the kapi layer and config_svc cost;
* **set -> client sees it**: from publishing an operator set_req until a
  running client, polling every 0.5 ms, returns the new value (the change
  event evicts its cache entry).  Target: p99 <= 100 ms on loopback.

A measurement, not a test: it always exits 0 unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid

import aio_pika

from services.bus import Bus, BrokerUnavailable
from services.bus.amqp import AmqpTransport
from services.config.client import ConfigClient
from services.messages import catalogue
from services.messages.validation import Validator
from services.runtime import ServiceContext
from services.settings import DEFAULT_AMQP_URL, Settings
from services.store import layout
from services.store.memory import MemoryStore

TARGET_P99_MS = 100.0


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def raw_round_trips(url: str, count: int) -> list[float]:
    """Bare aio-pika request/response: one request queue, one reply queue, default exchange."""
    conn = await aio_pika.connect_robust(url)
    try:
        server_ch = await conn.channel()
        client_ch = await conn.channel()
        req_q = await server_ch.declare_queue(f"bench-raw-req-{uuid.uuid4().hex[:8]}", exclusive=True,
                                              auto_delete=True)
        reply_q = await client_ch.declare_queue(f"bench-raw-reply-{uuid.uuid4().hex[:8]}", exclusive=True,
                                                auto_delete=True)

        async def serve(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                await server_ch.default_exchange.publish(
                    aio_pika.Message(message.body, content_type="application/json"), routing_key=reply_q.name)

        await req_q.consume(serve)
        waiting: dict[str, asyncio.Future] = {}

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                future = waiting.pop(message.body.decode(), None)
                if future is not None:
                    future.set_result(None)

        await reply_q.consume(on_reply)
        samples = []
        for _ in range(count):
            token = uuid.uuid4().hex
            future = asyncio.get_running_loop().create_future()
            waiting[token] = future
            started = time.perf_counter()
            await client_ch.default_exchange.publish(aio_pika.Message(token.encode(), content_type="application/json"),
                                                     routing_key=req_q.name)
            await future
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        await conn.close()


async def run(url: str, quick: bool) -> list[tuple[str, str]]:
    from config_svc.app import build
    round_trips, changes, cached = (200, 50, 20_000) if quick else (2000, 300, 200_000)

    store = MemoryStore()
    await store.create_db(layout.SYSTEM_CONFIG_DB)
    await store.put(layout.SYSTEM_CONFIG_DB, {"_id": "callflow", "pvt_type": "config",
                                              "default": {"route_win_timeout": 3000}})
    context = ServiceContext(Settings(amqp_url=url, node="config_svc@bench"), _store=store)
    service = build(context)
    validator = Validator(Settings().schema_dir)
    validator.compile_all()
    client_bus = Bus(AmqpTransport(url), validator, app_name="callflow_svc", node="callflow_svc@bench")
    operator_bus = Bus(AmqpTransport(url), validator, app_name="kzvoice-config", node="operator@bench")
    try:
        await service.start()
        await client_bus.start()
        await operator_bus.start()
        client = await ConfigClient(client_bus).start()
        operator = await operator_bus.reply_queue("bench-operator")
        get_req = catalogue.get("sysconf.get_req")
        set_req = catalogue.get("sysconf.set_req")

        # warm-up: connections, compiled schemas, first store reads
        for _ in range(20):
            await operator.request(get_req, {"Category": "callflow", "Key": "route_win_timeout"}, timeout=5)
        await raw_round_trips(url, 20)

        # 1. cached read
        await client.get_integer("callflow", "route_win_timeout", 3000)
        started = time.perf_counter()
        for _ in range(cached):
            await client.get_integer("callflow", "route_win_timeout", 3000)
        cached_us = (time.perf_counter() - started) / cached * 1e6

        # 2. sysconf round trip vs raw aio-pika round trip, interleaved in halves
        sysconf: list[float] = []
        raw: list[float] = []
        for _ in range(2):
            for _ in range(round_trips // 2):
                t0 = time.perf_counter()
                await operator.request(get_req, {"Category": "callflow", "Key": "route_win_timeout",
                                                 "Node": "callflow_svc@bench"}, timeout=5)
                sysconf.append(time.perf_counter() - t0)
            raw += await raw_round_trips(url, round_trips // 2)

        # 3. operator set -> running client returns the new value
        visible: list[float] = []
        for i in range(changes):
            value = 4000 + i
            assert await client.get_integer("callflow", "route_win_timeout", 3000) != value
            t0 = time.perf_counter()
            await operator_bus.publish(set_req, {"Category": "callflow", "Key": "route_win_timeout", "Value": value},
                                       server_id=operator.name)
            while await client.get_integer("callflow", "route_win_timeout", 3000) != value:
                if time.perf_counter() - t0 > 5:
                    raise RuntimeError("a change did not reach the client within 5 s")
                await asyncio.sleep(0.0005)
            visible.append(time.perf_counter() - t0)

        ms = lambda s: f"{s * 1000:.2f} ms"  # noqa: E731
        p99 = pct(visible, 0.99) * 1000
        return [
            ("cached read (get_integer, cache hit)", f"{cached_us:.2f} us"),
            ("sysconf get round trip p50 / p99", f"{ms(pct(sysconf, 0.5))} / {ms(pct(sysconf, 0.99))}"),
            ("raw aio-pika round trip p50 / p99", f"{ms(pct(raw, 0.5))} / {ms(pct(raw, 0.99))}"),
            ("sysconf / raw (p50 ratio)", f"{statistics.median(sysconf) / statistics.median(raw):.2f}x"),
            ("set -> client sees it p50 / p99", f"{ms(pct(visible, 0.5))} / {ms(pct(visible, 0.99))}"),
            (f"p99 target <= {TARGET_P99_MS:.0f} ms", "met" if p99 <= TARGET_P99_MS else "MISSED"),
            ("samples (round trips / changes / cached reads)", f"{len(sysconf)} / {len(visible)} / {cached}"),
        ]
    finally:
        for closing in (client_bus.close(), operator_bus.close(), service.stop(2.0), context.close()):
            try:
                await closing
            except Exception:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_config", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about ten seconds)")
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL") or DEFAULT_AMQP_URL)
    args = parser.parse_args(argv)
    try:
        rows = asyncio.run(run(args.amqp_url, args.quick))
    except BrokerUnavailable as exc:
        print(f"bench_config: {exc}", file=sys.stderr)
        return 1
    width = max(len(name) for name, _ in rows)
    print(f"{'config':<{width}}  result")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
