"""The media service on the real broker, and a gateway that asks it for media (media.md 7).

* ``store`` -- an empty store of each backend (memory, SQLite, the CouchDB-API server);
  ``memory_store`` -- memory only, for behaviour that does not depend on the store;
* ``start_media(store, ...)`` -- starts "the media service" on this run's vhost: config_svc
  (once) and a voicemail_svc replica, which hosts the
  :class:`~services.media.responder.MediaResponder` and serves ``/media/`` on its upload
  listener (media.md 6.1);
* ``media`` -- that service on ``store`` with media.md 7's world seeded (:func:`seed_world`);
* ``gateway`` -- publishes media_req as ecallmgr does (own queue as ``Server-ID``, a
  fresh ``Msg-ID``), collects every reply, and GETs Stream-URLs with aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import pytest

from services.bus import Bus, open_transport
from services.config.client import ConfigClient
from services.media.endpoint import MediaEndpoint
from services.media.responder import MediaResponder
from services.media.seeding import prompt_document
from services.messages import catalogue as m
from services.messages.spec import Message
from services.messages.validation import Validator
from services.runtime import ServiceContext
from services.settings import Settings
from services.store import layout
from services.store.memory import MemoryStore
# the store suite's fixtures: ``store`` (each backend, empty) and the CouchDB-API server it needs

VALIDATOR = Validator()
REPO = Path(__file__).resolve().parents[3]
KAZOO_SCHEMAS = Path(os.environ.get("KZ_KAZOO_SCHEMAS") or REPO / ".." / "shared" / "kazoo-schemas")

A = "4fe69c5b61015084f1fe5684abc6e502"
A_DB = layout.account_db(A)
A_DB_ENCODED = layout.account_db(A, encoded=True)
MODB = layout.modb(A, 2024, 3)
MODB_ENCODED = layout.modb(A, 2024, 3, encoded=True)   # account%2F4f%2Fe6%2F9c5b...-202403
SYSTEM_MEDIA = "system_media"
START = 1_710_000_000.0                                  # the test clock's T


class Clock:
    """Unix time the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def audio_bytes(label: str, size: int = 600) -> bytes:
    """Recognisable bytes of ``size`` (B_G, S_EN, ...)."""
    return (label.encode() + b"|" + os.urandom(size))[:size]


@dataclass
class World:
    """media.md 7's givens."""

    s_en: bytes
    s_fr: bytes
    b_g: bytes
    b_m1: bytes
    greeting_id: str = "5f1d2a3b4c5d6e7f8a9b0c1d2e3f4a5b"
    m1_id: str = "202403-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    hex1: str = "8c7b6a5948372615f4e3d2c1b0a99887"

    @property
    def m1_attachment(self) -> str:
        return f"{self.hex1}.mp3"


async def put_account(store, account_id: str, **fields: Any) -> None:
    db = layout.account_db(account_id)
    await store.create_db(db)
    await store.create_db(layout.ACCOUNTS_DB)
    doc = layout.stamp({"_id": account_id, "name": f"account {account_id[:4]}", **fields}, pvt_type="account", db=db)
    await store.put(db, doc)
    await store.put(layout.ACCOUNTS_DB, dict(doc))


async def put_prompt(store, db: str, prompt_id: str, language: str, data: bytes, *, extension: str = ".wav",
                     **changes: Any) -> dict:
    doc = prompt_document(prompt_id, language=language, audio=data, extension=extension, description="test",
                          db=db)
    doc.update(changes)
    return await store.put(db, doc)


def inline(name: str, data: bytes, content_type: str) -> dict:
    return {name: {"content_type": content_type, "data": base64.b64encode(data).decode("ascii")}}


async def seed_world(store) -> World:
    world = World(s_en=audio_bytes("S_EN"), s_fr=audio_bytes("S_FR"), b_g=audio_bytes("B_G", 5000),
                  b_m1=audio_bytes("B_M1", 3000))
    for db in (SYSTEM_MEDIA, layout.SYSTEM_CONFIG_DB, MODB):
        await store.create_db(db)
    await put_account(store, A, pvt_reseller_id=A)            # its own reseller, no language
    await put_prompt(store, SYSTEM_MEDIA, "vm-person", "en-us", world.s_en)
    await put_prompt(store, SYSTEM_MEDIA, "vm-person", "fr", world.s_fr)
    greeting = {"_id": world.greeting_id, "name": "unavailable greeting", "media_source": "recording",
                "streamable": True, "_attachments": inline("greeting.mp3", world.b_g, "audio/mpeg")}
    await store.put(A_DB, layout.stamp(greeting, pvt_type="media", db=A_DB))
    message = {"_id": world.m1_id, "media_filename": world.m1_attachment, "source_id": "b0x",
               "metadata": {"folder": "new", "timestamp": 63877478400},
               "_attachments": inline(world.m1_attachment, world.b_m1, "audio/mpeg")}
    await store.put(MODB, layout.stamp(message, pvt_type="mailbox_message", db=MODB))
    return world


