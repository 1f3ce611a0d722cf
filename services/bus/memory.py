"""An in-process broker with RabbitMQ's routing semantics.

Selected with ``KZ_AMQP_URL=memory://`` so the demo and fast unit tests need no
RabbitMQ.  It routes for real -- direct exchanges by exact key, topic exchanges
with ``*`` and ``#``, fanout to all -- honours mandatory returns, exclusive and
auto-delete queues, ``x-max-length`` (drop-head) and ``x-message-ttl``,
per-consumer prefetch, ack and reject.  Deliveries to one queue start in
publish order, each as its own task, as aiormq does.

Several ``MemoryTransport`` connections share one ``MemoryBroker``; transports
opened from the same ``memory://NAME`` URL share the broker of that name.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from services.exchanges import Exchange, topic_matches
from services.bus.transport import BusError, Delivery, DeliveryHandler, Transport, Unroutable

log = logging.getLogger(__name__)


@dataclass
class _Envelope:
    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]
    content_type: str | None
    content_encoding: str | None
    expires_at: float | None
    redelivered: bool = False


@dataclass
class _Consumer:
    tag: str
    handler: DeliveryHandler
    prefetch: int
    owner: "MemoryTransport"
    in_flight: int = 0


@dataclass
class _Queue:
    name: str
    exclusive: bool
    auto_delete: bool
    owner: "MemoryTransport | None"
    max_length: int | None
    ttl_ms: int | None
    messages: collections.deque = field(default_factory=collections.deque)
    consumers: list[_Consumer] = field(default_factory=list)
    had_consumer: bool = False
    next_consumer: int = 0


class MemoryBroker:
    """The shared state: exchanges, queues and bindings."""

    def __init__(self) -> None:
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, _Queue] = {}
        self.bindings: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
        self._tags = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()

    # -- routing -------------------------------------------------------------
    def route(self, exchange: Exchange, routing_key: str) -> list[_Queue]:
        matched: list[_Queue] = []
        seen: set[str] = set()
        for key, queue_name in self.bindings.get(exchange.name, ()):
            if queue_name in seen:
                continue
            if exchange.type == "fanout" or (exchange.type == "direct" and key == routing_key) or \
                    (exchange.type == "topic" and topic_matches(key, routing_key)):
                queue = self.queues.get(queue_name)
                if queue is not None:
                    matched.append(queue)
                    seen.add(queue_name)
        return matched

    def enqueue(self, queue: _Queue, envelope: _Envelope) -> None:
        if queue.max_length is not None and len(queue.messages) >= queue.max_length:
            queue.messages.popleft()   # RabbitMQ's default overflow behaviour: drop-head
        queue.messages.append(envelope)
        self.pump(queue)

    def pump(self, queue: _Queue) -> None:
        """Hand queued messages to consumers with free prefetch slots, round-robin."""
        now = time.monotonic()
        while queue.messages and queue.consumers:
            consumer = self._free_consumer(queue)
            if consumer is None:
                return
            envelope = queue.messages.popleft()
            if envelope.expires_at is not None and envelope.expires_at < now:
                continue
            consumer.in_flight += 1
            self._dispatch(queue, consumer, envelope)

    def _free_consumer(self, queue: _Queue) -> _Consumer | None:
        count = len(queue.consumers)
        for offset in range(count):
            candidate = queue.consumers[(queue.next_consumer + offset) % count]
            if candidate.prefetch <= 0 or candidate.in_flight < candidate.prefetch:
                queue.next_consumer = (queue.next_consumer + offset + 1) % count
                return candidate
        return None

    def _dispatch(self, queue: _Queue, consumer: _Consumer, envelope: _Envelope) -> None:
        settled = False

        async def ack() -> None:
            nonlocal settled
            if not settled:
                settled = True
                consumer.in_flight -= 1
                self.pump(queue)

        async def reject(requeue: bool) -> None:
            nonlocal settled
            if settled:
                return
            settled = True
            consumer.in_flight -= 1
            if requeue and queue.name in self.queues:
                envelope.redelivered = True
                queue.messages.appendleft(envelope)
            self.pump(queue)

        delivery = Delivery(body=envelope.body, headers=envelope.headers, content_type=envelope.content_type,
                            content_encoding=envelope.content_encoding, exchange=envelope.exchange,
                            routing_key=envelope.routing_key, redelivered=envelope.redelivered,
                            _ack=ack, _reject=reject)

        async def run() -> None:
            try:
                await consumer.handler(delivery)
            except Exception:  # the consumer layer logs its own errors; this is a last resort
                log.exception("memory bus: consumer %s on %s raised", consumer.tag, queue.name)
                await reject(False)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def delete_queue(self, name: str) -> None:
        self.queues.pop(name, None)
        for exchange, entries in self.bindings.items():
            entries[:] = [(k, q) for k, q in entries if q != name]

    def next_tag(self) -> str:
        return f"memory.ctag-{next(self._tags)}"


_NAMED_BROKERS: dict[str, MemoryBroker] = {}


def broker_for(url: str) -> MemoryBroker:
    """The process's broker for ``memory://NAME`` (``memory://`` is the default one)."""
    name = url[len("memory://"):].strip("/") or "default"
    return _NAMED_BROKERS.setdefault(name, MemoryBroker())


