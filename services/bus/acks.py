"""Acks of deliveries from an exclusive queue, sent as one ``multiple`` ack per batch.

Why batch
    A call's events arrive on the service's exclusive event queue, and an ack per event was
    one frame, one pass of aiormq's writer and one socket write each: a third of what a call
    event cost the service.  An exclusive queue dies with its connection, so an unacked
    message on it is not kept for anyone else; its ack only returns a prefetch slot.  So
    ``AckBatch`` keeps the highest handled delivery tag and sends one ``basic.ack`` with
    ``multiple`` set when ``limit`` messages are waiting for it or ``delay_s`` has passed
    since the first of them, whichever comes first (``flush`` sends it at once).

What it keeps true
    * A tag is acked at most once: every tag up to ``acked`` is settled, and an ack or
      reject of such a tag later (a handler that finished after a higher one) is dropped,
      where a second ack would close the channel (``PRECONDITION_FAILED``).
    * The batch's frames reach the wire in the order they were decided.  aiormq's write queue
      holds 10 frames; a put that waited for room can be overtaken by a later put, and an
      ack of tag 5 after a ``multiple`` ack of tag 9 closes the channel (``unknown delivery
      tag 5``; seen under load before this rule).  So every ack and reject of the batch is
      decided and queued under one fair lock.
    * A reject goes out at once, as before; a later ``multiple`` ack does not touch it.
    * A handler still running when a higher tag is acked has its message acked early: on an
      exclusive queue that only matters if the channel closes while the connection lives,
      and then the broker delivers less again, never more.
    * A channel that closed with acks waiting drops them: the broker delivers those messages
      again on the queue's new channel, as it did for unacked ones before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

ACK_DELAY_S = 0.05      # the longest a handled message waits for its ack


class AckBatch:
    def __init__(self, channel: Any, *, limit: int, delay_s: float = ACK_DELAY_S,
                 settle: Callable[..., Awaitable[None]] | None = None) -> None:
        self.channel = channel
        self._limit = max(1, limit)
        self._delay_s = delay_s
        self._settle = settle
        self.acked = 0                  # every delivery tag up to this one is settled
        self._highest = 0               # the highest handled tag not yet acked
        self._waiting = 0               # handled messages waiting for the batch's ack
        self._timer: asyncio.TimerHandle | None = None
        # aiormq's write queue is bounded: a frame whose put waited can be overtaken by a later one.
        # Acks and rejects of the batch take their turn here (a fair lock) and decide inside it,
        # so they reach the wire in the order decided (see the module docstring).
        self._order = asyncio.Lock()
        self._flushing: asyncio.Task | None = None     # the timer's flush (kept: the loop holds tasks weakly)
        self.sent = 0                   # basic.ack frames sent (for tests and the benchmark)

    async def ack(self, tag: int) -> None:
        if tag <= self.acked:
            return
        if tag > self._highest:
            self._highest = tag
        self._waiting += 1
        if self._waiting >= self._limit:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay_s, self._on_timer)

    async def reject(self, tag: int, requeue: bool = False) -> None:
        async with self._order:
            if tag <= self.acked:
                return
            await self._send(self.channel.basic_reject, tag, requeue=requeue)

    async def flush(self) -> None:
        """Ack every handled message now (one frame)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._order:
            if self._highest <= self.acked:
                return
            tag, self.acked, self._waiting = self._highest, self._highest, 0
            self.sent += 1
            await self._send(self.channel.basic_ack, tag, multiple=True)

    def close(self) -> None:
        """Drop what waits (the channel is gone) and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting = 0

    def _on_timer(self) -> None:
        self._timer = None
        self._flushing = asyncio.get_running_loop().create_task(self.flush(), name="amqp-ack-batch")

    async def _send(self, method: Callable[..., Awaitable[None]], tag: int, **kwargs: Any) -> None:
        if self._settle is not None:
            await self._settle(method, tag, **kwargs)
        else:
            await method(tag, wait=False, **kwargs)
