"""RabbitMQ transport on aiormq: the broker list, the reconnect loop and the topology.

Brokers
    ``KZ_AMQP_URL`` may name several nodes of one cluster (``services.settings.parse_amqp_urls``).
    ``connect()`` takes the first that answers.  When the connection is lost the
    transport tries the other nodes first and the lost one last, round after round,
    with exponential backoff and jitter between rounds (``backoff_delays``); each
    connect logs the node and the number of the reconnection.

Topology
    Every exchange, queue, binding and consumer made through the transport is kept in
    ``_exchanges`` and ``_queues`` -- per-call bindings and queues too, until they are
    removed.  KAZOO's queues are non-durable: on a node that died they are gone with
    their bindings and messages.  So after a reconnect the transport declares all of
    them again on the new connection, starts the consumers again under the same
    consumer tags, and only then tells the ``on_reconnect`` listeners.  Queue names are
    ours (``unique_queue_name``), never the broker's, so they are the same afterwards.
    A queue whose channel closes or whose consumer the broker cancels while the
    connection lives on (a shared queue whose home node died under a connection to
    another node) is declared again the same way.

During an outage
    Publishes and additions to the topology wait for the connection to come back, up
    to ``hold_s`` (30 s), then fail with ``BrokerUnavailable``; removals (unbind,
    cancel, delete) only update the registry, since the broker forgot the thing or
    will at the reconnect.  A publish written but not yet confirmed when the
    connection died is sent again: a message may arrive twice, never zero times
    for want of a retry.  Messages that were in queues of a dead node, and events
    published while a queue was not yet declared again, are lost -- as in KAZOO.

Confirms
    Plain publishes go on a channel with publisher confirms (``services.bus.outbox``: queued
    in call order, their confirms awaited together).  A message declared
    ``wait_for_confirm=False`` (call commands, media replies) returns to its caller once it is
    queued; its confirm is awaited in a task of the transport, which sends it again after a
    lost connection, and ``close()`` waits for those tasks (up to ``CLOSE_DRAIN_S``).  While
    there is no connection such messages wait in order, each behind the one before.

Channels: one with publisher confirms for plain publishes, one for ``mandatory`` publishes
(returns are reliable only with confirms), one per queue so each consumer has its own
prefetch, and one for binding and unbinding queues once declared (per-call bindings), so
that a bind or unbind given up never closes a channel that carries deliveries
(``_bindings_channel``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator, Mapping, Sequence, TypeVar

import aiormq
from aiormq.abc import DeliveredMessage

from services.exchanges import Exchange
from services.bus.acks import AckBatch
from services.bus.outbox import Outbox
from services.bus.transport import (BrokerUnavailable, BusError, Delivery, DeliveryHandler, Transport,
                                    Unroutable)
from services.settings import TLSFiles, parse_amqp_urls, redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")

CLOSE_DRAIN_S = 5.0           # close() waits this long for publishes not yet confirmed
REMOVAL_TIMEOUT_S = 10.0      # an unbind, cancel, delete or close the broker does not answer is given up

# an error on a connection that is gone, or on a channel closed under us
_LOST = (aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError)


def ssl_context_for(tls: TLSFiles) -> ssl.SSLContext:
    """Client TLS context for ``amqps://``: CA bundle, optional client certificate."""
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def node_of(url: str) -> str:
    """``host:port`` of a broker URL (the node label of the metrics and logs)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    host = parts.hostname or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def backoff_delays(initial: float, cap: float, rng: random.Random | None = None) -> Iterator[float]:
    """Pauses between reconnect rounds: doubling from ``initial`` up to ``cap``, each drawn
    uniformly from its upper half, so clients that lost the same node do not come back in step."""
    rng = rng or random.Random()
    ceiling = initial
    while True:
        yield rng.uniform(ceiling / 2, ceiling)
        ceiling = min(cap, ceiling * 2)


@dataclass
class _ConsumerSpec:
    tag: str
    queue: str
    handler: DeliveryHandler
    prefetch: int
    exclusive: bool


@dataclass
class _QueueSpec:
    name: str
    exclusive: bool
    auto_delete: bool
    durable: bool
    arguments: dict[str, Any]
    bindings: dict[tuple[str, str], Exchange] = field(default_factory=dict)   # (exchange, key) -> exchange
    consumers: dict[str, _ConsumerSpec] = field(default_factory=dict)         # tag -> consumer


class _Link:
    """One open connection to one node, and what has been declared on it so far."""

    def __init__(self, conn: aiormq.Connection, url: str, index: int) -> None:
        self.conn = conn
        self.url = url
        self.index = index                      # position in the broker list
        self.node = node_of(url)
        self.main: aiormq.abc.AbstractChannel | None = None
        self.confirm: aiormq.abc.AbstractChannel | None = None
        self.outbox: Outbox | None = None
        self.exchanges: set[Exchange] = set()
        self.declaring: dict[Exchange, asyncio.Future] = {}          # exchange -> its declaration in progress
        self.channels: dict[str, aiormq.abc.AbstractChannel] = {}    # queue -> its channel, once declared
        self.opening: dict[str, asyncio.Future] = {}                 # queue -> its declaration in progress
        self.consuming: set[str] = set()                             # consumer tags started here
        self.acks: dict[str, AckBatch] = {}                          # exclusive queue -> its channel's acks
        self.bindings: aiormq.abc.AbstractChannel | None = None      # bind/unbind of declared queues
        self.bindings_opening = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return not self.conn.is_closed


async def _settle(settle: Callable[..., Awaitable[None]], *args: Any, **kwargs: Any) -> None:
    """An ack or reject that does not wait for the socket (aio-pika's would, a loop turn or two
    per message).  On a channel that is gone it does nothing: the broker delivers an unsettled
    message again, or lost it with its queue."""
    try:
        await settle(*args, wait=False, **kwargs)
    except _LOST as exc:
        log.debug("settling a delivery on a closed channel: %s", exc)


class AmqpTransport(Transport):
    def __init__(self, urls: str | Sequence[str], *, tls: TLSFiles | None = None,
                 connection_name: str = "kzvoice", reconnect_interval: float = 1.0,
                 reconnect_max_interval: float = 10.0, connect_timeout: float = 10.0,
                 publish_wait: float = 30.0, rng: random.Random | None = None) -> None:
        super().__init__()
        self._urls: tuple[str, ...] = parse_amqp_urls(urls) if isinstance(urls, str) else tuple(urls)
        if not self._urls:
            raise ValueError("no broker URL")
        self._tls = tls or TLSFiles()
        self._ssl_context: ssl.SSLContext | None = None
        self._name = connection_name
        self._reconnect_interval = reconnect_interval
        self._reconnect_max_interval = reconnect_max_interval
        self._connect_timeout = connect_timeout
        self._hold_s = publish_wait           # seconds a publish or declaration waits for a lost connection
        self._rng = rng or random.Random()
        self._link: _Link | None = None
        self._connected = asyncio.Event()     # set while a link is installed, and when closing (wakes waiters)
        self._reconnecting: asyncio.Task | None = None
        self._repairs: set[asyncio.Task] = set()
        self._unconfirmed: set[asyncio.Task] = set()   # publishes whose caller did not wait for the confirm
        self._held: asyncio.Future | None = None      # the last of them still waiting to be queued
        self._closing = False
        self._exchanges: dict[Exchange, None] = {}     # an ordered set
        self._queues: dict[str, _QueueSpec] = {}
        self._consumers: dict[str, _ConsumerSpec] = {}
        self._tags = 0
        self.reconnects = 0

    # -- connection -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The broker in use (or the first of the list), without credentials."""
        return redact_url(self._link.url if self._link is not None else self._urls[0])

    @property
    def urls(self) -> tuple[str, ...]:
        return self._urls

    @property
    def node(self) -> str:
        return self._link.node if self._link is not None else ""

    @property
    def is_connected(self) -> bool:
        return self._link is not None and self._link.alive

    async def connect(self) -> None:
        """Connect to the first broker of the list that answers; ``BrokerUnavailable`` if none does."""
        self._closing = False
        failures = []
        for index in range(len(self._urls)):
            try:
                link = await self._open(index)
            except Exception as exc:
                failures.append(f"{node_of(self._urls[index])}: {_reason(exc)}")
                continue
            self._install(link)
            return
        raise BrokerUnavailable("cannot reach the broker at " + "; ".join(failures))

    async def close(self) -> None:
        if self._unconfirmed and self._link is not None and self._link.alive:
            # what was handed over without waiting for its confirm goes out before the connection closes
            pending = list(self._unconfirmed)
            done, left = await asyncio.wait(pending, timeout=CLOSE_DRAIN_S)
            if left:
                log.warning("%d publish(es) not confirmed within %.0f s of closing", len(left), CLOSE_DRAIN_S)
        self._closing = True
        self._connected.set()                 # wake every waiter: they see _closing and give up
        for task in [self._reconnecting, *self._repairs, *self._unconfirmed]:
            if task is not None:
                task.cancel()
        self._reconnecting = None
        self._repairs.clear()
        self._unconfirmed.clear()
        link, self._link = self._link, None
        if link is not None:
            if link.outbox is not None:
                link.outbox.close()
            if link.alive:
                await self._quietly("closing the connection", link.conn.close())
        self._queues.clear()
        self._exchanges.clear()
        self._consumers.clear()

    async def _open(self, index: int) -> _Link:
        """A new connection to broker ``index`` with the whole topology declared on it."""
        url = self._urls[index]
        kwargs: dict[str, Any] = {"client_properties": {"connection_name": self._name}}
        if url.startswith("amqps://"):
            if self._ssl_context is None:
                self._ssl_context = ssl_context_for(self._tls)
            kwargs["context"] = self._ssl_context
        conn = aiormq.Connection(url, **kwargs)
        link = _Link(conn, url, index)
        try:
            await asyncio.wait_for(conn.connect(), self._connect_timeout)
            conn.closing.add_done_callback(functools.partial(self._on_closed, link))
            await self._open_channels(link)
            await self._restore(link)
        except BaseException:
            try:
                await conn.close()
            except Exception as exc:
                log.debug("closing a connection that failed to open: %s", exc)
            raise
        return link

    async def _open_channels(self, link: _Link) -> None:
        if link.main is None or link.main.is_closed:
            if link.outbox is not None:
                link.outbox.close()
            link.main = await link.conn.channel(publisher_confirms=True)
            link.outbox = Outbox(link.main)
        if link.confirm is None or link.confirm.is_closed:
            link.confirm = await link.conn.channel(publisher_confirms=True, on_return_raises=False)

    async def _restore(self, link: _Link) -> None:
        """Declare everything of the registry on a new connection (nothing on the first one)."""
        for exchange in list(self._exchanges):
            await self._declare_exchange_on(link, exchange)
        for spec in list(self._queues.values()):
            if self._queues.get(spec.name) is spec:
                await self._queue_channel(link, spec)

    def _install(self, link: _Link, *, reconnected: bool = False) -> None:
        self._link = link
        self._connected.set()
        count = len(self._urls)
        where = f"{redact_url(link.url)} (node {link.index + 1} of {count})" if count > 1 else redact_url(link.url)
        if reconnected:
            self.reconnects += 1
            log.warning("reconnected to the broker at %s: %d exchange(s), %d queue(s), %d consumer(s) declared "
                        "again (reconnection %d)", where, len(self._exchanges), len(self._queues),
                        len(self._consumers), self.reconnects)
            self._tell_reconnected()
            self._spawn(self._verify_queues(link), name=f"amqp-verify-{self._name}")
        else:
            log.info("connected to the broker at %s", where)

    def _spawn(self, coro: Awaitable[None], *, name: str) -> None:
        """Background work of this transport (queue repairs and checks), cancelled by ``close()``."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._repairs.add(task)
        task.add_done_callback(self._repairs.discard)
        task.add_done_callback(_log_failure)

    async def _verify_queues(self, link: _Link) -> None:
        """Check, a while after a reconnect, that every queue still exists.

        When a node dies, every other node of the cluster deletes the non-durable queues that
        lived on it, by name, and they do not all do it at once: a queue declared again under
        the same name can be deleted by a node that cleans up late, silently (its consumer is
        not cancelled).  A passive declaration of a missing queue closes its channel with
        NOT_FOUND, and ``_on_channel_closed`` declares the queue again."""
        for rounds in (1, 2, 4):
            await asyncio.sleep(self._reconnect_interval * rounds)
            for spec in list(self._queues.values()):
                if link is not self._link or not link.alive:
                    return
                channel = link.channels.get(spec.name)
                if channel is None or channel.is_closed:
                    continue
                try:
                    await channel.queue_declare(spec.name, passive=True)
                except aiormq.exceptions.ChannelNotFoundEntity:
                    pass                    # its channel is closed: being declared again
                except _LOST as exc:        # the connection went meanwhile: the next one restores all
                    log.debug("checking queue %s: %s", spec.name, exc)

    def _on_closed(self, link: _Link, closing: asyncio.Future) -> None:
        reason = "closed"
        if not closing.cancelled() and closing.exception() is not None:
            reason = _reason(closing.exception())
        if self._closing or link is not self._link:
            return
        self._link = None
        self._connected.clear()
        log.warning("lost the broker connection to %s (%s); reconnecting", redact_url(link.url), reason)
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect(link.index),
                                                                    name=f"amqp-reconnect-{self._name}")
        self._reconnecting.add_done_callback(_log_failure)

    async def _reconnect(self, lost: int) -> None:
        count = len(self._urls)
        order = [(lost + step) % count for step in range(1, count + 1)]    # the lost node last
        pauses = backoff_delays(self._reconnect_interval, self._reconnect_max_interval, self._rng)
        rounds = 0
        while not self._closing:
            rounds += 1
            # a pause before every round, the first too: the cluster first cleans up after a lost
            # node (see _verify_queues), and clients that lost the same node spread out
            await asyncio.sleep(next(pauses))
            for index in order:
                try:
                    link = await self._open(index)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("broker at %s did not take the connection: %s", redact_url(self._urls[index]),
                                _reason(exc))
                    continue
                if self._closing:
                    await link.conn.close()
                    return
                self._reconnecting = None
                self._install(link, reconnected=True)
                return
            log.warning("no broker of %d answered (round %d); trying again", count, rounds)

    # -- running an operation on the live connection ------------------------------------------------

    async def _on_link(self, what: str, operation: Callable[[_Link], Awaitable[T]], *,
                       bounded: bool = False) -> T:
        """Run ``operation`` on the live connection; while there is none (or it is lost under the
        operation), wait for the reconnect, up to ``hold_s``, and run it again there.  A ``bounded``
        operation (a declaration) that the broker does not answer within ``hold_s`` fails with
        ``BrokerUnavailable``; a publish is not bounded: a broker that blocks publishers (a memory
        alarm) holds them until it takes them."""
        deadline: float | None = None
        while True:
            if self._closing:
                raise BusError(f"{what}: transport closed")
            link = self._link
            if link is None:
                error: BaseException = BusError("not connected")
            else:
                try:
                    if bounded:
                        return await asyncio.wait_for(operation(link), self._hold_s)
                    return await operation(link)
                except asyncio.TimeoutError:
                    raise BrokerUnavailable(f"{what}: no answer from the broker at {redact_url(link.url)} "
                                            f"within {self._hold_s:.0f} s") from None
                except asyncio.CancelledError as exc:
                    # a lost or closed connection cancels aiormq's own futures: unless this task itself
                    # is being cancelled, that is the connection going away
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
                    if self._closing:
                        raise BusError(f"{what}: transport closed") from exc
                    error = exc
                except Exception as exc:
                    if self._closing:
                        raise BusError(f"{what}: transport closed") from exc
                    # a nack: the broker did not take the message (a queue it was routed to died with
                    # its node): send it again, as for a publish lost with the connection
                    if link.alive and link is self._link and not _worth_resending(exc):
                        raise
                    error = exc
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self._hold_s
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                if self._link is None:
                    log.warning("broker connection lost; holding %s for up to %.0f s", what, remaining)
                    await asyncio.wait_for(self._connected.wait(), remaining)
                elif self._link is link and link.alive:
                    await asyncio.sleep(0.05)
                    try:
                        await self._open_channels(link)   # a channel closed by an earlier error: open it again
                    except Exception as exc:              # the connection is going: noticed next turn
                        log.debug("reopening channels: %s", exc)
                else:
                    await asyncio.sleep(0.05)         # the lost connection is not noticed yet
            except asyncio.TimeoutError:
                raise BrokerUnavailable(f"{what} failed: no broker connection for {self._hold_s:.0f} s "
                                        f"({_reason(error)})") from None

    async def _quietly(self, what: str, removal: Awaitable[None]) -> None:
        """A removal on the live connection; if the connection goes meanwhile, so did the thing.
        Bounded in time: a broker that does not answer must not hold up a shutdown."""
        try:
            await asyncio.wait_for(removal, REMOVAL_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("%s: no answer from the broker within %.0f s; going on", what, REMOVAL_TIMEOUT_S)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.debug("%s: the connection went meanwhile", what)
        except _LOST as exc:
            log.debug("%s: the connection went meanwhile (%s)", what, exc)

    # -- exchanges ------------------------------------------------------------------------------------

    async def _declare_exchange_on(self, link: _Link, exchange: Exchange) -> None:
        assert link.main is not None
        await _exchange_declare(link.main, exchange)
        link.exchanges.add(exchange)

    async def _ensure_exchange(self, link: _Link, exchange: Exchange) -> None:
        self._exchanges.setdefault(exchange, None)
        if exchange in link.exchanges:
            return
        # publishes that find the exchange undeclared share one declaration and go on in the order
        # they came (the waiters of one future wake in order), so their messages keep that order
        pending = link.declaring.get(exchange)
        if pending is None:
            pending = link.declaring[exchange] = asyncio.ensure_future(self._declare_exchange_on(link, exchange))
            pending.add_done_callback(lambda _: link.declaring.pop(exchange, None))
        await asyncio.shield(pending)

    async def declare_exchange(self, exchange: Exchange) -> None:
        if self._link is not None and exchange in self._link.exchanges:
            return

        async def declare(link: _Link) -> None:
            if exchange in link.exchanges:
                return
            # Check the flags on a throwaway channel first: a PRECONDITION_FAILED
            # closes the channel it happens on, and the main one must survive.
            probe = await link.conn.channel(publisher_confirms=False)
            try:
                await _exchange_declare(probe, exchange)
            except aiormq.exceptions.ChannelPreconditionFailed as exc:
                raise BusError(f"exchange {exchange.name!r} exists with other flags: {exc}") from exc
            finally:
                if not probe.is_closed:
                    await probe.close()
            self._exchanges.setdefault(exchange, None)
            link.exchanges.add(exchange)

        await self._on_link(f"declaring exchange {exchange.name!r}", declare, bounded=True)

    # -- queues -----------------------------------------------------------------------------------------

    async def declare_queue(self, name: str, *, exclusive: bool = False, auto_delete: bool = True,
                            durable: bool = False, arguments: Mapping[str, Any] | None = None) -> str:
        if not name:
            raise ValueError("queue names are chosen by us, never by the broker (see unique_queue_name)")
        if name in self._queues:
            return name
        spec = _QueueSpec(name, exclusive=exclusive, auto_delete=auto_delete, durable=durable,
                          arguments=dict(arguments or {}))
        self._queues[name] = spec
        try:
            await self._on_link(f"declaring queue {name!r}", lambda link: self._queue_channel(link, spec),
                                bounded=True)
        except BaseException:
            if self._queues.get(name) is spec:
                del self._queues[name]
            raise
        return name

    async def _queue_channel(self, link: _Link, spec: _QueueSpec) -> aiormq.abc.AbstractChannel:
        """The queue's channel on ``link``; the first time (or after its channel closed) it opens
        one, declares the queue and applies its bindings and consumers from the registry."""
        channel = link.channels.get(spec.name)
        if channel is not None and not channel.is_closed:
            return channel
        pending = link.opening.get(spec.name)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        link.opening[spec.name] = pending
        try:
            channel = await self._declare_queue_on(link, spec)
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()             # retrieved: waiters get it, nobody else should see a warning
            raise
        else:
            pending.set_result(channel)
            return channel
        finally:
            link.opening.pop(spec.name, None)

    async def _declare_queue_on(self, link: _Link, spec: _QueueSpec) -> aiormq.abc.AbstractChannel:
        old = link.channels.pop(spec.name, None)
        if old is not None:
            link.consuming.difference_update(spec.consumers)
        channel = await link.conn.channel(publisher_confirms=False)
        try:
            await channel.queue_declare(spec.name, durable=spec.durable, exclusive=spec.exclusive,
                                        auto_delete=spec.auto_delete, arguments=spec.arguments)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise BusError(f"queue {spec.name!r} exists with other arguments: {exc}") from exc
        for exchange in list(spec.bindings.values()):
            await self._ensure_exchange(link, exchange)
        for (exchange_name, key) in list(spec.bindings):
            await channel.queue_bind(spec.name, exchange_name, routing_key=key)
        for consumer in list(spec.consumers.values()):
            await self._start_consumer(link, channel, consumer)
        link.channels[spec.name] = channel
        channel.on_consumer_cancel_callbacks.add(functools.partial(self._on_cancelled, link, spec.name))
        channel.closing.add_done_callback(functools.partial(self._on_channel_closed, link, spec.name, channel))
        return channel

    def _spec(self, queue: str) -> _QueueSpec:
        try:
            return self._queues[queue]
        except KeyError:
            raise BusError(f"queue {queue!r} was not declared through this transport") from None

    async def delete_queue(self, name: str) -> None:
        spec = self._queues.pop(name, None)
        if spec is None:
            return
        for tag in spec.consumers:
            self._consumers.pop(tag, None)
        link = self._link
        if link is None or not link.alive:
            return                          # gone with the connection, or never declared on the next one
        channel = link.channels.pop(name, None)
        link.consuming.difference_update(spec.consumers)
        batch = link.acks.pop(name, None)
        if batch is not None:
            batch.close()                   # the queue goes with its messages
        if channel is None or channel.is_closed:
            return
        try:
            await self._quietly(f"deleting queue {name!r}", channel.queue_delete(name))
        finally:
            if not channel.is_closed:
                await self._quietly(f"closing the channel of {name!r}", channel.close())

    # -- bindings ----------------------------------------------------------------------------------------

    async def bind(self, queue: str, exchange: Exchange, routing_key: str) -> None:
        spec = self._spec(queue)
        key = (exchange.name, routing_key)
        known = key in spec.bindings
        spec.bindings[key] = exchange

        async def bind_on(link: _Link) -> None:
            await self._ensure_exchange(link, exchange)
            await self._queue_channel(link, spec)           # the queue is declared on this connection
            channel = await self._bindings_channel(link)
            try:
                await channel.queue_bind(queue, exchange.name, routing_key=routing_key)
            except aiormq.exceptions.ChannelNotFoundEntity:
                self._repair(link, queue)                   # the queue went under us: declare it again
                raise

        try:
            await self._on_link(f"binding {queue!r} to {exchange.name!r}", bind_on, bounded=True)
        except BaseException:
            if not known:
                spec.bindings.pop(key, None)
            raise

    async def unbind(self, queue: str, exchange: Exchange, routing_key: str) -> None:
        spec = self._queues.get(queue)
        if spec is None:
            return
        spec.bindings.pop((exchange.name, routing_key), None)
        link = self._link
        channel = link.channels.get(queue) if link is not None and link.alive else None
        if channel is None or channel.is_closed:
            return                          # not declared on this connection: the binding is gone already

        async def unbind_on() -> None:
            bindings = await self._bindings_channel(link)
            await bindings.queue_unbind(queue, exchange.name, routing_key=routing_key)

        await self._quietly(f"unbinding {queue!r}", unbind_on())

    async def _bindings_channel(self, link: _Link) -> aiormq.abc.AbstractChannel:
        """The channel that binds and unbinds queues already declared on ``link`` (per-call bindings).

        Not a queue's own channel: a bind or unbind given up (``REMOVAL_TIMEOUT_S``, or the hold
        of ``_on_link``) makes aiormq close the channel it was sent on, and on a queue's channel
        that stopped the queue's consumer and put every unacked event back.  This channel
        carries no deliveries; one that closed is opened again on next use.  Queues bind from
        any channel of the connection that declared them, exclusive ones included."""
        channel = link.bindings
        if channel is not None and not channel.is_closed:
            return channel
        async with link.bindings_opening:
            channel = link.bindings
            if channel is None or channel.is_closed:
                channel = link.bindings = await link.conn.channel(publisher_confirms=False)
            return channel

    # -- consumers ---------------------------------------------------------------------------------------

    async def consume(self, queue: str, handler: DeliveryHandler, *, prefetch: int = 64,
                      exclusive: bool = False) -> str:
        spec = self._spec(queue)
        self._tags += 1
        consumer = _ConsumerSpec(f"{self._name}.{self._tags}", queue, handler, prefetch, exclusive)
        spec.consumers[consumer.tag] = consumer
        self._consumers[consumer.tag] = consumer

        async def consume_on(link: _Link) -> None:
            channel = await self._queue_channel(link, spec)
            await self._start_consumer(link, channel, consumer)

        try:
            await self._on_link(f"consuming {queue!r}", consume_on, bounded=True)
        except BaseException:
            spec.consumers.pop(consumer.tag, None)
            self._consumers.pop(consumer.tag, None)
            raise
        return consumer.tag

    async def _start_consumer(self, link: _Link, channel: aiormq.abc.AbstractChannel,
                              consumer: _ConsumerSpec) -> None:
        if consumer.tag in link.consuming:
            return
        link.consuming.add(consumer.tag)
        try:
            await channel.basic_qos(prefetch_count=consumer.prefetch)
            await channel.basic_consume(consumer.queue,
                                        _deliveries_to(consumer.handler, self._acks_of(link, channel, consumer)),
                                        exclusive=consumer.exclusive, consumer_tag=consumer.tag)
        except BaseException:
            link.consuming.discard(consumer.tag)
            raise

    def _acks_of(self, link: _Link, channel: aiormq.abc.AbstractChannel,
                 consumer: _ConsumerSpec) -> AckBatch | None:
        """The batched acks of an exclusive queue's channel (``services.bus.acks``); None for a
        shared queue, whose messages are acked one by one (another consumer may take them)."""
        spec = self._queues.get(consumer.queue)
        if spec is None or not spec.exclusive:
            return None
        batch = link.acks.get(consumer.queue)
        if batch is None or batch.channel is not channel:
            if batch is not None:
                batch.close()
            batch = link.acks[consumer.queue] = AckBatch(channel, limit=consumer.prefetch // 4, settle=_settle)
        return batch

    async def cancel(self, consumer_tag: str) -> None:
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is None:
            return
        spec = self._queues.get(consumer.queue)
        if spec is not None:
            spec.consumers.pop(consumer_tag, None)
        link = self._link
        if link is None or not link.alive or consumer_tag not in link.consuming:
            return
        link.consuming.discard(consumer_tag)
        channel = link.channels.get(consumer.queue)
        if channel is not None and not channel.is_closed:
            batch = link.acks.get(consumer.queue)
            if batch is not None and batch.channel is channel:
                await batch.flush()
            await self._quietly(f"cancelling {consumer_tag}", channel.basic_cancel(consumer_tag))

    # -- a queue lost while the connection lives on -----------------------------------------------------

    def _on_cancelled(self, link: _Link, queue: str, frame: Any) -> None:
        """The broker cancelled a consumer: its queue was deleted, e.g. with the node it lived on."""
        if self._closing or link is not self._link or not link.alive:
            return
        spec = self._queues.get(queue)
        tag = getattr(frame, "consumer_tag", None)
        if spec is None or tag not in spec.consumers:
            return
        log.warning("the broker cancelled the consumer of %s (its queue is gone, with its node?); "
                    "declaring the queue again", queue)
        self._repair(link, queue)

    def _on_channel_closed(self, link: _Link, queue: str, channel: aiormq.abc.AbstractChannel,
                           closing: asyncio.Future) -> None:
        reason = "" if closing.cancelled() or closing.exception() is None else _reason(closing.exception())
        if self._closing or link is not self._link or not link.alive or link.channels.get(queue) is not channel:
            return
        if queue not in self._queues:
            return
        log.warning("the channel of queue %s closed (%s); declaring the queue again", queue, reason or "closed")
        self._repair(link, queue)

    def _repair(self, link: _Link, queue: str) -> None:
        async def repair() -> None:
            spec = self._queues.get(queue)
            if spec is None or link is not self._link:
                return
            old = link.channels.pop(queue, None)
            link.consuming.difference_update(spec.consumers)
            if old is not None and not old.is_closed:
                await old.close()
            # a queue process left without its record (see _verify_queues) deletes the record of
            # its name when its consumer goes: let it go before declaring the queue again
            await asyncio.sleep(0.2)
            try:
                await self._queue_channel(link, spec)
            except Exception as exc:
                if link is self._link and link.alive:
                    log.error("declaring queue %s again failed: %s", queue, _reason(exc))

        self._spawn(repair(), name=f"amqp-repair-{queue}")

    # -- publishing ---------------------------------------------------------------------------------------

    async def publish(self, exchange: Exchange, routing_key: str, body: bytes, *,
                      headers: Mapping[str, Any] | None = None, content_type: str = "application/json",
                      content_encoding: str | None = None, mandatory: bool = False,
                      timestamp_us: int | None = None, wait_for_confirm: bool = True) -> None:
        # The frame properties aio-pika's Message would put on the wire (transient, priority 0, a
        # headers table), built directly: its Message object costs more than the rest of a publish.
        properties = aiormq.spec.Basic.Properties(
            content_type=content_type, content_encoding=content_encoding,
            headers=dict(headers) if headers else {}, delivery_mode=1, priority=0)

        async def publish_on(link: _Link) -> None:
            if exchange not in link.exchanges:
                await self._ensure_exchange(link, exchange)    # declared once; a reconnect re-declares it
            if not mandatory:
                assert link.outbox is not None
                await link.outbox.publish(exchange.name, routing_key, body, properties)
                return
            assert link.confirm is not None
            if link.confirm.is_closed:
                raise aiormq.exceptions.ChannelInvalidStateError(f"{link.confirm!r} closed")
            try:
                result = await link.confirm.basic_publish(body, exchange=exchange.name, routing_key=routing_key,
                                                          properties=properties, mandatory=True)
            except aiormq.exceptions.PublishError as exc:
                raise Unroutable(exchange.name, routing_key) from exc
            if isinstance(result, DeliveredMessage):
                raise Unroutable(exchange.name, routing_key)

        what = f"publish to {exchange.name!r}"
        if wait_for_confirm or mandatory:
            await self._on_link(what, publish_on)
            return
        if self._closing:
            raise BusError(f"{what}: transport closed")
        loop = asyncio.get_running_loop()
        link = self._link
        if (self._held is None and link is not None and link.alive and exchange in link.exchanges
                and link.outbox is not None and not link.outbox.channel.is_closed):
            # queued on the channel now, in the order of the calls; when its confirm does not come
            # (the connection was lost first, or a nack), _after_confirm sends the message again
            task = link.outbox.send(exchange.name, routing_key, body, properties)
            self._unconfirmed.add(task)
            task.add_done_callback(functools.partial(self._after_confirm, link, what, publish_on))
            return
        # No connection, or the exchange not declared on it yet: the message waits in a task of its
        # own, each behind the one before (self._held is the last of them), so the order holds.
        before, mine = self._held, loop.create_future()
        self._held = mine

        def release() -> None:
            if not mine.done():
                mine.set_result(None)
            if self._held is mine:
                self._held = None

        async def queued_then_confirmed(link: _Link) -> None:
            if exchange not in link.exchanges:
                await self._ensure_exchange(link, exchange)
            assert link.outbox is not None
            task = link.outbox.send(exchange.name, routing_key, body, properties)
            release()
            await task

        async def later() -> None:
            try:
                if before is not None:
                    await before
                await self._on_link(what, queued_then_confirmed)
            finally:
                release()

        self._track(loop.create_task(later(), name=f"amqp-held-{exchange.name}"))

    def _after_confirm(self, link: _Link, what: str, publish_on: Callable[[_Link], Awaitable[None]],
                       task: asyncio.Task) -> None:
        """A publish not waited for ended: nothing to do on its confirm; otherwise it is sent again
        through ``_on_link`` (which waits for the connection) when ``_on_link`` would have retried it."""
        self._unconfirmed.discard(task)
        exc: BaseException | None = asyncio.CancelledError() if task.cancelled() else task.exception()
        if exc is None:
            return
        if self._closing:
            log.debug("%s: not confirmed before the transport closed (%s)", what, _reason(exc))
            return
        lost = isinstance(exc, (asyncio.CancelledError, BusError)) or _worth_resending(exc)
        if not lost and link.alive and link is self._link:
            log.error("%s failed: %s", what, _reason(exc))
            return
        self._track(asyncio.get_running_loop().create_task(self._on_link(what, publish_on),
                                                           name=f"amqp-resend-{what}"))

    def _track(self, task: asyncio.Task) -> None:
        self._unconfirmed.add(task)
        task.add_done_callback(self._unconfirmed.discard)
        task.add_done_callback(_log_failure)


async def _exchange_declare(channel: aiormq.abc.AbstractChannel, exchange: Exchange) -> None:
    await channel.exchange_declare(exchange.name, exchange_type=exchange.type, durable=exchange.durable,
                                   auto_delete=exchange.auto_delete, internal=exchange.internal)


def _deliveries_to(handler: DeliveryHandler,
                   batch: AckBatch | None = None) -> Callable[[DeliveredMessage], Awaitable[None]]:
    async def on_message(message: DeliveredMessage) -> None:
        # Acks and rejects go on the channel the message came on (see _settle), batched on an
        # exclusive queue's channel (see services.bus.acks).
        channel, delivery = message.channel, message.delivery
        tag = delivery.delivery_tag
        properties = message.header.properties
        if batch is not None and batch.channel is channel:
            ack = functools.partial(batch.ack, tag)
            reject = functools.partial(batch.reject, tag)
        else:
            ack = functools.partial(_settle, channel.basic_ack, tag)
            reject = functools.partial(_settle_reject, channel, tag)
        await handler(Delivery(
            body=message.body,
            headers=properties.headers or {},
            content_type=properties.content_type,
            content_encoding=properties.content_encoding,
            exchange=delivery.exchange or "",
            routing_key=delivery.routing_key or "",
            redelivered=bool(delivery.redelivered),
            _ack=ack,
            _reject=reject,
        ))
    return on_message


async def _settle_reject(channel: aiormq.abc.AbstractChannel, tag: int, requeue: bool = False) -> None:
    await _settle(channel.basic_reject, tag, requeue=requeue)


def _worth_resending(exc: BaseException) -> bool:
    """A failure that sending again may cure: the connection or channel went, or the broker nacked
    (a queue the message was routed to died with its node); not a refusal such as a return."""
    return isinstance(exc, _LOST) or (isinstance(exc, aiormq.exceptions.DeliveryError)
                                      and not isinstance(exc, aiormq.exceptions.PublishError))


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())
