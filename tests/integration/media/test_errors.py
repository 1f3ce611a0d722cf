"""media.md 7, errors and storage: MED-020 .. MED-025 (memory, SQLite, CouchDB API where the store matters)."""

from __future__ import annotations

import logging
import time

from services.logging import _ContextFilter
from services.store import layout
from services.store.couch import CouchStore
from tests.integration.media.conftest import A, A_DB, A_DB_ENCODED, MODB, MODB_ENCODED, audio_bytes, inline

M2 = "202403-2a2b2c2d2e2f30313233343536373839"
M3 = "202403-3a3b3c3d3e3f40414243444546474849"
HEX2 = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
P = "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"


async def test_med_020_missing_document_attachment_and_bad_names(media, store, world, gateway):
    await gateway.answers(f"/{A}/no-such-doc", "not_found", "not_found")
    await store.put(A_DB, layout.stamp({"_id": "empty-media", "name": "nothing yet", "media_source": "upload"},
                                       pvt_type="media", db=A_DB))
    await gateway.answers(f"/{A}/empty-media", "no_data", "no_data")
    await gateway.answers("/foo/bar", "other", "invalid_media_name")
    await gateway.answers(f"/{A}/{world.greeting_id}/missing.mp3", "not_found", "not_found")


def _message(doc_id: str, pvt_attachments: dict) -> dict:
    doc = {"_id": doc_id, "source_id": "b0x", "metadata": {"folder": "new", "timestamp": 63877478400},
           "pvt_attachments": pvt_attachments}
    return layout.stamp(doc, pvt_type="mailbox_message", db=MODB)


def _link(name: str, **settings) -> dict:
    return {name: {"content_type": "audio/mpeg", "length": 0, "stub": False,
                   "handler": {"kz_att_link": {"att_dbname": A_DB_ENCODED, "att_docid": P, **settings}}}}


async def _put_p(store, attachments: dict[str, bytes]) -> None:
    body = {}
    for name, data in attachments.items():
        body.update(inline(name, data, "audio/mpeg"))
    await store.put(A_DB, layout.stamp({"_id": P, "name": "old message audio", "media_source": "recording",
                                        "_attachments": body}, pvt_type="media", db=A_DB))


async def test_med_021_migration_link_is_followed_to_the_old_media_document(media, store, world, gateway):
    b_p = audio_bytes("B_P", 4000)
    await _put_p(store, {"old.mp3": b_p})
    await store.put(MODB, _message(M2, _link(f"{HEX2}.mp3")))
    await gateway.resolves_to(f"/{MODB_ENCODED}/{M2}/{HEX2}.mp3", attachment=f"{HEX2}.mp3", data=b_p,
                              content_type="audio/mpeg")


async def test_med_022_link_names_its_attachment(media, store, world, gateway):
    first, second = audio_bytes("FIRST"), audio_bytes("SECOND")
    await _put_p(store, {"first.mp3": first, "second.mp3": second})
    await store.put(MODB, _message(M2, _link(f"{HEX2}.mp3", att_name="second.mp3")))
    await gateway.resolves_to(f"/{MODB_ENCODED}/{M2}/{HEX2}.mp3", attachment=f"{HEX2}.mp3", data=second)


async def test_med_023_link_to_a_missing_document_is_not_found_before_any_url(media, store, world, gateway):
    await store.put(MODB, _message(M2, _link(f"{HEX2}.mp3")))
    await gateway.answers(f"/{MODB_ENCODED}/{M2}/{HEX2}.mp3", "not_found", "not_found")


async def test_med_024_external_storage_is_unsupported_and_logged_once(media, store, world, gateway, caplog):
    entry = {"content_type": "audio/mpeg", "length": 5230, "stub": False,
             "handler": {"kz_att_s3": {"bucket": "vm"}}}
    await store.put(MODB, _message(M3, {f"{HEX2}.mp3": entry}))
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(_ContextFilter())      # what the service's log handler adds: the Call-ID
    await gateway.answers(f"/{MODB_ENCODED}/{M3}/{HEX2}.mp3", "other", "unsupported_storage:kz_att_s3")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "kz_att_s3" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert all(part in warnings[0] for part in (MODB, M3, f"{HEX2}.mp3", "kz_att_s3"))
    call_ids = [getattr(r, "call_id", None) for r in caplog.records if "kz_att_s3" in r.getMessage()]
    assert call_ids == ["media-test-call"]


async def test_med_025_unreachable_store_is_answered_within_two_seconds(start_media, memory_store, gateway):
    unreachable = CouchStore("http://127.0.0.1:9/")  # the discard port: nothing listens
    try:
        await start_media(unreachable, config_store=memory_store)
        for name in ("prompt://system_media/vm-person/en-us", f"/{A}/5f1d2a3b4c5d6e7f8a9b0c1d2e3f4a5b"):
            started = time.monotonic()
            replies = await gateway.ask(name, settle=0.0)
            elapsed = time.monotonic() - started
            assert [(r.spec.name, r["Error-Code"], r["Error-Msg"]) for r in replies] == \
                [("media_error", "other", "store_unavailable")]
            assert elapsed < 2.0, elapsed
        assert len(await gateway.ask(name, settle=0.5)) == 1      # and only one reply
    finally:
        await unreachable.close()
