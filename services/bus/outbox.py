"""Plain publishes of one AMQP channel with publisher confirms: queued in order, confirmed together.

aiormq's ``basic_publish`` on a channel with confirms returns only once the broker confirmed
the message.  Awaited one after another, publishes would go out one per broker round trip.
``Outbox.send`` instead starts each publish as a task of its own, at once, in the order of the
calls: each task's first step puts the message's frames on the channel's write queue under
the channel's lock (which is fair), so the frames keep that order, and the confirms of many
messages are awaited together.  The task answers with the confirm, or with the error that
stopped it -- the transport then sends the message again (``services.bus.amqp``).
"""

from __future__ import annotations

import asyncio

import aiormq

from services.bus.transport import BusError


class Outbox:
    """The publishes of one channel (see the module docstring)."""

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self.channel = channel
        self._sending: set[asyncio.Task] = set()

    def send(self, exchange: str, routing_key: str, body: bytes,
             properties: aiormq.spec.Basic.Properties) -> asyncio.Task:
        """Queue one message now, in call order; the task ends with the broker's confirm."""
        if self.channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{self.channel!r} closed")
        task = asyncio.get_running_loop().create_task(self.channel.basic_publish(
            body, exchange=exchange, routing_key=routing_key, properties=properties, wait=False))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return task

    async def publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: aiormq.spec.Basic.Properties) -> None:
        """Queue one message and wait for its confirm."""
        await self.send(exchange, routing_key, body, properties)

    def close(self) -> None:
        for task in list(self._sending):
            task.cancel(BusError("transport closed"))
        self._sending.clear()
