"""Messages per second through the bus layer, against raw aio-pika in the same run.

``python -m bench.bench_bus [--quick] [--amqp-url URL]``

One publisher and one consumer on one connection each, on the loopback broker,
sending a KAZOO-size call event (CHANNEL_EXECUTE_COMPLETE, about 1 KB) one way.
Three runs of each:

* raw aio-pika, consumer without acks (KAZOO's consumers mostly use no_ack);
* raw aio-pika, consumer acking each message after handling (our policy);
* kzvoice: ``Publisher.publish`` (envelope, validation, encoding) and
  ``Consumer`` (decode, identify, validate, handler, ack).

The ratio printed is kzvoice against each raw variant (target: >= 0.8 of raw).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import aio_pika
import orjson

from bench.common import Result, add_common_arguments, amqp_url_default, median, own_vhost, run_module, spread, verdict
from services.bus import Bus, unique_queue_name
from services import exchanges as x
from services.bus.amqp import AmqpTransport
from services.messages import catalogue
from services.messages.validation import Validator

EVENT = {"Call-ID": "at6dmu4ffk97vnlp6qfq", "Application-Name": "noop",
         "Application-Response": "9f0e7a2c4b3d4c1e8f6a5b4c3d2e1f00", "Raw-Application-Name": "noop",
         "Channel-Call-State": "ACTIVE", "Channel-Answer-State": "answered", "Timestamp": 63877478400,
         "Custom-Channel-Vars": {"Account-ID": "4fe69c5b61015084f1fe5684abc6e502",
                                 "Fetch-ID": "a60aea8c-67f2-11e5-8465-3390f8e3460f",
                                 "Authorizing-ID": "d509114b66efabf32dfd78dc464b46dd", "Authorizing-Type": "device",
                                 "Owner-ID": "699ed7e3d583e2577ac017c575f87262",
                                 "CallFlow-ID": "3a8f0c2b5d6e4f7a8b9c0d1e2f3a4b5c", "Application-Name": "callflow"},
         "Call-Direction": "inbound", "Caller-ID-Name": "web phone", "Caller-ID-Number": "356",
         "Channel-State": "EXECUTE", "Request": "*97@acme.example.com", "From": "356@acme.example.com",
         "To": "*97@acme.example.com"}


async def raw_run(url: str, count: int, *, ack: bool) -> float:
    body = orjson.dumps({"Event-Category": "call_event", "Event-Name": "CHANNEL_EXECUTE_COMPLETE",
                         "App-Name": "freeswitch", "App-Version": "1.0", "Node": "bench@x",
                         "Msg-ID": "1710259200123456", **EVENT})
    pub_conn = await aio_pika.connect(url)
    sub_conn = await aio_pika.connect(url)
    try:
        pub = await pub_conn.channel()
        sub = await sub_conn.channel()
        await sub.set_qos(prefetch_count=256)
        exchange = await pub.declare_exchange("callevt", "topic", durable=False)
        queue = await sub.declare_queue(unique_queue_name("bench-raw"), exclusive=True, auto_delete=True)
        await queue.bind("callevt", "call.*.bench-raw")
        done = asyncio.Event()
        seen = 0

        async def on_message(message):
            nonlocal seen
            orjson.loads(message.body)
            if ack:
                await message.ack()
            seen += 1
            if seen == count:
                done.set()

        await queue.consume(on_message, no_ack=not ack)
        started = time.perf_counter()
        for _ in range(count):
            await exchange.publish(aio_pika.Message(body, content_type="application/json"),
                                   routing_key="call.CHANNEL_EXECUTE_COMPLETE.bench-raw", mandatory=False)
        await asyncio.wait_for(done.wait(), 120)
        return count / (time.perf_counter() - started)
    finally:
        await pub_conn.close()
        await sub_conn.close()


async def bus_run(url: str, count: int) -> float:
    validator = Validator()
    validator.compile_all()
    sender = Bus(AmqpTransport(url), validator, app_name="freeswitch", node="bench@x")
    receiver = Bus(AmqpTransport(url), validator, app_name="bench", node="bench@y")
    await sender.start()
    await receiver.start()
    try:
        consumer = await receiver.consumer(unique_queue_name("bench-bus"), exclusive=True, arguments={},
                                           prefetch=256)
        await consumer.bind(x.CALLEVT, "call.*.bench-bus")
        done = asyncio.Event()
        seen = 0

        async def handler(message):
            nonlocal seen
            seen += 1
            if seen == count:
                done.set()

        consumer.on(catalogue.CALL_EVENTS["CHANNEL_EXECUTE_COMPLETE"], handler)
        await consumer.start()
        spec = catalogue.CALL_EVENTS["CHANNEL_EXECUTE_COMPLETE"]
        fields = dict(EVENT, **{"Call-ID": "bench-bus"})
        started = time.perf_counter()
        for _ in range(count):
            await sender.publish(spec, fields)
        await asyncio.wait_for(done.wait(), 120)
        return count / (time.perf_counter() - started)
    finally:
        await sender.close()
        await receiver.close()


async def measure(url: str, count: int, repeats: int) -> Result:
    results: dict[str, list[float]] = {"raw, no ack": [], "raw, ack": [], "kzvoice bus": []}
    for round_no in range(repeats):   # interleaved, so drift on a shared machine hits all three alike
        results["raw, no ack"].append(await raw_run(url, count, ack=False))
        results["raw, ack"].append(await raw_run(url, count, ack=True))
        results["kzvoice bus"].append(await bus_run(url, count))
        print(f"round {round_no + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:.0f} msg/s" for k, v in results.items()),
              flush=True)
    ours = median(results["kzvoice bus"])
    # Our one ack policy (ack after handling) is the fair baseline; no-ack is shown for scale.
    acked = median(results["raw, ack"])
    result = Result()
    fmt = "{:,.0f}"
    result.add("bus", "msg/s one way, vs raw aio-pika acking", spread(results["kzvoice bus"], fmt),
               spread(results["raw, ack"], fmt), ours / acked, ">= 0.8x", verdict(ours / acked >= 0.8),
               note=f"{repeats} rounds of {count} CHANNEL_EXECUTE_COMPLETE (~1 KB); kzvoice = Publisher.publish "
                    "(envelope, validation, encoding) + Consumer (decode, identify, validate, handler, ack)")
    result.add("bus", "msg/s one way, vs raw aio-pika no-ack", spread(results["kzvoice bus"], fmt),
               spread(results["raw, no ack"], fmt), ours / median(results["raw, no ack"]))
    return result


def collect(args) -> Result:
    count, repeats = (2000, 3) if args.quick else (10000, 5)
    url, cleanup = own_vhost(args.amqp_url, "kzvoice-bench-bus")
    try:
        return asyncio.run(measure(url, count, repeats))
    finally:
        if cleanup is not None:
            cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_bus", description=__doc__.splitlines()[0])
    parser.add_argument("--amqp-url", default=amqp_url_default())
    add_common_arguments(parser)
    return run_module(collect, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
