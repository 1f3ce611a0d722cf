"""RabbitMQ transport on aio-pika robust connections.

Reconnection lives here and only here: aio-pika's robust connection re-opens
channels and re-declares the exchanges, queues, bindings and consumers made
through it, so queue names must be our own (never broker-generated) to survive
a reconnect -- see ``unique_queue_name``.

Channels: one for declarations and plain publishes, one with publisher
confirms for ``mandatory`` publishes (returns are only reliable with confirms),
and one per consumed queue so each has its own prefetch.

Plain publishes are written in batches while the channel is busy (``_Outbox``):
aiormq holds a channel's lock until each publish is written to the socket, so
under load publishes queued behind one another a loop turn or two each.  A
publish on a free channel is written at once; every publish made while one is
being written joins the next batch.  A batch's frames go out in the order they
were published, and each publisher is answered once the batch's last frame is
written, or with the error that stopped it.  After a failed batch every one
of its publishers holds and retries, so during a broker failure a message may
go out twice rather than be lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from typing import Any, Mapping

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection

from services.exchanges import Exchange
from services.bus.transport import (BrokerUnavailable, BusError, Delivery, DeliveryHandler, Transport,
                                    Unroutable)
from services.settings import TLSFiles

log = logging.getLogger(__name__)


def ssl_context_for(tls: TLSFiles) -> ssl.SSLContext:
    """Client TLS context for ``amqps://``: CA bundle, optional client certificate."""
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def redact(url: str) -> str:
    """The URL without its password, for log lines and error messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


class _Outbox:
    """Plain publishes of one robust channel, written one at a time while the channel is free and
    in batches while it is busy (see the module docstring)."""

    def __init__(self, channel: AbstractRobustChannel) -> None:
        self.channel = channel
        self._waiting: list[tuple[str, str, bytes, aiormq.spec.Basic.Properties, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None
        self._busy = False          # a write is in progress or scheduled: later publishes wait their turn

    async def _underlay(self) -> aiormq.abc.AbstractChannel:
        if self.channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{self.channel!r} closed")
        return await self.channel.get_underlay_channel()

    async def publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: aiormq.spec.Basic.Properties) -> None:
        if self._busy:
            written = asyncio.get_running_loop().create_future()
            self._waiting.append((exchange, routing_key, body, properties, written))
            await written
            return
        self._busy = True
        try:
            underlay = await self._underlay()
            await underlay.basic_publish(body, exchange=exchange, routing_key=routing_key, properties=properties)
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
                    underlay = await self._underlay()
                    last = len(batch) - 1
                    for index, (exchange, routing_key, body, properties, _) in enumerate(batch):
                        # only the last frame waits for the socket: the ones before it are written first
                        await underlay.basic_publish(body, exchange=exchange, routing_key=routing_key,
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


class AmqpTransport(Transport):
    def __init__(self, url: str, *, tls: TLSFiles | None = None, connection_name: str = "kzvoice",
                 reconnect_interval: float = 1.0, on_reconnect=None, publish_wait: float = 30.0) -> None:
        self._url = url
        self._tls = tls or TLSFiles()
        self._name = connection_name
        self._reconnect_interval = reconnect_interval
        self._conn: AbstractRobustConnection | None = None
        self._main: AbstractRobustChannel | None = None
        self._confirm: AbstractRobustChannel | None = None
        self._outbox: _Outbox | None = None
        self._closing = False
        self._exchanges: dict[tuple[int, Exchange], aio_pika.abc.AbstractExchange] = {}
        self._queues: dict[str, tuple[AbstractRobustChannel, aio_pika.abc.AbstractQueue]] = {}
        self._consumers: dict[str, str] = {}   # consumer tag -> queue name
        self.reconnects = 0
        self._on_reconnect_hook = on_reconnect
        self._publish_wait = publish_wait   # seconds a publish waits for a lost connection to return

    @property
    def url(self) -> str:
        return redact(self._url)

    @property
    def is_connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed and self._conn.connected.is_set()

    async def connect(self) -> None:
        kwargs: dict[str, Any] = {"client_properties": {"connection_name": self._name},
                                  "reconnect_interval": self._reconnect_interval}
        if self._url.startswith("amqps://"):
            kwargs["ssl_context"] = ssl_context_for(self._tls)
        self._closing = False
        try:
            self._conn = await aio_pika.connect_robust(self._url, **kwargs)
        except (OSError, aiormq.exceptions.AMQPError, asyncio.TimeoutError, ssl.SSLError) as exc:
            raise BrokerUnavailable(f"cannot reach the broker at {self.url}: {exc or type(exc).__name__}") from exc
        self._conn.reconnect_callbacks.add(self._on_reconnect)
        self._main = await self._conn.channel()
        self._outbox = _Outbox(self._main)
        self._confirm = await self._conn.channel(publisher_confirms=True, on_return_raises=False)

    def _on_reconnect(self, *_: Any) -> None:
        self.reconnects += 1
        log.warning("reconnected to the broker at %s; exchanges, queues and consumers restored", self.url)
        if self._on_reconnect_hook is not None:
            self._on_reconnect_hook()

    async def close(self) -> None:
        self._closing = True
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None
        if self._conn is not None and not self._conn.is_closed:
            await self._conn.close()
        self._conn = None
        self._queues.clear()
        self._exchanges.clear()
        self._consumers.clear()

    def _channel(self) -> AbstractRobustChannel:
        if self._main is None:
            raise BusError("transport is not connected")
        return self._main

    async def _exchange(self, channel: AbstractRobustChannel, exchange: Exchange) -> aio_pika.abc.AbstractExchange:
        key = (id(channel), exchange)
        found = self._exchanges.get(key)
        if found is None:
            found = await channel.declare_exchange(
                exchange.name, type=exchange.type, durable=exchange.durable,
                auto_delete=exchange.auto_delete, internal=exchange.internal)
            self._exchanges[key] = found
        return found

    async def declare_exchange(self, exchange: Exchange) -> None:
        main = self._channel()
        if (id(main), exchange) in self._exchanges:
            return
        # Check the flags on a throwaway channel first: a PRECONDITION_FAILED
        # closes the channel it happens on, and the main one must survive.
        assert self._conn is not None
        probe = await self._conn.channel()
        try:
            await probe.declare_exchange(exchange.name, type=exchange.type, durable=exchange.durable,
                                         auto_delete=exchange.auto_delete, internal=exchange.internal)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise BusError(f"exchange {exchange.name!r} exists with other flags: {exc}") from exc
        finally:
            if not probe.is_closed:
                await probe.close()
        # declared on the robust main channel too, so a reconnect re-declares it
        await self._exchange(main, exchange)

    async def declare_queue(self, name: str, *, exclusive: bool = False, auto_delete: bool = True,
                            durable: bool = False, arguments: Mapping[str, Any] | None = None) -> str:
        if not name:
            raise ValueError("queue names are chosen by us, never by the broker (see unique_queue_name)")
        if name in self._queues:
            return name
        assert self._conn is not None
        channel = await self._conn.channel()
        try:
            queue = await channel.declare_queue(name, durable=durable, exclusive=exclusive,
                                                auto_delete=auto_delete, arguments=dict(arguments or {}))
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise BusError(f"queue {name!r} exists with other arguments: {exc}") from exc
        self._queues[name] = (channel, queue)
        return name

    def _queue(self, name: str) -> tuple[AbstractRobustChannel, aio_pika.abc.AbstractQueue]:
        try:
            return self._queues[name]
        except KeyError:
            raise BusError(f"queue {name!r} was not declared through this transport") from None

    async def delete_queue(self, name: str) -> None:
        entry = self._queues.pop(name, None)
        if entry is None:
            return
        channel, queue = entry
        # the exchanges declared on this queue's channel die with it: keeping them would keep the
        # closed channel alive (one per deleted queue, e.g. a gateway's per-call control queue)
        for key in [k for k in self._exchanges if k[0] == id(channel)]:
            del self._exchanges[key]
        try:
            await queue.delete(if_unused=False, if_empty=False)
        finally:
            await channel.close()

    async def bind(self, queue: str, exchange: Exchange, routing_key: str) -> None:
        channel, q = self._queue(queue)
        await self._exchange(channel, exchange)
        await q.bind(exchange.name, routing_key=routing_key)

    async def unbind(self, queue: str, exchange: Exchange, routing_key: str) -> None:
        _, q = self._queue(queue)
        await q.unbind(exchange.name, routing_key=routing_key)

    async def consume(self, queue: str, handler: DeliveryHandler, *, prefetch: int = 64,
                      exclusive: bool = False) -> str:
        channel, q = self._queue(queue)
        await channel.set_qos(prefetch_count=prefetch)

        async def on_message(message: AbstractIncomingMessage) -> None:
            # Acks and rejects go on the channel the message came on and do not wait for the socket
            # (aio-pika's would, a loop turn or two per message): an ack lost with the connection
            # means the broker delivers the message again, as it would for an unacked one.
            delivered_on, tag = message.channel, message.delivery_tag
            await handler(Delivery(
                body=message.body,
                headers=message.headers or {},
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                exchange=message.exchange or "",
                routing_key=message.routing_key or "",
                redelivered=bool(message.redelivered),
                _ack=functools.partial(delivered_on.basic_ack, tag, wait=False),
                _reject=lambda requeue: delivered_on.basic_reject(tag, requeue=requeue, wait=False),
            ))

        tag = await q.consume(on_message, exclusive=exclusive)
        self._consumers[tag] = queue
        return tag

    async def cancel(self, consumer_tag: str) -> None:
        queue = self._consumers.pop(consumer_tag, None)
        if queue is None or queue not in self._queues:
            return
        _, q = self._queues[queue]
        await q.cancel(consumer_tag)

    async def publish(self, exchange: Exchange, routing_key: str, body: bytes, *,
                      headers: Mapping[str, Any] | None = None, content_type: str = "application/json",
                      content_encoding: str | None = None, mandatory: bool = False,
                      timestamp_us: int | None = None) -> None:
        # The frame properties aio-pika's Message would put on the wire (transient, priority 0, a
        # headers table), built directly: its Message object costs more than the rest of a publish.
        properties = aiormq.spec.Basic.Properties(
            content_type=content_type, content_encoding=content_encoding,
            headers=dict(headers) if headers else {}, delivery_mode=1, priority=0)
        deadline: float | None = None
        while True:
            channel = self._confirm if mandatory else self._main
            if channel is None or self._conn is None or self._closing:
                raise BusError("transport is not connected")
            try:
                if (id(channel), exchange) not in self._exchanges:
                    await self._exchange(channel, exchange)    # declared once; a reconnect re-declares it
                if not mandatory and self._outbox is not None:
                    await self._outbox.publish(exchange.name, routing_key, body, properties)
                    return
                if channel.is_closed:
                    raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} closed")
                underlay = await channel.get_underlay_channel()
                result = await underlay.basic_publish(body, exchange=exchange.name, routing_key=routing_key,
                                                      properties=properties, mandatory=mandatory)
                break
            except aiormq.exceptions.PublishError as exc:
                raise Unroutable(exchange.name, routing_key) from exc
            except asyncio.CancelledError as exc:
                # closing the connection cancels aiormq's own futures (a declaration in flight):
                # to a publisher that was not itself cancelled, that is a closed transport
                task = asyncio.current_task()
                if self._closing and task is not None and not task.cancelling():
                    raise BusError(f"publish to {exchange.name!r}: transport closed") from exc
                raise
            except Exception as exc:
                if self._closing or self._conn is None:
                    raise BusError(f"publish to {exchange.name!r}: transport closed") from exc
                if not isinstance(exc, (aiormq.exceptions.AMQPConnectionError,
                                        aiormq.exceptions.ChannelInvalidStateError, ConnectionError)):
                    raise
                # The robust connection is coming back: hold the message (a recording's
                # RECORD_STOP, an action.result) until it does, rather than lose it.
                loop = asyncio.get_running_loop()
                deadline = deadline or loop.time() + self._publish_wait
                remaining = deadline - loop.time()
                if self._conn.is_closed or remaining <= 0:
                    raise BrokerUnavailable(f"publish to {exchange.name!r} failed: {exc}") from exc
                log.warning("broker connection lost; holding a publish to %s for up to %.0fs",
                            exchange.name, remaining)
                try:
                    await asyncio.wait_for(self._conn.connected.wait(), remaining)
                except asyncio.TimeoutError:
                    raise BrokerUnavailable(f"publish to {exchange.name!r} failed: {exc}") from exc
                await asyncio.sleep(0.05)   # let the channels be restored
        if mandatory and isinstance(result, aiormq.abc.DeliveredMessage):
            raise Unroutable(exchange.name, routing_key)
