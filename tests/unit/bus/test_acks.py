"""AckBatch: one multiple ack per batch, each tag settled once, rejects at once."""

from __future__ import annotations

import asyncio

from services.bus.acks import AckBatch


class FakeChannel:
    def __init__(self) -> None:
        self.frames: list[tuple] = []

    async def basic_ack(self, tag: int, *, multiple: bool = False, wait: bool = True) -> None:
        self.frames.append(("ack", tag, multiple, wait))

    async def basic_reject(self, tag: int, *, requeue: bool = False, wait: bool = True) -> None:
        self.frames.append(("reject", tag, requeue, wait))


async def test_handled_messages_are_acked_by_one_multiple_ack_once_the_limit_is_reached():
    channel = FakeChannel()
    batch = AckBatch(channel, limit=4, delay_s=60)
    for tag in (1, 2, 3):
        await batch.ack(tag)
    assert channel.frames == []
    await batch.ack(4)
    assert channel.frames == [("ack", 4, True, False)]
    assert batch.acked == 4 and batch.sent == 1


async def test_a_partial_batch_is_acked_after_the_delay():
    channel = FakeChannel()
    batch = AckBatch(channel, limit=100, delay_s=0.02)
    await batch.ack(1)
    await batch.ack(2)
    await asyncio.sleep(0.1)
    assert channel.frames == [("ack", 2, True, False)]
    await asyncio.sleep(0.05)
    assert len(channel.frames) == 1, "no second ack without new messages"


async def test_a_handler_finishing_after_a_higher_tag_was_acked_sends_nothing_more():
    channel = FakeChannel()
    batch = AckBatch(channel, limit=2, delay_s=60)
    await batch.ack(2)
    await batch.ack(3)              # tag 1 still in its handler
    assert channel.frames == [("ack", 3, True, False)]
    await batch.ack(1)              # a second ack of tag 1 would close the channel
    await batch.reject(1)
    await batch.flush()
    assert channel.frames == [("ack", 3, True, False)]


async def test_a_reject_goes_out_at_once_and_the_later_batch_still_acks_the_rest():
    channel = FakeChannel()
    batch = AckBatch(channel, limit=10, delay_s=60)
    await batch.ack(1)
    await batch.reject(2)
    await batch.ack(3)
    assert channel.frames == [("reject", 2, False, False)]
    await batch.flush()
    assert channel.frames[-1] == ("ack", 3, True, False)


async def test_close_drops_what_waits_and_the_timer():
    channel = FakeChannel()
    batch = AckBatch(channel, limit=10, delay_s=0.01)
    await batch.ack(1)
    batch.close()
    await asyncio.sleep(0.05)
    assert channel.frames == []


async def test_a_lost_channel_is_the_settle_functions_business():
    sent = []

    async def settle(method, tag, **kwargs):
        sent.append((method.__name__, tag, kwargs))

    batch = AckBatch(FakeChannel(), limit=1, settle=settle)
    await batch.ack(7)
    assert sent == [("basic_ack", 7, {"multiple": True})]
