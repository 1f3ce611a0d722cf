"""config_svc on the real broker: a running service, its store, and a probe that talks to it.

* ``store``   -- an in-memory document store with ``system_config`` created;
* ``start_config_svc(**options)`` -- starts config_svc (node ``config_svc@test``,
  zone ``local``) on this run's vhost with that store; stopped at teardown;
* ``probe``   -- one queue bound to ``targeted`` under its own name and to
  ``configuration`` with ``#`` (config.md 7's observation point), so tests see
  replies and events in arrival order; it can send valid requests or raw bodies.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import orjson
import pytest

from services.bus import Bus
from services import exchanges as x
from services.bus.amqp import AmqpTransport
from services.messages.validation import Validator
from services.runtime import ServiceContext
from services.settings import Settings
from services.store import layout
from services.store.memory import MemoryStore

CONFIG_NODE = "config_svc@test"
ZONE = "local"


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator(Settings().schema_dir)


@pytest.fixture
async def store():
    s = MemoryStore()
    await s.create_db(layout.SYSTEM_CONFIG_DB)
    yield s
    await s.close()


@pytest.fixture
async def start_config_svc(amqp_url, store):
    from config_svc.app import build
    started = []

    async def start(*, node: str = CONFIG_NODE, zone: str = ZONE, locked: bool = False, store_=None):
        settings = Settings(amqp_url=amqp_url, node=node, zone=zone)
        context = ServiceContext(settings, store=store_ or store)
        service = build(context, locked=locked)
        await service.start()
        started.append((service, context))
        return service

    yield start
    for service, context in reversed(started):
        await service.stop(2.0)
        await context.close()


@pytest.fixture
async def config_svc(start_config_svc):
    return await start_config_svc()


class Probe:
    """A test client: one queue on ``targeted`` (its name) and on ``configuration`` (``#``)."""

    def __init__(self, bus: Bus, queue: str) -> None:
        self.bus = bus
        self.queue = queue
        self.received: list[tuple[str, str, dict]] = []   # (exchange, routing key, body), arrival order
        self._arrived = asyncio.Condition()

    async def start(self) -> "Probe":
        t = self.bus.transport
        await t.declare_queue(self.queue, exclusive=True, auto_delete=True)
        await t.bind(self.queue, x.TARGETED, self.queue)
        await t.bind(self.queue, x.CONFIGURATION, "#")

        async def on_delivery(delivery) -> None:
            body = orjson.loads(delivery.body)
            async with self._arrived:
                self.received.append((delivery.exchange, delivery.routing_key, body))
                self._arrived.notify_all()
            await delivery.ack()

        await t.consume(self.queue, on_delivery, exclusive=True)
        return self

    # -- sending -----------------------------------------------------------------------

    def envelope(self, name: str, **fields: Any) -> dict:
        body = {"Event-Category": "sysconf", "Event-Name": name, "App-Name": "probe", "App-Version": "1.0.0",
                "Msg-ID": uuid.uuid4().hex, "Node": "probe@test", "Server-ID": self.queue}
        body.update(fields)
        return {k: v for k, v in body.items() if v is not _DROP}

    async def send_raw(self, body: dict, routing_key: str | None = None) -> dict:
        key = routing_key or {"get_req": x.SYSCONF_GET_KEY, "set_req": x.SYSCONF_SET_KEY,
                              "flush_req": x.SYSCONF_FLUSH_KEY}.get(body.get("Event-Name"), "sysconf.get")
        await self.bus.transport.publish(x.SYSCONF, key, orjson.dumps(body))
        return body

    async def get(self, category: str, key: Any, **fields: Any) -> dict:
        sent = await self.send_raw(self.envelope("get_req", Category=category, Key=key, **fields))
        return await self.reply_to(sent)

    async def set(self, category: str, key: Any, value: Any, **fields: Any) -> dict:
        sent = await self.send_raw(self.envelope("set_req", Category=category, Key=key, Value=value, **fields))
        return await self.reply_to(sent)

    # -- receiving ---------------------------------------------------------------------

    def replies(self) -> list[dict]:
        return [body for ex, _, body in self.received if ex == x.TARGETED.name]

    def events(self) -> list[tuple[str, dict]]:
        return [(key, body) for ex, key, body in self.received if ex == x.CONFIGURATION.name]

    async def wait_for(self, predicate, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        async with self._arrived:
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("nothing matching arrived in time")
                try:
                    await asyncio.wait_for(self._arrived.wait(), left)
                except asyncio.TimeoutError:
                    pass

    async def reply_to(self, sent: dict, timeout: float = 5.0) -> dict:
        item = await self.wait_for(lambda i: i[0] == x.TARGETED.name and i[2].get("Msg-ID") == sent["Msg-ID"],
                                   timeout)
        return item[2]

    async def event(self, routing_key: str, timeout: float = 5.0) -> dict:
        item = await self.wait_for(lambda i: i[0] == x.CONFIGURATION.name and i[1] == routing_key, timeout)
        return item[2]

    async def quiet(self, seconds: float = 0.3) -> None:
        """Let anything in flight arrive (for "nothing was sent" checks)."""
        await asyncio.sleep(seconds)


_DROP = object()
DROP = _DROP
"""Pass as a field value to leave a header out of ``Probe.envelope``."""


@pytest.fixture
async def probe(amqp_url, validator):
    bus = Bus(AmqpTransport(amqp_url), validator, app_name="probe", node="probe@test")
    await bus.start()
    p = await Probe(bus, f"config-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}").start()
    yield p
    await bus.close()


async def put_doc(store, db: str, doc: dict) -> dict:
    """Create or replace a document directly in the store (no event)."""
    if not await store.db_exists(db):
        await store.create_db(db)
    return await store.put_over(db, doc)


async def system_doc(store, category: str, **sections: Any) -> dict:
    return await put_doc(store, layout.SYSTEM_CONFIG_DB, {"_id": category, "pvt_type": "config", **sections})


async def get_doc(store, db: str, doc_id: str) -> dict | None:
    try:
        return await store.get(db, doc_id)
    except Exception:
        return None