# --- stores -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory) -> Path:
    """One speech cache for the session: espeak-ng runs once per prompt per test run."""
    return tmp_path_factory.mktemp("prompt-cache")


@pytest.fixture
async def memory_store():
    store = MemoryStore()
    yield store
    await store.close()


# --- the media service --------------------------------------------------------------------


@dataclass
class MediaService:
    """One voicemail_svc replica, seen as the media service it hosts."""

    store: Any
    clock: Clock
    voicemail: Any          # voicemail_svc.app.VoicemailService

    @property
    def responder(self) -> MediaResponder:
        return self.voicemail.responder

    @property
    def endpoint(self) -> MediaEndpoint:
        return self.voicemail.media_endpoint

    @property
    def uploads(self):
        """Its upload listener, which also serves ``/media/``."""
        return self.voicemail.uploads

    @property
    def url(self) -> str:
        return self.voicemail.uploads.base_url

    @property
    def bus(self) -> Bus:
        return self.voicemail.bus

    @property
    def config(self) -> ConfigClient:
        return self.voicemail.deps.config

    @property
    def flushes(self) -> int:
        """How often the responder dropped what it remembered (configuration events)."""
        return self.responder.answers.flushes

    async def flushed_since(self, before: int, timeout: float = 5.0) -> None:
        """Wait until a configuration event has reached the responder after ``before``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.flushes <= before:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("no configuration event reached the media responder")
            await asyncio.sleep(0.01)


@pytest.fixture
async def start_media(amqp_url, tmp_path):
    """``await start_media(store, secret=..., clock=..., ttl_s=..., budget_s=...)`` -> a running
    voicemail_svc (media.md 6.1: it hosts the responder and the ``/media/`` routes) on this run's
    vhost; every one started is stopped at teardown.  config_svc runs once, on the first
    service's store.  Replicas started with the same ``secret`` share ``KZ_UPLOAD_SECRET``."""
    from config_svc.app import build as build_config
    from voicemail_svc.app import build as build_voicemail

    services: list[MediaService] = []
    cleanups: list[Callable[[], Awaitable[Any]]] = []

    def context_for(store, settings: Settings) -> ServiceContext:
        context = ServiceContext(settings, store=store)
        cleanups.append(context.close)     # a store given to the context stays the fixture's to close
        return context

    async def start(store, *, secret: str | None = "media-test-secret", clock: Clock | None = None,
                    ttl_s: int = 7200, budget_s: float = 1.5, config_store=None, **settings: Any) -> MediaService:
        """``config_store``: the store config_svc reads (default ``store``); ``settings``: more
        Settings fields (``media_responder=False``, ...)."""
        clock = clock or Clock()
        replica = len(services)
        config = Settings(amqp_url=amqp_url, node=f"voicemail@media-test-{replica}", upload_secret=secret or "",
                          http_host="127.0.0.1", media_url_ttl_s=ttl_s, **settings)
        context = context_for(store, config)
        if not services:
            config_store = config_store or store
            await config_store.create_db(layout.SYSTEM_CONFIG_DB)
            config_svc = build_config(context_for(config_store, config.with_(node="config@media-test")))
            await config_svc.start()
            cleanups.append(lambda: config_svc.stop(2.0))
        voicemail = build_voicemail(context, spool_dir=str(tmp_path / f"spool-{replica}"), resend_mwi=False,
                                    url_clock=clock, media_budget_s=budget_s)
        # stopped even when its start fails half-way (what it started is in its fields)
        cleanups.append(lambda: voicemail.stop(2.0))
        await voicemail.start()
        service = MediaService(store, clock, voicemail)
        services.append(service)
        return service

    yield start
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest.fixture
async def world(store) -> World:
    return await seed_world(store)


@pytest.fixture
async def media(start_media, store, world) -> MediaService:
    return await start_media(store)


# --- the gateway --------------------------------------------------------------------------


