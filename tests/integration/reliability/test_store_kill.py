"""The CouchDB-API server dies (``kill -9``) in the middle of saving a voicemail message.

The store is a pouchdb-server of the test's own, on disk in a temporary folder (it must be
killed and started again on its data, so ``KZ_TEST_COUCH_URL`` is not used here), reached
through ``CouchStore`` as in production.  Every service runs on the real broker.

A caller leaves a message.  The gateway uploads the recording; voicemail_svc writes the
message document with its audio in one write, and just before that write the server is killed.  While it is
down: a call whose callflow, device and account are cached is routed as usual; a call from
a phone callflow_svc has not seen needs the store and is not answered, and callflow_svc's log
says why.  The server is started again on the same data: the message must then be stored
once, with its audio, and ``voicemail_new`` and MWI sent once each, after it was stored.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from gateway_sim import Script
from services.store import layout
from services.store.couch import CouchStore
from testkit.couch import PouchDBServer, PouchDBServerError
from tests.support.reliability import (FAST_CALL_COMMAND, MAILBOX, Cluster, Site, Watcher, box_messages,
                                       carries_audio, make_bus, seed_site, set_system_config, stored_messages,
                                       wait_until)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOWN_S = 8.0          # longer than CouchStore's retries of one request (about 3 s), so the spool takes over


class KilledMidSave(CouchStore):
    """Once armed, kills the server when a message is about to be written with its audio (one
    write, the audio inline); notes when each such write succeeded."""

    server: PouchDBServer
    armed = False
    killed_at: float | None = None
    attached: list[tuple[float, str]]

    async def put(self, db, doc):
        audio = carries_audio(doc)
        if audio and self.armed and self.killed_at is None:
            self.killed_at = time.monotonic()
            await asyncio.to_thread(self.server.kill)
        stored = await super().put(db, doc)
        if audio:
            self.attached.append((time.monotonic(), doc["_id"]))
        return stored


@pytest.fixture
def pouch(tmp_path):
    server = PouchDBServer(data_dir=tmp_path / "couch")
    try:
        server.start()
    except PouchDBServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()
    assert server.pid is None


async def test_message_saved_while_the_store_is_killed_is_stored_once_when_it_returns(
        amqp_url, pouch, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    store = await KilledMidSave.open(pouch.url)
    store.server, store.attached = pouch, []
    site = Site("storekill")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    await seed_site(store, site)
    cluster = Cluster(amqp_url, store, tmp_path,
                      gateway=dict(time_scale=0.05, route_timeout=2.0, max_call_seconds=120))
    watcher_bus = None
    try:
        await cluster.start()
        watcher_bus = await make_bus(amqp_url, "watcher")
        watcher = await Watcher(watcher_bus).start()
        gateway = cluster.gateway
        # Warm up until a welcome call and a message left go by without a config read: callflow,
        # device and account are cached, and so are the settings (config_svc writes each missing
        # default back at first, which flushes the category in every client).
        clients = [cluster.service(0, name)._config_client for name in ("callflow", "voicemail")]
        left = 0
        for _ in range(8):
            asked = sum(c.stats.requests for c in clients)
            warm = await gateway.place_call(endpoint=site.endpoint(), dial="2000")
            assert warm.ok, warm.summary()
            short = Script().on_record_start(speak=1.0, press="1").on_prompt("vm-review_recording", press="1")
            message = await gateway.place_call(endpoint=site.endpoint(), dial=MAILBOX, script=short)
            assert message.ok and message.uploads, message.summary()
            left += 1
            await wait_until(lambda: watcher.named("mwi_update") and len(watcher.named("voicemail_new")) == left,
                             timeout=20, what="the warm-up message announced")
            if sum(c.stats.requests for c in clients) == asked:
                break
        else:
            pytest.fail("callflow and voicemail kept asking config_svc for settings on every call")
        await asyncio.sleep(0.5)
        warmed = {d["_id"] for d in await box_messages(store, site.account, site.box)}
        assert len(warmed) == left
        seen = len(watcher.seen)

        store.armed = True
        script = Script().on_record_start(speak=20.0, press="1").on_prompt("vm-review_recording", press="1")
        compose = await gateway.start_call(endpoint=site.endpoint(), dial=MAILBOX, script=script)
        await wait_until(lambda: store.killed_at is not None, timeout=60, what="the save to reach the audio")
        killed = store.killed_at

        cached = await gateway.place_call(endpoint=site.endpoint(), dial="2000")
        assert cached.ok and any(p.endswith("storekill-welcome") for p in cached.prompts), cached.summary()
        uncached = await gateway.place_call(endpoint=site.endpoint(owner=True), dial="2000")
        assert uncached.status == "rejected", uncached.summary()
        await wait_until(lambda: [r for r in caplog.records if r.name == "callflow_svc.route_req"
                                  and "the document store failed" in r.getMessage()],
                         timeout=30, what="callflow's log line saying why the call was not answered")

        result = await compose.finished(60)
        assert result.ok, result.summary()
        assert "vm-saved" in result.prompts                 # the caller is told it is saved: it is spooled
        spool_dir = tmp_path / "spool-0"
        spooled = await wait_until(lambda: list(spool_dir.glob("*.audio")), timeout=30,
                                   what="the recording in the spool")
        assert len(spooled) == 1, spooled
        recording = spooled[0].read_bytes()
        assert len(recording) > 44                            # a WAV header and samples
        assert [r for r in caplog.records if r.name == "voicemail_svc.storage.spool" and "spooling it" in r.getMessage()]
        assert [msg.spec.name for _, msg in watcher.seen[seen:]] == []     # nothing announced yet

        await asyncio.sleep(max(0.0, killed + DOWN_S - time.monotonic()))
        await asyncio.to_thread(pouch.start)
        restarted = time.monotonic()

        await wait_until(lambda: stored_messages(store, site), timeout=30,
                         what="the message stored after the store returned")
        recovered = time.monotonic() - restarted
        new = lambda name: [msg for _, msg in watcher.seen[seen:] if msg.spec.name == name]  # noqa: E731
        await wait_until(lambda: new("mwi_update"), timeout=15, what="MWI after the message was stored")
        await asyncio.sleep(1.0)                              # a second notification would show by now
        docs = [d for d in await box_messages(store, site.account, site.box) if d["_id"] not in warmed]
        assert len(docs) == 1, docs
        [doc] = docs
        audio = await store.get_attachment(layout.modb_of_doc_id(site.account, doc["_id"]), doc["_id"],
                                           doc["media_filename"])
        assert audio == recording
        [(attached_at, attached_id)] = [a for a in store.attached if a[1] == doc["_id"]]
        assert attached_at >= restarted
        assert [n["Voicemail-ID"] for n in new("voicemail_new")] == [doc["_id"]]
        mwi = [(t, msg) for t, msg in watcher.seen[seen:] if msg.spec.name == "mwi_update"]
        assert len(mwi) == 1 and mwi[0][0] >= attached_at and mwi[0][1]["Messages-New"] == left + 1, mwi
        assert not list(spool_dir.glob("*"))
        print(f"store down {restarted - killed:.1f} s; message stored {recovered:.1f} s after the restart; "
              f"voicemail_new and MWI once")
    finally:
        if watcher_bus is not None:
            await watcher_bus.close()
        await cluster.stop()
        await store.close()
