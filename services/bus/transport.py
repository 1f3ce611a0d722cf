"""The transport interface: what kzvoice needs from a message broker.

Two implementations: ``AmqpTransport`` (RabbitMQ through aiormq) and
``MemoryTransport`` (in-process, same routing semantics).  Everything above
this layer -- publisher, consumers, request/response -- is written against this
interface only, so it runs unchanged on both.
"""

from __future__ import annotations

import abc
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from services.exchanges import Exchange

log = logging.getLogger(__name__)


class BusError(RuntimeError):
    """The broker refused or could not carry out an operation."""


class Unroutable(BusError):
    """A mandatory message was returned: no queue is bound for its routing key."""

    def __init__(self, exchange: str, routing_key: str) -> None:
        super().__init__(f"no queue bound on {exchange!r} for {routing_key!r}")
        self.exchange = exchange
        self.routing_key = routing_key


class BrokerUnavailable(BusError):
    """The broker could not be reached."""


@dataclass
class Delivery:
    """One message taken from a queue."""

    body: bytes
    headers: Mapping[str, Any]
    content_type: str | None
    content_encoding: str | None
    exchange: str
    routing_key: str
    redelivered: bool = False
    _ack: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)
    _reject: Callable[[bool], Awaitable[None]] | None = field(default=None, repr=False)

    async def ack(self) -> None:
        if self._ack is not None:
            await self._ack()

    async def reject(self, requeue: bool = False) -> None:
        if self._reject is not None:
            await self._reject(requeue)


DeliveryHandler = Callable[[Delivery], Awaitable[None]]
ReconnectListener = Callable[[], None]


def unique_queue_name(prefix: str) -> str:
    """A queue name of our own, stable across reconnects: ``<prefix>-<host>-<pid>-<8 hex>``."""
    host = socket.gethostname().split(".")[0]
    return f"{prefix}-{host}-{os.getpid()}-{secrets.token_hex(4)}"


class Transport(abc.ABC):
    """A broker connection.  All names are plain AMQP names.

    Reconnection is the transport's own business: after a lost connection it
    connects again, declares every exchange, queue, binding and consumer made
    through it (those added at run time too), and only then tells the
    listeners registered with ``on_reconnect`` -- the one way the layers above
    learn of a reconnection (to drop caches that change events kept fresh).
    """

    def __init__(self) -> None:
        self._reconnect_listeners: list[ReconnectListener] = []

    def on_reconnect(self, listener: ReconnectListener) -> Callable[[], None]:
        """Call ``listener()`` after every reconnection, once the topology is back; returns a
        function that removes it."""
        self._reconnect_listeners.append(listener)

        def remove() -> None:
            if listener in self._reconnect_listeners:
                self._reconnect_listeners.remove(listener)
        return remove

    def _tell_reconnected(self) -> None:
        for listener in list(self._reconnect_listeners):
            try:
                listener()
            except Exception:
                log.exception("a reconnect listener failed")

    @property
    def node(self) -> str:
        """The broker node in use, without credentials (``host:port``); empty when not connected."""
        return ""

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool: ...

    @abc.abstractmethod
    async def declare_exchange(self, exchange: Exchange) -> None: ...

    @abc.abstractmethod
    async def declare_queue(self, name: str, *, exclusive: bool = False, auto_delete: bool = True,
                            durable: bool = False, arguments: Mapping[str, Any] | None = None) -> str:
        """Declare a queue (``name`` must be non-empty) and return its name."""

    @abc.abstractmethod
    async def delete_queue(self, name: str) -> None: ...

    @abc.abstractmethod
    async def bind(self, queue: str, exchange: Exchange, routing_key: str) -> None: ...

    @abc.abstractmethod
    async def unbind(self, queue: str, exchange: Exchange, routing_key: str) -> None: ...

    @abc.abstractmethod
    async def consume(self, queue: str, handler: DeliveryHandler, *, prefetch: int = 64,
                      exclusive: bool = False) -> str:
        """Start delivering the queue's messages to ``handler``; returns a consumer tag."""

    @abc.abstractmethod
    async def cancel(self, consumer_tag: str) -> None: ...

    @abc.abstractmethod
    async def publish(self, exchange: Exchange, routing_key: str, body: bytes, *,
                      headers: Mapping[str, Any] | None = None, content_type: str = "application/json",
                      content_encoding: str | None = None, mandatory: bool = False,
                      timestamp_us: int | None = None, wait_for_confirm: bool = True) -> None:
        """Publish one message.  With ``mandatory`` the call waits for the broker
        and raises ``Unroutable`` when the message is returned.  Without
        ``wait_for_confirm`` (and not ``mandatory``) it returns once the message is
        queued in order; delivery to the broker, and sending it again after a lost
        connection, go on in the background (failures are logged)."""
