"""AmqpTransport losing its connection, on the real broker: the broker list, the reconnect,
the topology declared again, publishes and declarations held during the outage.

The outages are made without disturbing the shared broker: the transport reaches it through
loopback proxies of the test's own (``tests.support.tcp_proxy``) that are cut and restored,
or the broker is asked to close one named connection.  The loss of a real cluster node is in
``tests/integration/reliability/test_node_loss.py`` (slow suite).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import urllib.parse

import pytest

from services.bus import BrokerUnavailable, Bus
from services import exchanges as x
from services.bus.amqp import AmqpTransport
from services.bus.transport import Delivery
from services.messages.validation import Validator
from services.metrics import Metrics
from services.runtime import ServiceContext
from services.settings import Settings
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


class Inbox:
    """Deliveries of one queue, by routing key."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.arrived = asyncio.Event()

    async def __call__(self, delivery: Delivery) -> None:
        self.keys.append(delivery.routing_key)
        self.arrived.set()
        await delivery.ack()

    async def wait_for(self, key: str, timeout: float = 10.0) -> None:
        async def seen() -> None:
            while key not in self.keys:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(seen(), timeout)


async def listening(transport: AmqpTransport, *keys: str) -> tuple[str, Inbox]:
    """An exclusive queue of the transport's own, bound to ``callevt`` with ``keys``, consumed."""
    inbox = Inbox()
    queue = await transport.declare_queue(f"rc-{secrets.token_hex(4)}", exclusive=True)
    for key in keys:
        await transport.bind(queue, x.CALLEVT, key)
    await transport.consume(queue, inbox)
    return queue, inbox


