"""Request/response over KAZOO's ``targeted`` exchange (bus.md 2.4).

A ``ReplyQueue`` is the requester's own queue, bound to ``targeted`` with its
own name; that name is the ``Server-ID`` of the requests it sends.  Replies are
matched by ``Msg-ID`` (never AMQP correlation ids): a future per request, or a
stream when several replies may come (route_resp from several routers).

* ``request()`` publishes and waits for the first reply, with a timeout;
* a request published as mandatory and returned by the broker fails at once
  with ``Unroutable``;
* closing the queue fails every pending waiter.

Replies that match no waiter go to the handlers registered with ``on()``
(e.g. route_win at a call router, which is not a reply to any request of its own).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Mapping

from services.bus.consumer import Consumer, Handler
from services.exchanges import KAZOO_QUEUE_ARGS, TARGETED
from services.bus.publisher import Publisher
from services.bus.transport import BusError, Transport, unique_queue_name
from services.messages.spec import Message, MessageSpec

log = logging.getLogger(__name__)


class RequestTimeout(BusError):
    """No reply arrived in time."""

    def __init__(self, spec: MessageSpec, timeout: float) -> None:
        super().__init__(f"no reply to {spec.key} within {timeout:g}s")
        self.spec = spec
        self.timeout = timeout


class ReplyStream:
    """All replies to one Msg-ID, as an async iterator; use as a context manager."""

    def __init__(self, owner: "ReplyQueue", msg_id: str) -> None:
        self._owner = owner
        self.msg_id = msg_id
        self._queue: asyncio.Queue[Message | BaseException] = asyncio.Queue()

    def _put(self, item: Message | BaseException) -> None:
        self._queue.put_nowait(item)

    async def next(self, timeout: float | None) -> Message:
        item = await asyncio.wait_for(self._queue.get(), timeout) if timeout is not None else await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        return await self.next(None)

    def close(self) -> None:
        self._owner._streams.pop(self.msg_id, None)

    async def __aenter__(self) -> "ReplyStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


class ReplyQueue:
    def __init__(self, transport: Transport, validator, publisher: Publisher, *, prefix: str,
                 name: str | None = None, metrics=None, exclusive: bool = True,
                 arguments: Mapping[str, Any] | None = None) -> None:
        self.name = name or unique_queue_name(prefix)
        self._transport = transport
        self._publisher = publisher
        self._exclusive = exclusive
        self._arguments = dict(KAZOO_QUEUE_ARGS if arguments is None else arguments)
        self._futures: dict[str, asyncio.Future[Message]] = {}
        self._streams: dict[str, ReplyStream] = {}
        self._fallback: dict[str, Handler] = {}
        self.consumer = Consumer(transport, validator, self.name, metrics=metrics, prefetch=256)
        self._closed = False

    def on(self, spec: MessageSpec, handler: Handler) -> "ReplyQueue":
        """Handle messages of this kind that are not replies to our own requests."""
        self._fallback[spec.key] = handler
        return self

    async def start(self) -> "ReplyQueue":
        await self._transport.declare_queue(self.name, exclusive=self._exclusive, auto_delete=True,
                                            arguments=self._arguments)
        await self.consumer.bind(TARGETED, self.name)
        self.consumer.on_any(self._dispatch)
        await self.consumer.start()
        return self

    async def _dispatch(self, message: Message) -> None:
        msg_id = message.msg_id
        future = self._futures.pop(msg_id, None)
        if future is not None and not future.done():
            future.set_result(message)
            return
        stream = self._streams.get(msg_id)
        if stream is not None:
            stream._put(message)
            return
        handler = self._fallback.get(message.spec.key)
        if handler is not None:
            await handler(message)
            return
        log.debug("reply %s with Msg-ID %s matches no request (late or duplicate)", message.spec.key, msg_id)

    def expect(self, msg_id: str) -> asyncio.Future[Message]:
        if self._closed:
            raise BusError(f"reply queue {self.name} is closed")
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._futures[msg_id] = future
        return future

    def stream(self, msg_id: str) -> ReplyStream:
        if self._closed:
            raise BusError(f"reply queue {self.name} is closed")
        stream = ReplyStream(self, msg_id)
        self._streams[msg_id] = stream
        return stream

    async def request(self, spec: MessageSpec, fields: Mapping[str, Any], *, timeout: float,
                      to: str | None = None) -> Message:
        """Publish ``spec`` with our queue as Server-ID and wait for the first reply."""
        body = self._publisher.build(spec, fields, server_id=self.name)
        future = self.expect(body["Msg-ID"])
        try:
            await self._publisher.send(spec, body, to=to)
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(spec, timeout) from None
        finally:
            self._futures.pop(body["Msg-ID"], None)

    async def close(self) -> None:
        self._closed = True
        error = BusError(f"reply queue {self.name} closed")
        for future in self._futures.values():
            if not future.done():
                future.set_exception(error)
        for stream in self._streams.values():
            stream._put(error)
        self._futures.clear()
        self._streams.clear()
        await self.consumer.stop(drain_timeout=1.0)
        try:
            await self._transport.delete_queue(self.name)
        except Exception as exc:
            log.debug("deleting reply queue %s: %s", self.name, exc)
