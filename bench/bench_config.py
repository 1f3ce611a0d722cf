"""Config reads and the time a change takes to reach a running client.

Run with ``python -m bench.bench_config [--quick] [--amqp-url URL]`` against a
RabbitMQ broker (``KZ_AMQP_URL``, default the local one).  config_svc, the
config client and the raw aio-pika pair all run in this one process on one
event loop, with the in-memory store, so the figures include no store I/O.
It makes a vhost of its own when the broker can be administered, so no other
config_svc answers on ``sysconf_listener``.

Measures:

* **cached read**: ``ConfigClient.get_integer`` answered from the cache;
* **sysconf get round trip**: one get_req -> get_resp through config_svc
  (envelope, validation, store read, reply on ``targeted``), beside a **raw
  aio-pika round trip** (bare request and reply queues, no envelope) in the
  same run; their ratio is what the kapi layer and config_svc cost;
* **set -> client sees it**: from publishing an operator set_req until a
  running client, polling every 0.5 ms, returns the new value (the change
  event evicts its cache entry).  Target: p99 <= 100 ms on loopback.

Each figure is the median of the rounds with their spread.  A measurement,
not a test: it always exits 0 unless the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

import aio_pika

from bench.common import Result, add_common_arguments, median, own_vhost, pct, run_module, spread, verdict
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


async def run(url: str, quick: bool) -> Result:
    from config_svc.app import build
    rounds = 3 if quick else 5
    round_trips, changes, cached = (100, 30, 20_000) if quick else (400, 60, 200_000)

    store = MemoryStore()
    await store.create_db(layout.SYSTEM_CONFIG_DB)
    await store.put(layout.SYSTEM_CONFIG_DB, {"_id": "callflow", "pvt_type": "config",
                                              "default": {"route_win_timeout": 3000}})
    context = ServiceContext(Settings(amqp_url=url, node="config_svc@bench"), store=store)
    service = build(context)
    validator = Validator(Settings().schema_dir)
    validator.compile_all()
    client_bus = Bus(AmqpTransport(url), validator, app_name="callflow_svc", node="callflow_svc@bench")
    operator_bus = Bus(AmqpTransport(url), validator, app_name="kzvoice-config", node="operator@bench")
    figures: dict[str, list[float]] = {k: [] for k in ("cached", "sysconf", "raw", "seen_p50", "seen_p99")}
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
        await client.get_integer("callflow", "route_win_timeout", 3000)
        value = 4000
        for round_no in range(rounds):
            # 1. cached read
            started = time.perf_counter()
            for _ in range(cached):
                await client.get_integer("callflow", "route_win_timeout", 3000)
            figures["cached"].append((time.perf_counter() - started) / cached * 1e6)

            # 2. sysconf round trip vs raw aio-pika round trip
            sysconf: list[float] = []
            for _ in range(round_trips):
                t0 = time.perf_counter()
                await operator.request(get_req, {"Category": "callflow", "Key": "route_win_timeout",
                                                 "Node": "callflow_svc@bench"}, timeout=5)
                sysconf.append(time.perf_counter() - t0)
            raw = await raw_round_trips(url, round_trips)
            figures["sysconf"].append(pct(sysconf, 0.5) * 1000)
            figures["raw"].append(pct(raw, 0.5) * 1000)

            # 3. operator set -> running client returns the new value
            visible: list[float] = []
            for _ in range(changes):
                value += 1
                assert await client.get_integer("callflow", "route_win_timeout", 3000) != value
                t0 = time.perf_counter()
                await operator_bus.publish(set_req, {"Category": "callflow", "Key": "route_win_timeout",
                                                     "Value": value}, server_id=operator.name)
                while await client.get_integer("callflow", "route_win_timeout", 3000) != value:
                    if time.perf_counter() - t0 > 5:
                        raise RuntimeError("a change did not reach the client within 5 s")
                    await asyncio.sleep(0.0005)
                visible.append(time.perf_counter() - t0)
            figures["seen_p50"].append(pct(visible, 0.5) * 1000)
            figures["seen_p99"].append(pct(visible, 0.99) * 1000)
            print(f"round {round_no + 1}/{rounds}: cached {figures['cached'][-1]:.2f} us, sysconf p50 "
                  f"{figures['sysconf'][-1]:.2f} ms (raw {figures['raw'][-1]:.2f}), change seen p50 "
                  f"{figures['seen_p50'][-1]:.2f} ms p99 {figures['seen_p99'][-1]:.2f} ms", flush=True)
    finally:
        for closing in (client_bus.close(), operator_bus.close(), service.stop(2.0), context.close()):
            try:
                await closing
            except Exception:
                pass

    result = Result()
    ms = "{:.2f}"
    result.add("config", "cached read (get_integer, cache hit)", spread(figures["cached"], ms, "us"),
               note=f"{rounds} rounds of {cached} reads")
    result.add("config", "sysconf get round trip p50, vs raw aio-pika", spread(figures["sysconf"], ms, "ms"),
               spread(figures["raw"], ms, "ms"), median(figures["sysconf"]) / median(figures["raw"]),
               note=f"{rounds} rounds of {round_trips} round trips each; raw = bare request and reply queues")
    result.add("config", "operator set -> client sees it, p50", spread(figures["seen_p50"], ms, "ms"),
               note=f"{rounds} rounds of {changes} changes; client polls every 0.5 ms")
    p99 = median(figures["seen_p99"])
    result.add("config", "operator set -> client sees it, p99", spread(figures["seen_p99"], ms, "ms"),
               target=f"<= {TARGET_P99_MS:.0f} ms", verdict=verdict(p99 <= TARGET_P99_MS))
    return result


def collect(args) -> Result:
    url, cleanup = own_vhost(args.amqp_url, "kzvoice-bench-config")
    try:
        return asyncio.run(run(url, args.quick))
    finally:
        if cleanup is not None:
            cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_config", description=__doc__.split("\n\n")[0])
    parser.add_argument("--amqp-url", default=os.environ.get("KZ_AMQP_URL") or DEFAULT_AMQP_URL)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_module(collect, args)
    except BrokerUnavailable as exc:
        print(f"bench_config: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
