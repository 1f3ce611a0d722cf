"""The store becomes unavailable while a voicemail message is being saved.

Every service runs on the real broker with the embedded SQLite store in a file.  Just
before the caller finishes the recording, another connection takes the file with
``BEGIN EXCLUSIVE`` and holds it: every write of the services then fails after
SQLite's busy timeout (5 s), reads still work (WAL).  voicemail_svc must keep the
recording in its spool, announce nothing, and -- once the lock is released --
store the message with its audio, send ``voicemail_new`` and an MWI update whose
new-message count includes it, published after the audio was stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from gateway_sim import Script
from services.store import layout
from services.store.sqlite import SQLiteStore
from tests.support.reliability import (FAST_CALL_COMMAND, MAILBOX, Cluster, Site, Watcher, box_messages,
                                       carries_audio, make_bus, seed_site, set_system_config, wait_until)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class TimedStore(SQLiteStore):
    """Notes when each message written with its audio (one write, the audio inline) succeeded
    (monotonic clock)."""

    attached: list[tuple[float, str]]

    async def put(self, db, doc):
        stored = await super().put(db, doc)
        if carries_audio(doc):
            self.attached.append((time.monotonic(), doc["_id"]))
        return stored


async def test_message_saved_while_sqlite_is_locked_is_spooled_then_stored_and_mwi_follows(amqp_url, tmp_path):
    path = tmp_path / "store.sqlite3"
    store = await TimedStore.open(f"sqlite:///{path}")
    store.attached = []
    site = Site("locked")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    await seed_site(store, site)
    cluster = await Cluster(amqp_url, store, tmp_path).start()
    watcher = await make_bus(amqp_url, "watcher")
    watch = await Watcher(watcher).start()
    seen = watch.seen
    locker: sqlite3.Connection | None = None
    try:
        def lock() -> None:
            nonlocal locker
            locker = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            locker.execute("BEGIN EXCLUSIVE")


        # the caller speaks for 50 simulated seconds (0.5 s); the lock is taken as the recording starts
        script = Script().on_record_start(speak=50.0, press="1").on_prompt("vm-review_recording", press="1")
        call = await cluster.gateway.start_call(endpoint=site.endpoint(), dial=MAILBOX, script=script)
        await wait_until(lambda: call.control is not None and call.control.recording() is not None,
                         timeout=20, what="the recording", step=0.005)
        await asyncio.to_thread(lock)
        result = await call.finished(timeout=90)
        assert result.ok, result.summary()
        assert "vm-saved" in result.prompts

        voicemail = cluster.service(0, "voicemail")
        spool_dir = tmp_path / "spool-0"
        await wait_until(lambda: list(spool_dir.glob("*.audio")), timeout=30, what="the recording spooled")
        [spooled] = list(spool_dir.glob("*.audio"))
        audio = spooled.read_bytes()
        assert len(audio) > 44
        await asyncio.sleep(1.0)
        names = [msg.spec.name for _, msg in seen]
        assert "voicemail_new" not in names and "mwi_update" not in names, names
        assert store.attached == []

        released = time.monotonic()
        await asyncio.to_thread(locker.execute, "ROLLBACK")
        await asyncio.to_thread(locker.close)
        locker = None

        async def stored() -> bool:
            docs = await box_messages(store, site.account, site.box)
            return bool(docs) and all(d.get("_attachments") for d in docs)

        await wait_until(stored, timeout=30, what="the spooled message stored")
        voicemail = cluster.service(0, "voicemail")
        # the spool counts it once its files are removed, just after the write
        await wait_until(lambda: voicemail.deps.spool.stored_later, timeout=10, what="the spool to count it")
        [doc] = await box_messages(store, site.account, site.box)
        assert await store.get_attachment(layout.modb_of_doc_id(site.account, doc["_id"]), doc["_id"],
                                          doc["media_filename"]) == audio
        assert voicemail.deps.spool.stored_later == 1
        await wait_until(lambda: [m for _, m in seen if m.spec.name == "mwi_update"], timeout=15,
                         what="MWI after the message was stored")
        [(attached_at, attached_id)] = store.attached
        assert attached_id == doc["_id"] and attached_at >= released
        mwi = [(t, msg) for t, msg in seen if msg.spec.name == "mwi_update"]
        assert all(t >= attached_at for t, _ in mwi)
        assert mwi[-1][1]["Messages-New"] == 1
        new = [msg for _, msg in seen if msg.spec.name == "voicemail_new"]
        assert [n["Voicemail-ID"] for n in new] == [doc["_id"]]
        assert not list(spool_dir.glob("*"))
    finally:
        if locker is not None:
            locker.execute("ROLLBACK")
            locker.close()
        await watcher.close()
        await cluster.stop()
        await store.close()
        await store.close()