@dataclass
class Fetched:
    status: int
    headers: Any        # case-insensitive, as HTTP headers are
    body: bytes


class TestGateway:
    """Asks for media as ecallmgr does and fetches what it is told."""

    __test__ = False

    def __init__(self, bus: Bus, replies, http: aiohttp.ClientSession, kazoo) -> None:
        self.bus = bus
        self.replies = replies
        self.http = http
        self._kazoo = kazoo

    @property
    def server_id(self) -> str:
        return self.replies.name

    async def ask(self, media_name: str | None, *, settle: float = 0.3, timeout: float = 5.0,
                  server_id: str | None = "", **fields: Any) -> list[Message]:
        """Publish one media_req and return every reply to it: waits up to ``timeout`` for the
        first, then ``settle`` seconds for any more."""
        body = {"Event-Category": "media", "Event-Name": "media_req", "App-Name": "ecallmgr", "App-Version": "5.0.0",
                "Msg-ID": os.urandom(8).hex(), "Call-ID": "media-test-call", "Stream-Type": "new", **fields}
        if media_name is not None:
            body["Media-Name"] = media_name
        if server_id is not None:
            body["Server-ID"] = server_id or self.server_id
        body = {k: v for k, v in body.items() if v is not None}
        stream = self.replies.stream(body["Msg-ID"])
        try:
            # raw publish: the tests also send what our own publisher would refuse to build
            from services.bus import codec
            await self.bus.transport.publish(m.MEDIA_REQ.exchange, m.MEDIA_REQ_KEY, codec.encode(body))
            received: list[Message] = []
            try:
                received.append(await stream.next(timeout))
                while True:
                    received.append(await stream.next(settle))
            except asyncio.TimeoutError:
                pass
        finally:
            stream.close()
        for reply in received:
            assert reply["Msg-ID"] == body["Msg-ID"] and reply.get("Media-Name") == body.get("Media-Name")
            self._check_kazoo(reply)
        return received

    def _check_kazoo(self, reply: Message) -> None:
        validator = self._kazoo.get(f"kapi.media.{reply.spec.name}")
        if validator is not None:
            errors = [e.message for e in validator.iter_errors(reply.to_dict())]
            assert errors == [], f"{reply.spec.name} fails KAZOO's schema: {errors}"

    async def fetch(self, url: str, *, method: str = "GET", headers: dict | None = None) -> Fetched:
        async with self.http.request(method, url, headers=headers or {}) as response:
            return Fetched(response.status, response.headers.copy(), await response.read())

    async def stream_url(self, media_name: str) -> str:
        replies = await self.ask(media_name)
        assert [r.spec.name for r in replies] == ["media_resp"], [r.to_dict() for r in replies]
        return replies[0]["Stream-URL"]

    async def resolves_to(self, media_name: str, *, attachment: str, data: bytes,
                          content_type: str | None = None) -> Fetched:
        """media.md 7: exactly one media_resp, an http:// Stream-URL ending with the attachment's
        name, whose GET returns 200 with exactly ``data``."""
        url = await self.stream_url(media_name)
        assert url.startswith("http://") and url.endswith("/" + attachment), url
        fetched = await self.fetch(url)
        assert fetched.status == 200 and fetched.body == data
        if content_type is not None:
            assert fetched.headers["Content-Type"] == content_type
        return fetched

    async def answers(self, media_name: str, code: str, message: str) -> None:
        """media.md 7: exactly one media_error with these codes, and no media_resp."""
        replies = await self.ask(media_name)
        assert [(r.spec.name, r.get("Error-Code"), r.get("Error-Msg")) for r in replies] == \
            [("media_error", code, message)], [r.to_dict() for r in replies]


def _kazoo_validators() -> dict:
    if not KAZOO_SCHEMAS.is_dir():
        return {}
    from jsonschema import Draft4Validator
    return {name: Draft4Validator(json.loads((KAZOO_SCHEMAS / f"{name}.json").read_text()))
            for name in ("kapi.media.media_resp", "kapi.media.media_error")}


@pytest.fixture
async def gateway(amqp_url):
    bus = Bus(open_transport(amqp_url), VALIDATOR, app_name="ecallmgr", node="ecallmgr@test")
    await bus.start()
    replies = await bus.reply_queue("media-gateway")
    async with aiohttp.ClientSession() as http:
        yield TestGateway(bus, replies, http, _kazoo_validators())
    await bus.close()
