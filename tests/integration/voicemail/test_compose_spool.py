"""Never lose a recording (spec README, ours): the store fails while a message is saved; the
message is spooled and arrives once the store is back -- also across a restart of voicemail_svc."""

from __future__ import annotations

import asyncio

import pytest

from gateway_sim import Script
from services.store import layout
from services.store.interface import Conflict, Unavailable
from services.store.memory import MemoryStore
from voicemail_svc.app import build as build_voicemail
from tests.integration.voicemail.conftest import FAST_TIMERS

pytestmark = pytest.mark.integration


class FlakyStore(MemoryStore):
    """A memory store whose writes into monthly databases fail while ``down`` (as when the CouchDB
    server of the message databases is unreachable); reads and every other database keep working."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = 0

    def _check(self, db: str) -> None:
        if self.down and layout.is_modb(db):
            self.refused += 1
            raise Unavailable(f"{db}: store down (test)")

    async def put(self, db, doc):
        self._check(db)
        return await super().put(db, doc)

    async def put_attachment(self, db, doc_id, name, data, *, content_type, rev):
        self._check(db)
        return await super().put_attachment(db, doc_id, name, data, content_type=content_type, rev=rev)

    async def create_db(self, db):
        self._check(db)
        return await super().create_db(db)


def leave() -> Script:
    return Script().on_record_start(speak=2.0, press="1").on_prompt("vm-review_recording", press="1")


async def test_message_saved_while_the_store_is_down_arrives_when_it_is_back(vm_env, tmp_path):
    store = FlakyStore()
    env = await vm_env(store=store)
    store.down = True
    out = await env.place(script=leave())
    await env.settle()
    assert out.prompts[-2:] == ["vm-saved", "vm-thank_you"]
    assert store.refused > 0
    assert await env.messages() == []                              # nothing stored yet ...
    spooled = list((tmp_path / "spool").glob("*.audio"))
    assert len(spooled) == 1                                        # ... but kept on disk
    assert env.named("voicemail_new") == [] and env.named("mwi_update") == []
    audio = spooled[0].read_bytes()

    store.down = False
    await env.wait_until(lambda: _stored(env), timeout=10, what="the spooled message stored")
    [doc] = await env.messages()
    assert doc["media_filename"] in doc["_attachments"]
    assert await env.store.get_attachment(layout.modb_of_doc_id(env.ids.account, doc["_id"]), doc["_id"],
                                          doc["media_filename"]) == audio
    await env.wait_until(lambda: env.named("mwi_update"), what="MWI after the spooled message")
    assert env.named("voicemail_new")[0]["Voicemail-ID"] == doc["_id"]
    assert env.named("mwi_update")[-1]["Messages-New"] == 1
    assert list((tmp_path / "spool").glob("*")) == []               # the spool is empty again


async def _stored(env) -> bool:
    docs = await env.messages()
    return bool(docs) and all(d.get("_attachments") for d in docs)


async def test_spooled_message_survives_a_restart(vm_env, tmp_path):
    store = FlakyStore()
    env = await vm_env(store=store)
    store.down = True
    await env.place(script=leave())
    await env.settle()
    [spooled] = list((tmp_path / "spool").glob("*.audio"))
    audio = spooled.read_bytes()
    assert len(audio) > 44                                          # a WAV with samples

    # voicemail_svc stops with the message still spooled; the store comes back while it is down
    await env.voicemail.stop(2.0)
    env.services.remove(env.voicemail)
    assert spooled.exists()
    store.down = False
    assert await env.messages() == []

    restarted = build_voicemail(env.context, timers=FAST_TIMERS, upload_host="127.0.0.1", spool_retry_s=0.2,
                                check=env.check, resend_mwi=False)
    await restarted.start()
    env.voicemail = restarted
    env.services.append(restarted)
    await env.wait_until(lambda: _stored(env), timeout=10, what="the message stored after the restart")
    [doc] = await env.messages()
    assert await env.store.get_attachment(layout.modb_of_doc_id(env.ids.account, doc["_id"]), doc["_id"],
                                          doc["media_filename"]) == audio
    await env.wait_until(lambda: env.named("voicemail_new"), what="voicemail_new after the restart")
    assert not spooled.exists()


# ---- one write: the store fails or is slow in the middle of it ---------------------------------

class AnswerLosingStore(MemoryStore):
    """The first write into a monthly database is applied, but its answer is lost (the connection
    breaks after the server took the write, as when CouchDB goes away mid-request)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    async def put(self, db, doc):
        stored = await super().put(db, doc)
        if layout.is_modb(db) and not self.lost:
            self.lost += 1
            raise Unavailable(f"{db}: connection reset after the write (test)")
        return stored


class SlowStore(MemoryStore):
    """The first write into a monthly database takes ``delay`` seconds and is applied even when the
    writer stopped waiting for it (as a server applies a PUT whose client timed out)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.late: list[asyncio.Task] = []

    async def put(self, db, doc):
        if layout.is_modb(db) and self.delay:
            delay, self.delay = self.delay, 0.0

            async def late() -> dict:
                await asyncio.sleep(delay)
                return await MemoryStore.put(self, db, doc)

            self.late.append(asyncio.ensure_future(late()))
            return await asyncio.shield(self.late[-1])
        return await super().put(db, doc)


async def _stored_once(env, tmp_path) -> dict:
    """The message is stored once, with its audio, notified once; the spool is empty again."""
    await env.wait_until(lambda: _stored(env), timeout=10, what="the message stored")
    await env.wait_until(lambda: env.named("voicemail_new"), timeout=10, what="voicemail_new")
    await env.settle()
    await asyncio.sleep(0.5)                          # a second store or notification would show by now
    [doc] = await env.messages()
    assert list(doc["_attachments"]) == [doc["media_filename"]]
    assert [n["Voicemail-ID"] for n in env.named("voicemail_new")] == [doc["_id"]]
    assert env.named("mwi_update")[-1]["Messages-New"] == 1
    assert list((tmp_path / "spool").glob("*")) == []
    return doc


async def test_vm_057_the_store_fails_in_the_middle_of_the_write_the_message_is_stored_once(vm_env, tmp_path):
    store = AnswerLosingStore()
    env = await vm_env(store=store)
    out = await env.place(script=leave())
    assert out.prompts[-2:] == ["vm-saved", "vm-thank_you"]
    await _stored_once(env, tmp_path)
    assert store.lost == 1
    assert env.voicemail.deps.spool.stored_later == 1            # the retry found it stored and kept it


async def test_vm_057_a_slow_store_the_message_is_stored_once(vm_env, tmp_path):
    store = SlowStore(delay=1.0)
    env = await vm_env(store=store, spool_store_timeout_s=0.3)
    out = await env.place(script=leave())
    assert out.prompts[-2:] == ["vm-saved", "vm-thank_you"]
    doc = await _stored_once(env, tmp_path)
    # the slow write lands, or loses to the spool's retry: either way one message, notified once
    [late] = await asyncio.gather(*store.late, return_exceptions=True)
    assert isinstance(late, Conflict) or late["_id"] == doc["_id"]
    assert [m["_id"] for m in await env.messages()] == [doc["_id"]]
    assert len(env.named("voicemail_new")) == 1
