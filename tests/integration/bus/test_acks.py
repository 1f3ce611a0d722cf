"""Batched acks on the real broker: an exclusive queue's deliveries are acked by multiple acks
(services.bus.acks), the prefetch window keeps moving, and a handler that finishes late does
not close the channel with a second ack of its tag."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from services import exchanges as x
from services.bus.amqp import AmqpTransport
from services.bus.transport import Delivery

pytestmark = pytest.mark.integration


async def _queue(transport: AmqpTransport, key: str, *, exclusive: bool) -> str:
    queue = await transport.declare_queue(f"acks-{secrets.token_hex(4)}", exclusive=exclusive)
    await transport.declare_exchange(x.CALLEVT)
    await transport.bind(queue, x.CALLEVT, key)
    return queue


async def _publish(transport: AmqpTransport, key: str, count: int) -> None:
    for i in range(count):
        await transport.publish(x.CALLEVT, key, b'{"n": %d}' % i)


async def test_an_exclusive_queue_is_acked_in_batches_and_its_prefetch_window_keeps_moving(transport):
    key = f"call.TEST.{secrets.token_hex(4)}"
    queue = await _queue(transport, key, exclusive=True)
    got: list[bytes] = []
    all_in = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.body)
        await delivery.ack()
        if len(got) == 300:
            all_in.set()

    await transport.consume(queue, handler, prefetch=8)
    await _publish(transport, key, 300)
    await asyncio.wait_for(all_in.wait(), 30)     # 300 through a window of 8: the acks went out
    batch = transport._link.acks[queue]
    assert 300 / 8 <= batch.sent < 300
    await asyncio.sleep(0.2)
    assert batch.acked == 300, "the last partial batch is acked after the delay"


async def test_a_handler_finishing_after_later_ones_does_not_close_the_channel(transport):
    key = f"call.TEST.{secrets.token_hex(4)}"
    queue = await _queue(transport, key, exclusive=True)
    release = asyncio.Event()
    got: list[bytes] = []
    arrived = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        if delivery.body == b'{"n": 0}':
            await release.wait()            # tag 1 ends last, after multiple acks covered it
        got.append(delivery.body)
        arrived.set()
        await delivery.ack()

    await transport.consume(queue, handler, prefetch=8)
    await _publish(transport, key, 20)
    while len(got) < 19:
        arrived.clear()
        await asyncio.wait_for(arrived.wait(), 10)
    await asyncio.sleep(0.2)
    release.set()
    while len(got) < 20:
        arrived.clear()
        await asyncio.wait_for(arrived.wait(), 10)
    await asyncio.sleep(0.2)
    channel = transport._link.channels[queue]
    assert not channel.is_closed
    await _publish(transport, key, 1)       # and the queue still delivers on it
    while len(got) < 21:
        arrived.clear()
        await asyncio.wait_for(arrived.wait(), 10)
    assert transport._link.channels[queue] is channel


async def test_a_shared_queue_is_acked_message_by_message(transport):
    key = f"call.TEST.{secrets.token_hex(4)}"
    queue = await _queue(transport, key, exclusive=False)
    got = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        await delivery.ack()
        got.put_nowait(delivery.body)

    await transport.consume(queue, handler, prefetch=2)
    await _publish(transport, key, 5)
    for _ in range(5):
        await asyncio.wait_for(got.get(), 10)
    assert queue not in transport._link.acks
    await transport.delete_queue(queue)
