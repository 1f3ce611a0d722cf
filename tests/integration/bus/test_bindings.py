"""Per-call bindings on the real broker go on a channel of their own, not on the queue's.

An unbind the broker does not answer in time is given up, and aiormq closes the channel an
abandoned call was sent on.  On the queue's own channel that stopped the consumer of every
call's events and put their unacked deliveries back (seen in the voicemail benchmark's traced
level); on the bindings channel it costs nothing but that channel, opened again on next use."""

from __future__ import annotations

import asyncio
import logging
import secrets

import aiormq
import pytest

from services import exchanges as x
from services.bus import amqp
from services.bus.amqp import AmqpTransport
from services.bus.transport import Delivery

pytestmark = pytest.mark.integration


def _into(got: asyncio.Queue):
    """A consumer's handler that keeps each body in ``got`` and acks it."""
    async def handler(delivery: Delivery) -> None:
        await got.put(delivery.body)
        await delivery.ack()
    return handler


async def _consumed_queue(transport: AmqpTransport, got: asyncio.Queue) -> str:
    queue = await transport.declare_queue(f"bindings-{secrets.token_hex(4)}", exclusive=True)
    await transport.declare_exchange(x.CALLEVT)
    await transport.consume(queue, _into(got), prefetch=8)
    return queue


async def _routes(transport: AmqpTransport, got: asyncio.Queue, key: str, body: bytes) -> None:
    await transport.publish(x.CALLEVT, key, body)
    assert await asyncio.wait_for(got.get(), 10) == body


async def test_binds_and_unbinds_do_not_use_the_queues_channel(transport):
    got: asyncio.Queue = asyncio.Queue()
    queue = await _consumed_queue(transport, got)
    key = f"call.TEST.{secrets.token_hex(4)}"
    await transport.bind(queue, x.CALLEVT, key)
    link = transport._link
    assert link.bindings is not None and not link.bindings.is_closed
    assert link.bindings is not link.channels[queue]
    await _routes(transport, got, key, b'{"n": 1}')
    await transport.unbind(queue, x.CALLEVT, key)
    await transport.publish(x.CALLEVT, key, b'{"n": 2}')
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(got.get(), 0.5)      # unbound: nothing more arrives


async def test_an_unbind_given_up_leaves_the_queues_consumer_alone(transport, monkeypatch, caplog):
    got: asyncio.Queue = asyncio.Queue()
    queue = await _consumed_queue(transport, got)
    link = transport._link
    queue_channel = link.channels[queue]
    steady = f"call.STEADY.{secrets.token_hex(4)}"
    await transport.bind(queue, x.CALLEVT, steady)

    # Give unbinds up after ever longer waits, as if the broker took too long, until one is
    # abandoned after its frame went out (sooner, nothing was sent; later, it was answered):
    # aiormq then closes the channel it went on.  (aiormq's own warning is not relied on: the
    # services' logging setup quiets that logger.)
    caplog.set_level(logging.WARNING, logger="services.bus.amqp")
    ladder = [1e-5 * 1.4 ** step for step in range(25)]        # 10 us .. about 30 ms
    abandoned = False
    for attempt in range(len(ladder) * 4):
        monkeypatch.setattr(amqp, "REMOVAL_TIMEOUT_S", ladder[attempt % len(ladder)])
        key = f"call.GONE.{attempt}.{secrets.token_hex(3)}"
        await transport.bind(queue, x.CALLEVT, key)
        used = link.bindings                    # open: the unbind goes on it, no channel is opened
        await transport.unbind(queue, x.CALLEVT, key)
        await asyncio.sleep(0.01)
        if used.is_closed:
            abandoned = True
            break
    assert abandoned, "no unbind was abandoned after its frame went out; the test proves nothing"
    await asyncio.sleep(0.3)            # a repair of the queue would have begun by now

    assert link.channels[queue] is queue_channel and not queue_channel.is_closed
    assert "declaring the queue again" not in caplog.text
    await _routes(transport, got, steady, b'{"still": "here"}')

    # the next binding opens a fresh bindings channel and routes
    monkeypatch.setattr(amqp, "REMOVAL_TIMEOUT_S", 10.0)
    fresh = f"call.FRESH.{secrets.token_hex(4)}"
    await transport.bind(queue, x.CALLEVT, fresh)
    assert not link.bindings.is_closed
    await _routes(transport, got, fresh, b'{"fresh": true}')


async def test_binding_a_queue_deleted_under_us_fails_and_the_queue_is_declared_again(transport, amqp_url):
    queue = await transport.declare_queue(f"bindings-{secrets.token_hex(4)}")
    await transport.declare_exchange(x.CALLEVT)
    other = await aiormq.connect(amqp_url)          # no consumer of ours notices this
    try:
        await (await other.channel()).queue_delete(queue)
    finally:
        await other.close()
    key = f"call.TEST.{secrets.token_hex(4)}"
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
        await transport.bind(queue, x.CALLEVT, key)
    for _ in range(100):                            # declared again by the transport
        try:
            await transport.bind(queue, x.CALLEVT, key)
            break
        except aiormq.exceptions.ChannelNotFoundEntity:
            await asyncio.sleep(0.1)
    else:
        pytest.fail("the deleted queue was not declared again")
    got: asyncio.Queue = asyncio.Queue()
    await transport.consume(queue, _into(got))
    await _routes(transport, got, key, b'{"back": true}')
    await transport.delete_queue(queue)
