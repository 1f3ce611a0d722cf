"""Plain publishes of one AMQP channel, written in batches while the channel is busy.

aiormq holds a channel's lock until each publish is written to the socket, so under load
publishes queued behind one another a loop turn or two each.  ``Outbox`` writes a publish on a
free channel at once; every publish made while one is being written joins the next batch.  A
batch's frames go out in the order they were published, and each publisher is answered once the
batch's last frame is written (and confirmed, on a channel with publisher confirms), or with the
error that stopped it -- the transport then sends it again (``services.bus.amqp``).
"""

from __future__ import annotations

import asyncio

import aiormq

from services.bus.transport import BusError


class Outbox:
    """The publishes of one channel (see the module docstring)."""

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self.channel = channel
        self._waiting: list[tuple[str, str, bytes, aiormq.spec.Basic.Properties, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._busy = False          # a write is in progress or scheduled: later publishes wait their turn

    def _open_channel(self) -> aiormq.abc.AbstractChannel:
        if self.channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{self.channel!r} closed")
        return self.channel

    async def publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: aiormq.spec.Basic.Properties) -> None:
        if self._busy:
            written = asyncio.get_running_loop().create_future()
            self._waiting.append((exchange, routing_key, body, properties, written))
            await written
            return
        self._busy = True
        try:
            await self._open_channel().basic_publish(body, exchange=exchange, routing_key=routing_key,
                                                     properties=properties)
        finally:
            if self._waiting:       # publishes that came meanwhile go out next, in one batch
                self._writer = asyncio.get_running_loop().create_task(self._write(), name="amqp-outbox")
            else:
                self._busy = False

    async def _write(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    channel = self._open_channel()
                    last = len(batch) - 1
                    for index, (exchange, routing_key, body, properties, _) in enumerate(batch):
                        # only the last frame waits for the socket: the ones before it are written first
                        await channel.basic_publish(body, exchange=exchange, routing_key=routing_key,
                                                    properties=properties, wait=index == last)
                except BaseException as exc:
                    for *_, written in batch:
                        if not written.done():
                            written.set_exception(exc if isinstance(exc, Exception) else BusError("publish cancelled"))
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for *_, written in batch:
                        if not written.done():
                            written.set_result(None)
        finally:
            self._writer = None
            self._busy = False

    def close(self) -> None:
        for *_, written in self._waiting:
            if not written.done():
                written.set_exception(BusError("transport closed"))
        self._waiting.clear()
        if self._writer is not None:
            self._writer.cancel()
