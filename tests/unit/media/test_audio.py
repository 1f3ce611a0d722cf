"""The one audio resolver (media.md 4.5, 6.2): every place KAZOO keeps audio, and every way it is not there.

On the memory store; the same behaviours run on SQLite and the CouchDB API in
tests/integration/media (MED-020 .. MED-024)."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest

from services.media.audio import Audio, AudioResolver, Failure, Place, Unresolved, content_type_of
from services.store import StoreError
from services.store.memory import MemoryStore

DB = "account/4f/e6/9c5b61015084f1fe5684abc6e502"
MODB = DB + "-202403"


def _inline(data: bytes, content_type: str = "audio/mpeg") -> dict:
    return {"content_type": content_type, "data": base64.b64encode(data).decode()}


def _link(db: str, doc_id: str, name: str | None = None) -> dict:
    settings = {"att_dbname": db.replace("/", "%2F"), "att_docid": doc_id}
    if name:
        settings["att_name"] = name
    return {"content_type": "audio/mpeg", "length": 0, "stub": False, "handler": {"kz_att_link": settings}}


@pytest.fixture
async def store():
    s = MemoryStore()
    await s.create_db(DB)
    await s.create_db(MODB)
    return s


async def test_first_attachment_prefers_couchdb_attachments_over_handled_ones(store):
    await store.put(DB, {"_id": "both", "_attachments": {"b.mp3": _inline(b"B"), "a.mp3": _inline(b"A")},
                         "pvt_attachments": {"0.mp3": _link(DB, "x")}})
    audio = await AudioResolver(store).resolve(DB, "both")
    assert isinstance(audio, Audio) and audio.requested == audio.source == Place(DB, "both", "a.mp3")
    assert (audio.length, audio.content_type, audio.links) == (1, "audio/mpeg", 0)
    assert audio.digest.startswith("md5-")


async def test_link_chain_of_three_is_followed_and_a_fourth_is_refused(store):
    await store.put(DB, {"_id": "end", "_attachments": {"end.wav": _inline(b"END", "audio/wav")}})
    await store.put(DB, {"_id": "l3", "pvt_attachments": {"3.mp3": _link(DB, "end")}})
    await store.put(DB, {"_id": "l2", "pvt_attachments": {"2.mp3": _link(DB, "l3", "3.mp3")}})
    await store.put(MODB, {"_id": "l1", "pvt_attachments": {"1.mp3": _link(DB, "l2")}})
    await store.put(MODB, {"_id": "l0", "pvt_attachments": {"0.mp3": _link(MODB, "l1")}})
    resolver = AudioResolver(store)
    audio = await resolver.resolve(MODB, "l1", "1.mp3")
    assert isinstance(audio, Audio) and audio.links == 3
    assert audio.requested == Place(MODB, "l1", "1.mp3") and audio.source == Place(DB, "end", "end.wav")
    assert audio.content_type == "audio/mpeg"      # the asked-for entry's type wins
    assert b"".join([c async for c in resolver.open(audio)]) == b"END"
    too_deep = await resolver.resolve(MODB, "l0")
    assert isinstance(too_deep, Unresolved) and too_deep.failure is Failure.NOT_FOUND
    assert too_deep.handler == "kz_att_link" and (too_deep.db, too_deep.doc_id) == (MODB, "l0")


async def test_a_link_loop_ends_as_not_found(store):
    await store.put(DB, {"_id": "x", "pvt_attachments": {"x.mp3": _link(DB, "y")}})
    await store.put(DB, {"_id": "y", "pvt_attachments": {"y.mp3": _link(DB, "x")}})
    outcome = await AudioResolver(store).resolve(DB, "x")
    assert isinstance(outcome, Unresolved) and outcome.failure is Failure.NOT_FOUND


@pytest.mark.parametrize("entry,failure,handler", [
    ({"handler": {"kz_att_google_drive": {"folder": "vm"}}}, Failure.UNSUPPORTED_STORAGE, "kz_att_google_drive"),
    ({"content_type": "audio/mpeg"}, Failure.UNSUPPORTED_STORAGE, "unknown"),
    ({"handler": {"kz_att_link": {"att_docid": "p"}}}, Failure.NOT_FOUND, "kz_att_link"),
    ({"handler": {"kz_att_link": "nonsense"}}, Failure.NOT_FOUND, "kz_att_link"),
])
async def test_handled_entries_that_cannot_be_read(store, entry, failure, handler):
    await store.put(MODB, {"_id": "m", "pvt_attachments": {"m.mp3": entry}})
    outcome = await AudioResolver(store).resolve(MODB, "m", "m.mp3")
    assert isinstance(outcome, Unresolved)
    assert (outcome.failure, outcome.handler, outcome.attachment) == (failure, handler, "m.mp3")


async def test_link_target_without_audio_is_not_found_and_unsupported_target_names_its_module(store):
    await store.put(DB, {"_id": "empty"})
    await store.put(DB, {"_id": "s3", "pvt_attachments": {"s.mp3": {"handler": {"kz_att_s3": {}}}}})
    await store.put(MODB, {"_id": "to-empty", "pvt_attachments": {"a.mp3": _link(DB, "empty")}})
    await store.put(MODB, {"_id": "to-s3", "pvt_attachments": {"a.mp3": _link(DB, "s3")}})
    resolver = AudioResolver(store)
    assert (await resolver.resolve(MODB, "to-empty")).failure is Failure.NOT_FOUND
    unsupported = await resolver.resolve(MODB, "to-s3")
    assert (unsupported.failure, unsupported.handler) == (Failure.UNSUPPORTED_STORAGE, "kz_att_s3")


async def test_missing_database_document_and_attachment(store):
    resolver = AudioResolver(store)
    assert (await resolver.resolve("account/00/00/0000000000000000000000000000", "x")).failure is Failure.NOT_FOUND
    assert (await resolver.resolve(DB, "nothing")).failure is Failure.NOT_FOUND
    await store.put(DB, {"_id": "bare"})
    assert (await resolver.resolve(DB, "bare")).failure is Failure.NO_DATA
    assert (await resolver.resolve(DB, "bare", "a.mp3")).failure is Failure.NOT_FOUND


class _Failing(MemoryStore):
    def __init__(self, *, hang: bool) -> None:
        super().__init__()
        self.hang = hang

    async def _get(self, db, doc_id):
        if self.hang:
            await asyncio.sleep(30)
        raise StoreError("connection refused")


@pytest.mark.parametrize("hang", [False, True])
async def test_failing_or_silent_store_is_unavailable_and_logged_once(hang, caplog):
    caplog.set_level(logging.INFO)
    outcome = await AudioResolver(_Failing(hang=hang), timeout_s=0.2).resolve(DB, "x", "a.mp3")
    assert isinstance(outcome, Unresolved) and outcome.failure is Failure.STORE_UNAVAILABLE
    lines = [r for r in caplog.records if r.name == "services.media.audio"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert all(part in lines[0].getMessage() for part in (DB, "document x", "a.mp3", "store_unavailable"))


@pytest.mark.parametrize("name,stub,expected", [
    ("a.mp3", None, "audio/mpeg"), ("a.WAV", None, "audio/wav"), ("a.mp4", None, "audio/mp4"),
    ("a.ogg", None, "application/octet-stream"), ("noext", None, "application/octet-stream"),
    ("a.mp3", "audio/x-wav", "audio/x-wav"), ("a.mp3", "", "audio/mpeg"),
])
def test_content_type_from_stub_else_extension(name, stub, expected):
    assert content_type_of(name, stub) == expected
