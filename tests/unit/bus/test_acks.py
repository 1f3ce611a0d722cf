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


class FullQueueChannel(FakeChannel):
    """The first frame waits for room in the write queue (aiormq's holds 10), later ones do not:
    a later put can overtake it unless the batch keeps its own order."""

    def __init__(self) -> None:
        super().__init__()
        self.room = asyncio.Event()
        self._first = True

    async def _put(self, frame: tuple) -> None:
        if self._first:
            self._first = False
            await self.room.wait()
        self.frames.append(frame)

    async def basic_ack(self, tag: int, *, multiple: bool = False, wait: bool = True) -> None:
        await self._put(("ack", tag, multiple, wait))

    async def basic_reject(self, tag: int, *, requeue: bool = False, wait: bool = True) -> None:
        await self._put(("reject", tag, requeue, wait))


async def test_frames_reach_the_channel_in_the_order_decided_when_a_put_has_to_wait():
    channel = FullQueueChannel()
    batch = AckBatch(channel, limit=2, delay_s=60)
    first = asyncio.ensure_future(asyncio.gather(batch.ack(1), batch.ack(2)))   # the flush of 2 waits for room
    await asyncio.sleep(0)
    later = asyncio.ensure_future(asyncio.gather(batch.ack(3), batch.reject(5), batch.ack(4)))
    await asyncio.sleep(0.01)
    channel.room.set()
    await asyncio.gather(first, later)
    assert channel.frames == [("ack", 2, True, False), ("reject", 5, False, False), ("ack", 4, True, False)]


async def test_a_reject_decided_after_a_multiple_ack_covered_its_tag_is_dropped():
    channel = FullQueueChannel()
    batch = AckBatch(channel, limit=1, delay_s=60)
    flushing = asyncio.ensure_future(batch.ack(7))        # waits for room, its decision made: 7 acked
    await asyncio.sleep(0)
    rejecting = asyncio.ensure_future(batch.reject(6))    # tag 6 is covered by the ack of 7
    await asyncio.sleep(0.01)
    channel.room.set()
    await asyncio.gather(flushing, rejecting)
    assert channel.frames == [("ack", 7, True, False)]
