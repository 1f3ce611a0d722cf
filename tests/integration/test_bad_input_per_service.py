"""Every consumer of every running service drops bad input, logs why, and keeps serving.

Bad bodies are published straight to each queue (AMQP default exchange), on the
real broker: a body that is not JSON, a wrong content type, a missing default
header, and a schema-invalid message.
"""

from __future__ import annotations

import asyncio
import logging

import aio_pika
import orjson
import pytest

from services.messages import catalogue
from services.runtime import Runtime, ServiceContext
from services.settings import Settings
from services.store.memory import MemoryStore

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"

BAD = {
    "not_json": (b"\x00not json{", "application/json"),
    "content_type": (orjson.dumps({"Event-Category": "sysconf", "Event-Name": "get_req"}), "text/plain"),
    "missing_header": (orjson.dumps({"Event-Category": "sysconf", "Event-Name": "get_req", "App-Version": "1",
                                     "Msg-ID": "m1", "Category": "callflow", "Key": "x"}), "application/json"),
    "schema": (orjson.dumps({"Event-Category": "dialplan", "Event-Name": "route_req", "App-Name": "t",
                             "App-Version": "1", "Msg-ID": "m2", "Call-ID": "c", "From": "a@b", "To": "c@d",
                             "Request": "c@d", "Custom-Channel-Vars": ["not", "an", "object"]}),
               "application/json"),
}


@pytest.fixture
async def runtime(amqp_url):
    settings = Settings.from_env({"KZ_AMQP_URL": amqp_url, "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "0",
                                  "KZ_HTTP_HOST": "127.0.0.1", "KZ_NODE": "kzvoice@badinput"})
    rt = Runtime(settings, context=ServiceContext(settings, store=MemoryStore()))
    await rt.start()
    yield rt
    await rt.stop()


async def test_each_service_consumer_drops_bad_input_and_keeps_serving(runtime, amqp_url, caplog):
    caplog.set_level(logging.WARNING, logger="services.bus.consumer")
    queues = sorted({c.queue for bus in runtime.context.buses for c in bus.consumers})
    assert queues, "no consumers found"
    assert any(q.startswith("callflow_route_") for q in queues) and "sysconf_listener" in queues, queues
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for queue in queues:
            for reason, (body, content_type) in BAD.items():
                await channel.default_exchange.publish(
                    aio_pika.Message(body, content_type=content_type), routing_key=queue)
        metrics = runtime.context.metrics
        expected = {(q, r) for q in queues for r in BAD}
        for _ in range(100):
            seen = {(q, r) for q in queues for r in BAD if metrics.rejected.labels(q, r)._value.get() >= 1}
            if seen == expected:
                break
            await asyncio.sleep(0.05)
        assert seen == expected
        for queue in queues:
            for reason in BAD:
                assert any(f"dropped message on {queue}" in rec.getMessage() and reason in rec.getMessage()
                           for rec in caplog.records), (queue, reason)
    finally:
        await connection.close()

    # still serving: config_svc answers a sysconf get
    operator = await runtime.context.bus("kzvoice-cli")
    replies = await operator.reply_queue("t-operator")
    reply = await replies.request(catalogue.SYSCONF_GET_REQ, {"Category": "callflow", "Key": "default_can_text_self",
                                                              "Default": True}, timeout=5)
    assert reply["Key"] == "default_can_text_self"
    assert runtime.ready