def _dead_url(amqp_url: str) -> str:
    """The broker URL with a port nobody listens on."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    parts = urllib.parse.urlsplit(amqp_url)
    netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
async def proxies(amqp_url):
    parts = urllib.parse.urlsplit(amqp_url)
    made: list[TcpProxy] = []

    async def make() -> TcpProxy:
        proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        await proxy.close()


@pytest.fixture
async def transports():
    opened: list[AmqpTransport] = []

    def make(urls, **options) -> AmqpTransport:
        transport = AmqpTransport(urls, connection_name=f"reconnect-test-{secrets.token_hex(3)}", **options)
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        await transport.close()


async def _reconnected(transport: AmqpTransport, timeout: float = 15.0) -> int:
    """Wait for the next reconnection; returns how many the transport has made."""
    done = asyncio.Event()
    remove = transport.on_reconnect(done.set)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        remove()
    return transport.reconnects


async def _proxied_and_listened(amqp_url, proxies, transports, key: str):
    """A transport through a proxy the test can cut, and a direct one with an inbox of ``key``."""
    proxy = await proxies()
    transport = transports(proxy.url(amqp_url), reconnect_interval=0.2, reconnect_max_interval=0.5)
    await transport.connect()
    listener = transports(amqp_url)
    await listener.connect()
    _, inbox = await listening(listener, key)
    return proxy, transport, listener, inbox


async def test_connects_to_the_first_broker_of_the_list_that_answers(amqp_url, transports, caplog):
    caplog.set_level(logging.INFO, logger="services.bus.amqp")
    dead = _dead_url(amqp_url)
    transport = transports(f"{dead}, {amqp_url}")
    await transport.connect()
    real = urllib.parse.urlsplit(amqp_url)
    assert transport.node == f"{real.hostname}:{real.port or 5672}"
    lines = [r.getMessage() for r in caplog.records if r.name == "services.bus.amqp"]
    assert any("connected to the broker at" in line and "(node 2 of 2)" in line for line in lines), lines
    assert not any("guest:guest" in line for line in lines)


async def test_no_broker_of_the_list_answering_is_one_error_naming_each(amqp_url, transports):
    first, second = _dead_url(amqp_url), _dead_url(amqp_url)
    transport = transports([first, second], connect_timeout=3)
    with pytest.raises(BrokerUnavailable) as failed:
        await transport.connect()
    text = str(failed.value)
    for url in (first, second):
        parts = urllib.parse.urlsplit(url)
        assert f"127.0.0.1:{parts.port}" in text
    assert "guest:guest" not in text


async def test_after_a_lost_connection_every_queue_binding_and_consumer_is_back_before_listeners_hear(
        amqp_url, proxies, transports):
    proxy = await proxies()
    transport = transports(proxy.url(amqp_url))
    await transport.connect()
    sender = transports(amqp_url)
    await sender.connect()
    queue, inbox = await listening(transport, "call.*.before")
    await transport.bind(queue, x.CALLEVT, "call.*.per-call")        # added at run time, like a call's events
    await transport.bind(queue, x.CALLEVT, "call.*.dropped")

    heard: list[tuple[bool, int]] = []
    transport.on_reconnect(lambda: heard.append((transport.is_connected, transport.reconnects)))
    await proxy.cut()
    await transport.unbind(queue, x.CALLEVT, "call.*.dropped")       # removed while disconnected
    await proxy.restore()
    assert await _reconnected(transport) == 1
    assert heard == [(True, 1)]

    for key in ("call.E.before", "call.E.per-call", "call.E.dropped", "call.E.after"):
        await sender.publish(x.CALLEVT, key, b"{}")
    await inbox.wait_for("call.E.per-call")
    await asyncio.sleep(0.3)
    assert inbox.keys == ["call.E.before", "call.E.per-call"]


async def test_a_publish_and_a_binding_made_during_the_outage_wait_for_the_connection(
        amqp_url, proxies, transports):
    proxy, transport, listener, inbox = await _proxied_and_listened(amqp_url, proxies, transports, "call.*.held")
    own, mine = await listening(transport)

    await proxy.cut()
    await asyncio.sleep(0.2)
    publish = asyncio.ensure_future(transport.publish(x.CALLEVT, "call.P.held", b"{}"))
    bind = asyncio.ensure_future(transport.bind(own, x.CALLEVT, "call.*.late"))
    await asyncio.sleep(1.5)
    assert not publish.done() and not bind.done()          # held, not failed
    await proxy.restore()
    await asyncio.wait_for(asyncio.gather(publish, bind), 15)
    await inbox.wait_for("call.P.held")
    await listener.publish(x.CALLEVT, "call.P.late", b"{}")
    await mine.wait_for("call.P.late")
    await asyncio.sleep(0.3)
    assert inbox.keys == ["call.P.held"]                    # once


async def test_publishes_not_waiting_for_their_confirm_keep_their_order_and_are_out_before_close(
        amqp_url, transports):
    transport = transports(amqp_url)
    await transport.connect()
    listener = transports(amqp_url)
    await listener.connect()
    _, inbox = await listening(listener, "call.*.ordered")
    keys = [f"call.{n:04d}.ordered" for n in range(300)]
    for key in keys:
        await asyncio.wait_for(transport.publish(x.CALLEVT, key, b"{}", wait_for_confirm=False), 1)
    await transport.close()                                  # right away: close waits for them
    await inbox.wait_for(keys[-1])
    await asyncio.sleep(0.2)
    assert inbox.keys == keys                                # all, once each, in order


async def test_a_publish_not_waiting_for_its_confirm_returns_at_once_and_goes_out_after_the_outage(
        amqp_url, proxies, transports):
    proxy, transport, _, inbox = await _proxied_and_listened(amqp_url, proxies, transports, "call.*.later")

    await proxy.cut()
    await asyncio.sleep(0.2)
    keys = [f"call.{n}.later" for n in range(5)]
    for key in keys:          # the caller is not held: the message waits for the connection instead
        await asyncio.wait_for(transport.publish(x.CALLEVT, key, b"{}", wait_for_confirm=False), 0.5)
    await asyncio.sleep(1.0)
    assert inbox.keys == []
    await proxy.restore()
    await inbox.wait_for(keys[-1], timeout=15)
    await asyncio.sleep(0.3)
    assert inbox.keys == keys


async def test_a_publish_held_longer_than_publish_wait_fails_clearly(amqp_url, proxies, transports):
    proxy = await proxies()
    transport = transports(proxy.url(amqp_url), publish_wait=1.0, reconnect_interval=0.2)
    await transport.connect()
    await proxy.cut()
    with pytest.raises(BrokerUnavailable, match="no broker connection for 1 s"):
        await asyncio.wait_for(transport.publish(x.CALLEVT, "call.P.lost", b"{}"), 10)


async def test_the_lost_node_is_tried_last_and_backoff_rounds_are_logged(amqp_url, proxies, transports, caplog):
    caplog.set_level(logging.INFO, logger="services.bus.amqp")
    first, second = await proxies(), await proxies()
    transport = transports([first.url(amqp_url), second.url(amqp_url)], reconnect_interval=0.2,
                           reconnect_max_interval=0.4)
    await transport.connect()
    assert transport.node == f"127.0.0.1:{first.port}"
    await first.cut()
    assert await _reconnected(transport) == 1
    assert transport.node == f"127.0.0.1:{second.port}"
    assert first.accepted == 1                   # the lost node was not asked again: the next one answered

    await second.cut()                           # now neither answers, for a while
    await asyncio.sleep(1.5)
    await first.restore()
    assert await _reconnected(transport) == 2
    assert transport.node == f"127.0.0.1:{first.port}"
    rounds = [r.getMessage() for r in caplog.records if "no broker of 2 answered" in r.getMessage()]
    assert len(rounds) >= 2, rounds


async def test_a_queue_deleted_under_a_live_connection_is_declared_again(amqp_url, transports):
    """The broker cancels the consumers of a queue that is gone (a shared queue whose node died,
    while our connection is to another node): the transport declares it again and consumes."""
    transport = transports(amqp_url)
    await transport.connect()
    other = transports(amqp_url)
    await other.connect()
    inbox = Inbox()
    shared = f"rc-shared-{secrets.token_hex(4)}"
    await transport.declare_queue(shared, exclusive=False, auto_delete=True)
    await transport.bind(shared, x.KAPPS, "callflow.action.rc")
    await transport.consume(shared, inbox)
    await other.declare_queue(shared, exclusive=False, auto_delete=True)
    await other.delete_queue(shared)

    async def delivered() -> None:
        while "callflow.action.rc" not in inbox.keys:
            await other.publish(x.KAPPS, "callflow.action.rc", b"{}")
            await asyncio.sleep(0.2)
    await asyncio.wait_for(delivered(), 10)
    assert transport.reconnects == 0


async def test_runtime_metrics_name_the_node_in_use_and_count_reconnects(amqp_url, broker):
    settings = Settings.from_env({"KZ_AMQP_URL": f"{_dead_url(amqp_url)} {amqp_url}", "KZ_STORE_URL": "memory://",
                                  "KZ_NODE": "kzvoice@reconnect-test"})
    context = ServiceContext(settings)
    try:
        bus = await context.bus("metricsprobe")
        rendered = context.metrics.render().decode()
        real = urllib.parse.urlsplit(amqp_url)
        node = f"{real.hostname}:{real.port or 5672}"
        assert (f'kzvoice_broker_node_info{{connection="metricsprobe@kzvoice@reconnect-test",node="{node}"}} 1.0'
                in rendered), rendered
        if broker.admin.close_connections(broker.vhost, "metricsprobe@kzvoice@reconnect-test") != 1:
            pytest.fail("the broker did not list the test's connection")
        await _reconnected(bus.transport)
        assert context.metrics.broker_reconnects._value.get() == 1
    finally:
        await context.close()


async def test_bus_consumers_stay_ready_across_a_reconnect(amqp_url, proxies):
    proxy = await proxies()
    bus = Bus(AmqpTransport(proxy.url(amqp_url)), Validator(), app_name="ready", node="ready@test",
              metrics=Metrics())
    await bus.start()
    try:
        consumer = await bus.consumer(f"rc-ready-{secrets.token_hex(4)}", exclusive=True)
        await consumer.start()
        assert bus.ready
        await proxy.cut()
        for _ in range(100):
            if not bus.ready:
                break
            await asyncio.sleep(0.02)
        assert not bus.ready                      # /readyz says so while the connection is away
        await proxy.restore()
        await _reconnected(bus.transport)
        assert bus.ready
    finally:
        await bus.close()


async def test_a_queue_that_vanishes_soon_after_a_reconnect_is_declared_again(amqp_url, proxies, transports):
    """A node that cleans up late after a lost node can delete a queue we already declared again
    under its name, without cancelling anything: a while after each reconnect the transport
    checks its queues (passive declarations) and declares a missing one again, bindings included."""
    proxy = await proxies()
    transport = transports(proxy.url(amqp_url), reconnect_interval=0.2)
    await transport.connect()
    other = transports(amqp_url)
    await other.connect()
    queue = await transport.declare_queue(f"rc-late-{secrets.token_hex(4)}", exclusive=False, auto_delete=True)
    await transport.bind(queue, x.CALLEVT, "call.*.late-cleanup")
    await proxy.cut()
    await proxy.restore()
    await _reconnected(transport)
    await other.declare_queue(queue, exclusive=False, auto_delete=True)
    await other.delete_queue(queue)                   # gone under the transport, no consumer to cancel
    await asyncio.sleep(2.0)                          # the checks run 0.2, 0.6 and 1.4 s after the reconnect
    inbox = Inbox()
    await transport.consume(queue, inbox)
    await other.publish(x.CALLEVT, "call.L.late-cleanup", b"{}")
    await inbox.wait_for("call.L.late-cleanup")
