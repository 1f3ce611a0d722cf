"""What the media path reads from the store, on every backend (memory, SQLite, CouchDB API):
byte windows of an attachment (HTTP ``Range``, media.md 6.4) and the prompt query (4.2)."""

from __future__ import annotations

import os

import pytest

from services.store import BadRequest, NotFound, layout
from services.store.interface import PromptDoc

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = layout.account_db(ACCOUNT_ID)
SYSTEM_MEDIA = "system_media"


async def _window(store, db, doc_id, name, **window) -> bytes:
    return b"".join([chunk async for chunk in store.stream_attachment(db, doc_id, name, chunk_size=1000, **window)])


async def test_med_030_attachment_streams_any_byte_window(store):
    await store.create_db(ACCOUNT_DB)
    data = os.urandom(10_007)
    await store.put_attachment(ACCOUNT_DB, "greeting", "greeting.mp3", data, content_type="audio/mpeg", rev=None)

    assert await _window(store, ACCOUNT_DB, "greeting", "greeting.mp3") == data
    assert await _window(store, ACCOUNT_DB, "greeting", "greeting.mp3", offset=0, length=100) == data[:100]
    assert await _window(store, ACCOUNT_DB, "greeting", "greeting.mp3", offset=9_907) == data[-100:]
    assert await _window(store, ACCOUNT_DB, "greeting", "greeting.mp3", offset=2_500, length=3_333) \
        == data[2_500:5_833]
    assert await _window(store, ACCOUNT_DB, "greeting", "greeting.mp3", offset=10_000, length=500) == data[10_000:]
    assert await _window(store, ACCOUNT_DB, "greeting", "greeting.mp3", offset=5, length=0) == b""
    chunks = [c async for c in store.stream_attachment(ACCOUNT_DB, "greeting", "greeting.mp3", chunk_size=1000,
                                                        offset=1, length=2_500)]
    assert all(len(c) <= 1000 for c in chunks) and b"".join(chunks) == data[1:2_501]

    with pytest.raises(BadRequest):
        store.stream_attachment(ACCOUNT_DB, "greeting", "greeting.mp3", offset=-1)
    with pytest.raises(NotFound):
        await _window(store, ACCOUNT_DB, "greeting", "other.mp3", offset=10, length=10)


async def test_media_by_prompt_lists_live_media_documents_by_prompt_and_language(store):
    await store.create_db(SYSTEM_MEDIA)
    await store.create_db(ACCOUNT_DB)
    docs = [
        {"_id": "en-us/vm-person", "pvt_type": "media", "prompt_id": "vm-person", "language": "en-us"},
        {"_id": "fr/vm-person", "pvt_type": "media", "prompt_id": "vm-person", "language": "FR"},
        {"_id": "gone/vm-person", "pvt_type": "media", "prompt_id": "vm-person", "language": "de",
         "pvt_deleted": True},
        {"_id": "nolang", "pvt_type": "media", "prompt_id": "vm-person"},
        {"_id": "vm-person", "pvt_type": "media", "language": "es"},        # found by its id, no prompt_id
        {"_id": "not-media", "pvt_type": "vmbox", "prompt_id": "vm-person"},
        {"_id": "demo-welcome", "pvt_type": "media", "name": "demo"},
    ]
    for doc in docs:
        await store.put(SYSTEM_MEDIA, doc)

    assert await store.media_by_prompt(SYSTEM_MEDIA, "vm-person") == [
        PromptDoc("en-us/vm-person", "en-us", True),
        PromptDoc("fr/vm-person", "fr", True),
        PromptDoc("nolang", None, True),
        PromptDoc("vm-person", "es", False),
    ]
    assert await store.media_by_prompt(SYSTEM_MEDIA, "demo-welcome") == [PromptDoc("demo-welcome", None, False)]
    assert await store.media_by_prompt(SYSTEM_MEDIA, "vm-nothing") == []
    assert await store.media_by_prompt(ACCOUNT_DB, "vm-person") == []

    # an edit that deletes the prompt removes it from the query
    current = await store.get(SYSTEM_MEDIA, "fr/vm-person")
    await store.put(SYSTEM_MEDIA, {**current, "pvt_deleted": True})
    assert [row.doc_id for row in await store.media_by_prompt(SYSTEM_MEDIA, "vm-person")] == \
        ["en-us/vm-person", "nolang", "vm-person"]