class MemoryTransport(Transport):
    """One connection to a ``MemoryBroker``."""

    def __init__(self, broker: MemoryBroker | None = None) -> None:
        super().__init__()
        self.broker = broker or MemoryBroker()
        self._connected = False
        self._tags: dict[str, str] = {}   # consumer tag -> queue

    @property
    def url(self) -> str:
        return "memory://"

    @property
    def node(self) -> str:
        return "memory" if self._connected else ""

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        self._connected = True

    async def close(self) -> None:
        for tag in list(self._tags):
            await self.cancel(tag)
        for name, queue in list(self.broker.queues.items()):
            if queue.exclusive and queue.owner is self:
                self.broker.delete_queue(name)
        self._connected = False

    def _check(self) -> None:
        if not self._connected:
            raise BusError("transport is not connected")

    async def declare_exchange(self, exchange: Exchange) -> None:
        self._check()
        existing = self.broker.exchanges.get(exchange.name)
        if existing is not None and existing != exchange:
            raise BusError(f"exchange {exchange.name!r} exists with other flags (PRECONDITION_FAILED)")
        self.broker.exchanges[exchange.name] = exchange

    async def declare_queue(self, name: str, *, exclusive: bool = False, auto_delete: bool = True,
                            durable: bool = False, arguments: Mapping[str, Any] | None = None) -> str:
        self._check()
        if not name:
            raise ValueError("queue names are chosen by us, never by the broker (see unique_queue_name)")
        arguments = dict(arguments or {})
        existing = self.broker.queues.get(name)
        if existing is not None:
            if existing.exclusive and existing.owner is not self:
                raise BusError(f"queue {name!r} is exclusive to another connection (RESOURCE_LOCKED)")
            return name
        self.broker.queues[name] = _Queue(
            name=name, exclusive=exclusive, auto_delete=auto_delete, owner=self,
            max_length=arguments.get("x-max-length"), ttl_ms=arguments.get("x-message-ttl"))
        return name

    async def delete_queue(self, name: str) -> None:
        self._check()
        queue = self.broker.queues.get(name)
        if queue is None:
            return
        for consumer in list(queue.consumers):
            self._tags.pop(consumer.tag, None)
        self.broker.delete_queue(name)

    def _queue(self, name: str) -> _Queue:
        queue = self.broker.queues.get(name)
        if queue is None:
            raise BusError(f"no queue {name!r} (NOT_FOUND)")
        return queue

    async def bind(self, queue: str, exchange: Exchange, routing_key: str) -> None:
        self._check()
        self._queue(queue)
        if exchange.name not in self.broker.exchanges:
            raise BusError(f"no exchange {exchange.name!r} (NOT_FOUND)")
        entries = self.broker.bindings[exchange.name]
        if (routing_key, queue) not in entries:
            entries.append((routing_key, queue))

    async def unbind(self, queue: str, exchange: Exchange, routing_key: str) -> None:
        self._check()
        entries = self.broker.bindings.get(exchange.name, [])
        if (routing_key, queue) in entries:
            entries.remove((routing_key, queue))

    async def consume(self, queue: str, handler: DeliveryHandler, *, prefetch: int = 64,
                      exclusive: bool = False) -> str:
        self._check()
        target = self._queue(queue)
        if exclusive and target.consumers:
            raise BusError(f"queue {queue!r} already has a consumer (ACCESS_REFUSED)")
        tag = self.broker.next_tag()
        target.consumers.append(_Consumer(tag=tag, handler=handler, prefetch=prefetch, owner=self))
        target.had_consumer = True
        self._tags[tag] = queue
        self.broker.pump(target)
        return tag

    async def cancel(self, consumer_tag: str) -> None:
        queue_name = self._tags.pop(consumer_tag, None)
        queue = self.broker.queues.get(queue_name or "")
        if queue is None:
            return
        queue.consumers = [c for c in queue.consumers if c.tag != consumer_tag]
        if queue.auto_delete and queue.had_consumer and not queue.consumers:
            self.broker.delete_queue(queue.name)

    async def publish(self, exchange: Exchange, routing_key: str, body: bytes, *,
                      headers: Mapping[str, Any] | None = None, content_type: str = "application/json",
                      content_encoding: str | None = None, mandatory: bool = False,
                      timestamp_us: int | None = None, wait_for_confirm: bool = True) -> None:
        # the in-memory broker takes a message at once: there is no confirm to wait for
        self._check()
        declared = self.broker.exchanges.get(exchange.name)
        if declared is None:
            raise BusError(f"no exchange {exchange.name!r} (NOT_FOUND)")
        queues = self.broker.route(declared, routing_key)
        if not queues:
            if mandatory:
                raise Unroutable(exchange.name, routing_key)
            return
        now = time.monotonic()
        for queue in queues:
            expires = now + queue.ttl_ms / 1000 if queue.ttl_ms is not None else None
            self.broker.enqueue(queue, _Envelope(exchange.name, routing_key, bytes(body), dict(headers or {}),
                                                 content_type, content_encoding, expires))
        # let the deliveries start, as a network round trip would
        await asyncio.sleep(0)
