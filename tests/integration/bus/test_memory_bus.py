"""Semantics of the in-memory broker that go beyond the shared bus tests."""

from __future__ import annotations

import asyncio

import pytest

from services import exchanges as x
from services.bus.memory import MemoryBroker, MemoryTransport, broker_for
from services.bus.transport import BusError, Unroutable


async def _queue_with_inbox(t: MemoryTransport, name: str, exchange, key: str, **kw):
    inbox: asyncio.Queue = asyncio.Queue()
    await t.declare_queue(name, **kw)
    await t.bind(name, exchange, key)

    async def handler(delivery):
        inbox.put_nowait(delivery)
        await delivery.ack()
    return inbox, handler


@pytest.fixture
async def transport():
    t = MemoryTransport(MemoryBroker())
    await t.connect()
    for ex in x.EXCHANGES.values():
        await t.declare_exchange(ex)
    yield t
    await t.close()


async def test_topic_and_direct_routing(transport):
    topic_inbox, h1 = await _queue_with_inbox(transport, "q-topic", x.CALLEVT, "call.*.abc")
    hash_inbox, h2 = await _queue_with_inbox(transport, "q-hash", x.CALLEVT, "call.#")
    direct_inbox, h3 = await _queue_with_inbox(transport, "q-direct", x.TARGETED, "q-direct")
    for name, handler in (("q-topic", h1), ("q-hash", h2), ("q-direct", h3)):
        await transport.consume(name, handler)
    await transport.publish(x.CALLEVT, "call.DTMF.abc", b"{}")
    await transport.publish(x.CALLEVT, "call.DTMF.other", b"{}")
    await transport.publish(x.TARGETED, "q-direct", b"{}")
    await transport.publish(x.TARGETED, "q-direct.more", b"{}")
    await asyncio.sleep(0.01)
    assert topic_inbox.qsize() == 1 and hash_inbox.qsize() == 2 and direct_inbox.qsize() == 1


async def test_mandatory_unroutable_and_unknown_exchange(transport):
    with pytest.raises(Unroutable):
        await transport.publish(x.KAPPS, "callflow.action.voicemail", b"{}", mandatory=True)
    await transport.publish(x.KAPPS, "callflow.action.voicemail", b"{}")   # silently dropped
    with pytest.raises(BusError):
        await transport.publish(x.Exchange("nosuch", "topic"), "k", b"{}")


async def test_max_length_drops_the_oldest(transport):
    await transport.declare_queue("bounded", arguments={"x-max-length": 2})
    await transport.bind("bounded", x.TARGETED, "bounded")
    for i in range(4):
        await transport.publish(x.TARGETED, "bounded", str(i).encode())
    got = []

    async def handler(d):
        got.append(d.body)
        await d.ack()
    await transport.consume("bounded", handler)
    await asyncio.sleep(0.01)
    assert got == [b"2", b"3"]


async def test_ttl_expires_waiting_messages(transport):
    await transport.declare_queue("short", arguments={"x-message-ttl": 10})
    await transport.bind("short", x.TARGETED, "short")
    await transport.publish(x.TARGETED, "short", b"old")
    await asyncio.sleep(0.05)
    await transport.publish(x.TARGETED, "short", b"new")
    got = []

    async def handler(d):
        got.append(d.body)
        await d.ack()
    await transport.consume("short", handler)
    await asyncio.sleep(0.01)
    assert got == [b"new"]


async def test_prefetch_limits_unacked_deliveries_and_requeue_redelivers(transport):
    await transport.declare_queue("pf")
    await transport.bind("pf", x.TARGETED, "pf")
    held = []

    async def handler(d):
        held.append(d)
    await transport.consume("pf", handler, prefetch=2)
    for i in range(5):
        await transport.publish(x.TARGETED, "pf", str(i).encode())
    await asyncio.sleep(0.01)
    assert [d.body for d in held] == [b"0", b"1"]
    await held[0].reject(requeue=True)
    await asyncio.sleep(0.01)
    assert held[2].body == b"0" and held[2].redelivered
    await held[1].ack()
    await asyncio.sleep(0.01)
    assert held[3].body == b"2"


async def test_exclusive_queue_belongs_to_its_connection():
    broker = MemoryBroker()
    a, b = MemoryTransport(broker), MemoryTransport(broker)
    await a.connect()
    await b.connect()
    await a.declare_queue("mine", exclusive=True)
    with pytest.raises(BusError):
        await b.declare_queue("mine")
    await a.close()
    assert "mine" not in broker.queues


async def test_auto_delete_queue_goes_with_its_last_consumer(transport):
    await transport.declare_queue("ephemeral", auto_delete=True)

    async def handler(d):
        await d.ack()
    tag = await transport.consume("ephemeral", handler)
    await transport.cancel(tag)
    assert "ephemeral" not in transport.broker.queues


def test_named_memory_urls_share_a_broker():
    assert broker_for("memory://") is broker_for("memory://default")
    assert broker_for("memory://a") is not broker_for("memory://b")
