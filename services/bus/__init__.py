"""The message bus: KAZOO's exchanges on RabbitMQ (or in memory), one envelope, one ack policy.

``Bus`` bundles what a service needs: a transport, the validator, a publisher
and factories for consumers and reply queues.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from services.bus.consumer import Consumer, InvalidHook
from services.exchanges import EXCHANGES, KAZOO_QUEUE_ARGS, Exchange
from services.bus.publisher import Publisher
from services.bus.rpc import ReplyQueue, RequestTimeout
from services.bus.transport import BrokerUnavailable, BusError, Transport, Unroutable, unique_queue_name

log = logging.getLogger(__name__)

__all__ = ["Bus", "BusError", "BrokerUnavailable", "Unroutable", "RequestTimeout", "open_transport",
           "unique_queue_name", "Consumer", "ReplyQueue", "Publisher"]

APP_VERSION = "4.0.0"


def open_transport(url: str, *, tls=None, connection_name: str = "kzvoice") -> Transport:
    """The transport for ``KZ_AMQP_URL``: RabbitMQ for amqp(s):// (one broker or a list of the
    nodes of a cluster), the in-process broker for memory://."""
    if url.startswith("memory://"):
        from services.bus.memory import MemoryTransport, broker_for
        return MemoryTransport(broker_for(url))
    from services.bus.amqp import AmqpTransport
    return AmqpTransport(url, tls=tls, connection_name=connection_name)


class Bus:
    """One service's view of the bus."""

    def __init__(self, transport: Transport, validator, *, app_name: str, node: str,
                 app_version: str = APP_VERSION, metrics=None) -> None:
        self.transport = transport
        self.validator = validator
        self.metrics = metrics
        self.app_name = app_name
        self.node = node
        self.publisher = Publisher(transport, validator, app_name=app_name, app_version=app_version,
                                   node=node, metrics=metrics)
        self._consumers: list[Consumer] = []
        self._reply_queues: list[ReplyQueue] = []
        self._draining = False

    async def start(self, exchanges: Mapping[str, Exchange] = EXCHANGES) -> None:
        """Connect and declare KAZOO's exchanges with KAZOO's flags."""
        if not self.transport.is_connected:
            await self.transport.connect()
        for exchange in exchanges.values():
            await self.transport.declare_exchange(exchange)

    async def publish(self, spec, fields: Mapping[str, Any], *, to: str | None = None,
                      server_id: str | None = None, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self.publisher.publish(spec, fields, to=to, server_id=server_id, headers=headers)

    async def consumer(self, queue: str, *, exclusive: bool = False, auto_delete: bool = True,
                       arguments: Mapping[str, Any] | None = None, prefetch: int = 64,
                       on_invalid: InvalidHook | None = None) -> Consumer:
        """Declare ``queue`` and return a consumer for it (bind, register handlers, then ``start()``)."""
        await self.transport.declare_queue(queue, exclusive=exclusive, auto_delete=auto_delete,
                                           arguments=KAZOO_QUEUE_ARGS if arguments is None else arguments)
        consumer = Consumer(self.transport, self.validator, queue, metrics=self.metrics, prefetch=prefetch,
                            on_invalid=on_invalid, on_stop=self._forget)
        self._consumers.append(consumer)
        return consumer

    async def reply_queue(self, prefix: str, *, name: str | None = None, exclusive: bool = True,
                          start: bool = True) -> ReplyQueue:
        """A queue of our own on ``targeted``; ``start=False`` lets the caller bind more first."""
        queue = ReplyQueue(self.transport, self.validator, self.publisher, prefix=prefix, name=name,
                           metrics=self.metrics, exclusive=exclusive)
        if start:
            await queue.start()
        self._reply_queues.append(queue)
        return queue

    def _forget(self, consumer: Consumer) -> None:
        """A stopped consumer no longer counts for readiness (per-call consumers come and go)."""
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    @property
    def consumers(self) -> list[Consumer]:
        """Every consumer of this bus, reply queues' included."""
        return self._consumers + [queue.consumer for queue in self._reply_queues]

    @property
    def ready(self) -> bool:
        return (not self._draining and self.transport.is_connected
                and all(c.running for c in self.consumers))

    async def stop_consuming(self, drain_timeout: float) -> bool:
        """Cancel every consumer and wait for handlers in flight (SIGTERM drain)."""
        self._draining = True
        drained = True
        for consumer in list(self._consumers):
            drained = await consumer.stop(drain_timeout) and drained
        return drained

    async def close(self) -> None:
        for queue in self._reply_queues:
            await queue.close()
        await self.stop_consuming(drain_timeout=1.0)
        await self.transport.close()
