"""Whole-system set-ups for the reliability tests: accounts seeded the KAZOO way, one or more
replicas of every service (``Runtime`` instances in this process) on one broker and one store,
and the gateway simulator on a connection of its own.

``Site`` is one account: an owner (user + desk phone), a second caller (user + phone), a
voicemail box "3456" (PIN 1234) owned by the owner, and callflows:

* ``2000``  play ``/system_media/<tag>-welcome`` then hang up;
* ``3456``  voicemail compose into the box (``Data.id``);
* ``*97``   voicemail check of the box (``Data.id``);
* ``^\\*77(\\d+)$`` a pattern playing ``/system_media/<tag>-pattern``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway_sim import Endpoint, Gateway, GatewayConfig
from gateway_sim.seed import seed_account, seed_device, seed_user
from services.bus import Bus, open_transport
from services.messages.validation import Validator
from services.runtime import Runtime, ServiceContext
from services.settings import Settings
from services.store import layout

PIN = "1234"
MAILBOX = "3456"
# simulated seconds: at time_scale 0.01 a prompt plays 15 ms of real time
GATEWAY = dict(time_scale=0.01, route_timeout=1.0, post_hangup_linger=0.1, max_call_seconds=30.0)
FAST_CALL_COMMAND = {"collect_timeout": 400, "interdigit_timeout": 300}


def _hex() -> str:
    return secrets.token_hex(16)


@dataclass
class Site:
    tag: str
    account: str = field(default_factory=_hex)
    owner: str = field(default_factory=_hex)
    owner_device: str = field(default_factory=_hex)
    caller: str = field(default_factory=_hex)
    caller_device: str = field(default_factory=_hex)
    box: str = field(default_factory=_hex)
    cf_welcome: str = field(default_factory=_hex)
    cf_compose: str = field(default_factory=_hex)
    cf_check: str = field(default_factory=_hex)
    cf_pattern: str = field(default_factory=_hex)

    @property
    def realm(self) -> str:
        return f"{self.tag}.kzvoice.example"

    @property
    def db(self) -> str:
        return layout.account_db(self.account)

    def endpoint(self, *, owner: bool = False) -> Endpoint:
        if owner:
            return Endpoint(account_id=self.account, realm=self.realm, username=f"{self.tag}_owner",
                            caller_id_name="Owner", caller_id_number=MAILBOX, device_id=self.owner_device,
                            owner_id=self.owner)
        return Endpoint(account_id=self.account, realm=self.realm, username=f"{self.tag}_caller",
                        caller_id_name="Caller", caller_id_number="1001", device_id=self.caller_device,
                        owner_id=self.caller)


async def put(store, db: str, doc: dict[str, Any], pvt_type: str) -> dict[str, Any]:
    layout.stamp(doc, pvt_type=pvt_type, db=db)
    stored = await store.put_over(db, doc)
    doc["_rev"] = stored["_rev"]
    return stored


async def seed_site(store, site: Site) -> Site:
    await seed_account(store, site.account, realm=site.realm, name=site.tag, language="en-us")
    await seed_user(store, site.account, site.owner, first_name="Owner", last_name=site.tag)
    await seed_device(store, site.account, site.owner_device, username=f"{site.tag}_owner", owner_id=site.owner)
    await seed_user(store, site.account, site.caller, first_name="Caller", last_name=site.tag)
    await seed_device(store, site.account, site.caller_device, username=f"{site.tag}_caller",
                      owner_id=site.caller)
    await put(store, site.db, {"_id": site.box, "name": f"Box {site.tag}", "mailbox": MAILBOX, "pin": PIN,
                               "is_setup": True, "owner_id": site.owner}, "vmbox")
    hangup = {"module": "hangup", "data": {}}
    for doc in (
        {"_id": site.cf_welcome, "numbers": ["2000"], "patterns": [],
         "flow": {"module": "play", "data": {"id": f"/system_media/{site.tag}-welcome"}, "children": {"_": hangup}}},
        {"_id": site.cf_compose, "numbers": [MAILBOX], "patterns": [],
         "flow": {"module": "voicemail", "data": {"id": site.box}}},
        {"_id": site.cf_check, "numbers": ["*97"], "patterns": [],
         "flow": {"module": "voicemail", "data": {"action": "check", "id": site.box}}},
        {"_id": site.cf_pattern, "numbers": [], "patterns": [r"^\*77(\d+)$"],
         "flow": {"module": "play", "data": {"id": f"/system_media/{site.tag}-pattern"},
                  "children": {"_": hangup}}},
    ):
        await put(store, site.db, doc, "callflow")
    # what the simulator fetches through media_req + GET (media.md 6.6): the prompts and the site's media
    from testkit.media import seed_system_prompts
    await seed_system_prompts(store, extra=(f"{site.tag}-welcome", f"{site.tag}-pattern"))
    return site


async def set_system_config(store, category: str, values: dict[str, Any]) -> None:
    await store.create_db(layout.SYSTEM_CONFIG_DB)
    await put(store, layout.SYSTEM_CONFIG_DB, {"_id": category, "default": values}, "config")


async def seed_fast_site(store, tag: str) -> Site:
    """An initialised store with one ``Site`` and fast call-command timeouts."""
    site = Site(tag)
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    return await seed_site(store, site)


async def make_bus(url: str, app_name: str) -> Bus:
    bus = Bus(open_transport(url), Validator(), app_name=app_name, node=f"{app_name}@reliability")
    await bus.start()
    return bus


class Cluster:
    """``replicas`` Runtimes of every service on one broker (``amqp_url``: one URL or a cluster's
    list) and one store, and a gateway."""

    def __init__(self, amqp_url: str, store, tmp_path: Path, *, replicas: int = 1,
                 names: list[str] | None = None, gateway: dict[str, Any] | None = None,
                 gateway_amqp_url: str | None = None) -> None:
        self.amqp_url = amqp_url
        self.gateway_amqp_url = gateway_amqp_url or amqp_url    # the gateway may use another node first
        self.store = store
        self.tmp_path = tmp_path
        self.replicas = replicas
        self.names = names
        self.gateway_options = {**GATEWAY, **(gateway or {})}
        self.runtimes: list[Runtime] = []
        self.gateway: Gateway | None = None
        self.gateway_bus: Bus | None = None

    async def start(self) -> "Cluster":
        await self.store.init_db()
        for index in range(self.replicas):
            settings = Settings.from_env({
                "KZ_AMQP_URL": self.amqp_url, "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "0",
                "KZ_HTTP_HOST": "127.0.0.1", "KZ_NODE": f"kzvoice-{index}@reliability",
                "KZ_SPOOL_DIR": str(self.tmp_path / f"spool-{index}"), "KZ_DRAIN_SECONDS": "5"})
            runtime = Runtime(settings, self.names, context=ServiceContext(settings, store=self.store))
            await runtime.start()
            self.runtimes.append(runtime)
        self.gateway_bus = await make_bus(self.gateway_amqp_url, "freeswitch")
        self.gateway = Gateway(self.gateway_bus, self.store,
                               GatewayConfig(recording_dir=str(self.tmp_path / "recordings"),
                                             **self.gateway_options))
        await self.gateway.start()
        return self

    def service(self, index: int, name: str):
        return next(s for s in self.runtimes[index].services if s.name == name)

    def services(self, name: str) -> list:
        return [self.service(i, name) for i in range(len(self.runtimes))]

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.gateway_bus is not None:
            await self.gateway_bus.close()
        for runtime in reversed(self.runtimes):
            await runtime.stop()


async def wait_until(predicate, *, timeout: float = 10.0, what: str = "condition", step: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something true; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(step)


async def box_messages(store, account_id: str, box_id: str) -> list[dict]:
    found: list[dict] = []
    for name in await store.list_dbs():
        if layout.is_modb(name) and layout.to_account_id(name) == account_id:
            found += await store.vm_messages(name, box_id)
    return found


def carries_audio(doc: dict[str, Any]) -> bool:
    """A voicemail message written together with its audio: an inline ``_attachments`` entry."""
    return doc.get("pvt_type") == "mailbox_message" and any(
        isinstance(a, dict) and "data" in a for a in (doc.get("_attachments") or {}).values())


async def stored_messages(store, site: Site) -> list[dict]:
    """The messages of the site's box, once every one of them has its audio (else none)."""
    docs = await box_messages(store, site.account, site.box)
    return docs if docs and all(d.get("_attachments") for d in docs) else []


class Watcher:
    """Records MWI updates and voicemail notifications (with arrival times), and answers
    ``voicemail_new`` with ``notify_update`` ``completed`` as KAZOO's notification app does."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.seen: list[tuple[float, Any]] = []

    async def start(self) -> "Watcher":
        from services.bus import unique_queue_name
        from services.exchanges import NOTIFICATIONS, PRESENCE
        consumer = await self.bus.consumer(unique_queue_name("watch"), exclusive=True)
        await consumer.bind(PRESENCE, "mwi_updates.#")
        await consumer.bind(NOTIFICATIONS, "notifications.voicemail.*")
        consumer.on_any(self._keep)
        await consumer.start()
        return self

    async def _keep(self, message) -> None:
        from services.messages import catalogue as m
        self.seen.append((time.monotonic(), message))
        if message.spec.name == "voicemail_new" and message.server_id:
            await self.bus.publish(m.NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": "completed"},
                                   to=message.server_id)

    def named(self, name: str) -> list:
        return [msg for _, msg in self.seen if msg.spec.name == name]
