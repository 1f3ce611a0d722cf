"""One suite over every backend: memory, SQLite in a temporary file, and CouchDB
(pouchdb-server, or ``KZ_TEST_COUCH_URL``).  Each test states the expected result
once; passing on all three backends is what "identical results" means."""

from __future__ import annotations

import base64
import hashlib
import os
import re

import pytest

from services.store import BadRequest, Conflict, DatabaseNotFound, NotFound, layout

ACCOUNT_ID = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = layout.account_db(ACCOUNT_ID)  # account/4f/e6/9c5b61015084f1fe5684abc6e502
ENCODED_DB = layout.account_db(ACCOUNT_ID, encoded=True)  # account%2F4f%2Fe6%2F...
MODB = layout.modb(ACCOUNT_ID, 2024, 3)


def md5_digest(data: bytes) -> str:
    return "md5-" + base64.b64encode(hashlib.md5(data).digest()).decode()


def generation(rev: str) -> int:
    assert re.fullmatch(r"\d+-[0-9a-f]{32}", rev), rev
    return int(rev.split("-")[0])


# --- databases ------------------------------------------------------------------------


async def test_kazoo_database_names_with_slashes_round_trip(store):
    assert await store.create_db(ENCODED_DB) is True
    assert await store.create_db(ACCOUNT_DB) is False  # the same database, raw form
    assert await store.create_db(MODB) is True
    assert await store.db_exists(ACCOUNT_DB)
    assert await store.db_exists(ENCODED_DB.replace("%2F", "%2f"))
    assert await store.db_exists(MODB.replace("/", "%2F"))
    assert not await store.db_exists(layout.account_db("0" * 32))
    listed = await store.list_dbs()
    assert ACCOUNT_DB in listed and MODB in listed

    saved = await store.put(ENCODED_DB, {"_id": "+14158867900", "pvt_type": "number"})
    assert (await store.get(ACCOUNT_DB, "+14158867900"))["_rev"] == saved["_rev"]
    assert [row["id"] for row in await store.all_docs(ACCOUNT_DB)] == ["+14158867900"]

    assert await store.delete_db(ENCODED_DB) is True
    assert await store.delete_db(ACCOUNT_DB) is False
    assert ACCOUNT_DB not in await store.list_dbs()
    with pytest.raises(DatabaseNotFound):
        await store.get(ACCOUNT_DB, "+14158867900")


async def test_missing_database_is_reported_as_such(store):
    with pytest.raises(DatabaseNotFound):
        await store.get(ACCOUNT_DB, "anything")
    with pytest.raises(DatabaseNotFound):
        await store.put(ACCOUNT_DB, {"_id": "anything"})
    with pytest.raises(DatabaseNotFound):
        await store.callflows_by_number(ACCOUNT_DB, "2000")


async def test_invalid_names_and_ids_are_refused(store):
    with pytest.raises(BadRequest):
        await store.create_db("Not A Name")
    await store.create_db(ACCOUNT_DB)
    with pytest.raises(BadRequest):
        await store.put(ACCOUNT_DB, {"_id": "_reserved"})
    with pytest.raises(BadRequest):
        await store.put(ACCOUNT_DB, {"_id": "doc", "_private": 1})
    with pytest.raises(BadRequest):
        await store.put(ACCOUNT_DB, {"_id": "doc", "value": float("nan")})
    with pytest.raises(BadRequest):
        await store.get(ACCOUNT_DB, "")


# --- documents ------------------------------------------------------------------------


async def test_put_get_update_and_conflicts(store):
    await store.create_db(ACCOUNT_DB)
    first = await store.put(ACCOUNT_DB, {"pvt_type": "user", "first_name": "Ada", "nested": {"a": [1, 2.5, None]}})
    assert re.fullmatch(r"[0-9a-f]{32}", first["_id"])
    assert generation(first["_rev"]) == 1
    assert await store.get(ACCOUNT_DB, first["_id"]) == first

    second = await store.put(ACCOUNT_DB, {**first, "first_name": "Grace"})
    assert generation(second["_rev"]) == 2
    assert (await store.get(ACCOUNT_DB, first["_id"]))["first_name"] == "Grace"

    with pytest.raises(Conflict):  # stale revision
        await store.put(ACCOUNT_DB, {**first, "first_name": "Stale"})
    with pytest.raises(Conflict):  # no revision for an existing document
        await store.put(ACCOUNT_DB, {"_id": first["_id"], "first_name": "Blind"})
    if getattr(store, "server_kind", None) != "pouchdb-server":  # pouchdb-server accepts it (CouchDB: 409)
        with pytest.raises(Conflict):  # a revision for a document that does not exist
            await store.put(ACCOUNT_DB, {"_id": "new-one", "_rev": first["_rev"]})
    assert (await store.get(ACCOUNT_DB, first["_id"]))["first_name"] == "Grace"

    with pytest.raises(NotFound):
        await store.get(ACCOUNT_DB, "missing")


async def test_delete_and_write_again(store):
    await store.create_db(ACCOUNT_DB)
    stale = await store.put(ACCOUNT_DB, {"_id": "device1", "pvt_type": "device"})
    doc = await store.put(ACCOUNT_DB, {**stale, "name": "desk phone"})
    with pytest.raises(Conflict):
        await store.delete(ACCOUNT_DB, "device1", stale["_rev"])
    deleted_rev = await store.delete(ACCOUNT_DB, "device1", doc["_rev"])
    assert generation(deleted_rev) == 3
    with pytest.raises(NotFound):
        await store.get(ACCOUNT_DB, "device1")
    with pytest.raises(NotFound):
        await store.delete(ACCOUNT_DB, "never-was", deleted_rev)
    assert await store.all_docs(ACCOUNT_DB) == []

    again = await store.put(ACCOUNT_DB, {"_id": "device1", "pvt_type": "device"})
    assert generation(again["_rev"]) == 4  # revisions continue after a deletion, as in CouchDB


async def test_bulk_put_reports_each_document(store):
    await store.create_db(ACCOUNT_DB)
    kept = await store.put(ACCOUNT_DB, {"_id": "a", "v": 1})
    stale = await store.put(ACCOUNT_DB, {"_id": "b", "v": 1})
    await store.put(ACCOUNT_DB, {**stale, "v": 2})

    results = await store.bulk_put(ACCOUNT_DB, [
        {**kept, "v": 2},
        {**stale, "v": 3},
        {"_id": "c", "v": 1},
        {"v": "no id"},
    ])
    assert [(r.ok, r.error) for r in results] == [(True, None), (False, "conflict"), (True, None), (True, None)]
    assert [r.id for r in results[:3]] == ["a", "b", "c"]
    assert re.fullmatch(r"[0-9a-f]{32}", results[3].id)
    assert generation(results[0].rev) == 2 and results[1].rev is None

    docs = await store.bulk_get(ACCOUNT_DB, ["c", "missing", "a", "b"])
    assert [d and d["v"] for d in docs] == [1, None, 2, 2]
    assert docs[2]["_rev"] == results[0].rev

    rows = await store.all_docs(ACCOUNT_DB, include_docs=True)
    assert [row["id"] for row in rows] == sorted(["a", "b", "c", results[3].id])
    assert all(row["doc"]["_id"] == row["id"] and row["doc"]["_rev"] == row["rev"] for row in rows)


# --- attachments ----------------------------------------------------------------------


async def test_attachment_round_trip_and_stub(store):
    await store.create_db(MODB)
    doc = await store.put(MODB, {"_id": "202403-msg", "pvt_type": "mailbox_message"})
    audio = bytes(range(256)) * 40
    rev = await store.put_attachment(MODB, "202403-msg", "greeting.mp3", audio, content_type="audio/mpeg",
                                     rev=doc["_rev"])
    assert generation(rev) == 2
    assert await store.get_attachment(MODB, "202403-msg", "greeting.mp3") == audio
    stored = await store.get(MODB, "202403-msg")
    assert stored["_rev"] == rev
    assert stored["_attachments"] == {"greeting.mp3": {
        "content_type": "audio/mpeg", "digest": md5_digest(audio), "length": len(audio), "revpos": 2, "stub": True,
    }}

    with pytest.raises(Conflict):
        await store.put_attachment(MODB, "202403-msg", "other.mp3", b"x", content_type="audio/mpeg",
                                   rev=doc["_rev"])
    with pytest.raises(Conflict):
        await store.put_attachment(MODB, "202403-msg", "other.mp3", b"x", content_type="audio/mpeg", rev=None)
    with pytest.raises(NotFound):
        await store.get_attachment(MODB, "202403-msg", "absent.mp3")

    # Updating the document with its stub keeps the attachment ...
    kept = await store.put(MODB, {**stored, "metadata": {"folder": "saved"}})
    assert await store.get_attachment(MODB, "202403-msg", "greeting.mp3") == audio
    # ... and without _attachments drops it, as CouchDB does.
    dropped = await store.put(MODB, {"_id": "202403-msg", "_rev": kept["_rev"], "pvt_type": "mailbox_message"})
    assert "_attachments" not in await store.get(MODB, "202403-msg")
    with pytest.raises(NotFound):
        await store.get_attachment(MODB, "202403-msg", "greeting.mp3")
    with pytest.raises(BadRequest):  # a stub for an attachment the document lacks
        await store.put(MODB, {"_id": "202403-msg", "_rev": dropped["_rev"],
                               "_attachments": {"greeting.mp3": {"stub": True}}})


async def test_inline_attachments_and_attachment_only_documents(store):
    await store.create_db(ACCOUNT_DB)
    data = b"RIFF....WAVEfmt " + os.urandom(3000)
    saved = await store.put(ACCOUNT_DB, {"_id": "media1", "pvt_type": "media", "_attachments": {
        "prompt.wav": {"content_type": "audio/wav", "data": base64.b64encode(data).decode()},
    }})
    assert await store.get_attachment(ACCOUNT_DB, "media1", "prompt.wav") == data
    assert (await store.get(ACCOUNT_DB, "media1"))["_attachments"]["prompt.wav"]["length"] == len(data)
    assert generation(saved["_rev"]) == 1

    rev = await store.put_attachment(ACCOUNT_DB, "fresh", "a.bin", b"\x00\x01", content_type="application/octet-stream",
                                     rev=None)
    fresh = await store.get(ACCOUNT_DB, "fresh")
    assert fresh["_rev"] == rev and set(fresh) == {"_id", "_rev", "_attachments"}

    await store.delete(ACCOUNT_DB, "fresh", rev)
    with pytest.raises(NotFound):
        await store.get_attachment(ACCOUNT_DB, "fresh", "a.bin")


async def test_inline_attachment_data_may_be_raw_bytes_and_reads_back_as_base64_would(store):
    await store.create_db(ACCOUNT_DB)
    data = b"RIFF....WAVEfmt " + os.urandom(5000)
    saved = await store.put(ACCOUNT_DB, {"_id": "raw1", "pvt_type": "media", "_attachments": {
        "raw.wav": {"content_type": "audio/wav", "data": data}}})
    await store.put(ACCOUNT_DB, {"_id": "b64", "pvt_type": "media", "_attachments": {
        "raw.wav": {"content_type": "audio/wav", "data": base64.b64encode(data).decode()}}})
    assert await store.get_attachment(ACCOUNT_DB, "raw1", "raw.wav") == data
    stub = (await store.get(ACCOUNT_DB, "raw1"))["_attachments"]["raw.wav"]
    twin = (await store.get(ACCOUNT_DB, "b64"))["_attachments"]["raw.wav"]
    assert stub["length"] == len(data) and stub["digest"] == twin["digest"]
    results = await store.bulk_put(ACCOUNT_DB, [{"_id": "raw2", "_attachments": {
        "b.bin": {"content_type": "application/octet-stream", "data": bytearray(b"\x00\xff" * 10)}}}])
    assert results[0].ok
    assert await store.get_attachment(ACCOUNT_DB, "raw2", "b.bin") == b"\x00\xff" * 10
    assert generation(saved["_rev"]) == 1


async def test_large_attachment_streams_both_ways_byte_identical(store):
    await store.create_db(MODB)
    chunk_count, chunk_len = 24, 64 * 1024 + 7  # about 1.5 MB, chunks not aligned to the read size
    chunks = [os.urandom(chunk_len) for _ in range(chunk_count)]
    expected = b"".join(chunks)

    async def upload():
        for chunk in chunks:
            yield chunk

    rev = await store.put_attachment(MODB, "202403-big", "recording.mp3", upload(), content_type="audio/mpeg",
                                     rev=None)
    assert generation(rev) == 1

    received = [chunk async for chunk in store.stream_attachment(MODB, "202403-big", "recording.mp3",
                                                                 chunk_size=32 * 1024)]
    assert len(received) > 1 and all(len(chunk) <= 32 * 1024 for chunk in received)
    assert hashlib.sha256(b"".join(received)).digest() == hashlib.sha256(expected).digest()
    assert await store.get_attachment(MODB, "202403-big", "recording.mp3") == expected
    stub = (await store.get(MODB, "202403-big"))["_attachments"]["recording.mp3"]
    assert (stub["length"], stub["digest"]) == (len(expected), md5_digest(expected))

    with pytest.raises(NotFound):
        async for _ in store.stream_attachment(MODB, "202403-big", "nothing.mp3"):
            pass


# --- queries --------------------------------------------------------------------------


def _callflow(doc_id, numbers=(), patterns=(), **extra):
    return {"_id": doc_id, "pvt_type": "callflow", "numbers": list(numbers), "patterns": list(patterns),
            "flow": {"module": "voicemail", "data": {}}, **extra}


CALLFLOWS = [
    _callflow("cf-main", ["+14158867900", "2000"]),
    _callflow("cf-alias", ["2000"]),
    _callflow("cf-deleted-true", ["3000"], pvt_deleted=True),
    _callflow("cf-deleted-string", ["3000"], pvt_deleted="true"),
    _callflow("cf-deleted-one", ["3000"], pvt_deleted=1),
    _callflow("cf-not-deleted-false", ["4000"], pvt_deleted=False),
    _callflow("cf-not-deleted-zero", ["4000"], pvt_deleted=0),
    _callflow("cf-patterns", [], [r"^\*98(\d+)$", r"^2(\d{3})$"]),
    _callflow("cf-catchall", ["no_match"], [r"^(2\d{3})$"]),
    {"_id": "cf-object-numbers", "pvt_type": "callflow", "numbers": {"first": "5000"}},
    {"_id": "cf-integer-number", "pvt_type": "callflow", "numbers": [6000]},
    {"_id": "dev-with-numbers", "pvt_type": "device", "numbers": ["2000"]},
]

VMBOXES = [
    {"_id": "vb-100", "pvt_type": "vmbox", "mailbox": "100", "owner_id": "user-1"},
    {"_id": "vb-0100", "pvt_type": "vmbox", "mailbox": "0100", "owner_id": "user-2"},
    {"_id": "vb-100abc", "pvt_type": "vmbox", "mailbox": "100abc"},
    {"_id": "vb-hotdesk", "pvt_type": "vmbox", "mailbox": "3001", "owner_id": "user-3",
     "hotdesk": {"users": {"user-1": {}}}},
    {"_id": "vb-int", "pvt_type": "vmbox", "mailbox": 200},
    {"_id": "vb-deleted", "pvt_type": "vmbox", "mailbox": "100", "owner_id": "user-1", "pvt_deleted": True},
    {"_id": "vb-letters", "pvt_type": "vmbox", "mailbox": "abc"},
]

DEVICES = [
    {"_id": "dev-1", "pvt_type": "device", "owner_id": "user-1", "sip": {"username": "alice", "method": "password"}},
    {"_id": "dev-2", "pvt_type": "device", "owner_id": "user-1", "hotdesk": {"users": {}}},
    {"_id": "dev-3", "pvt_type": "device", "owner_id": "user-3", "hotdesk": {"users": {"user-1": {}, "user-2": {}}}},
    {"_id": "dev-deleted", "pvt_type": "device", "owner_id": "user-1", "pvt_deleted": True},
    {"_id": "dev-ip", "pvt_type": "device", "owner_id": "user-2", "sip": {"username": "bob", "method": "ip"}},
    {"_id": "trunk", "pvt_type": "sys_info", "servers": [
        {"auth": {"auth_user": "trunk1", "auth_method": "password"}},
        {"auth": {"auth_method": "IP", "ip": "192.0.2.1"}},
        {"auth": {"auth_user": "trunk1", "auth_method": "password"}},
    ]},
    {"_id": "user-1", "pvt_type": "user", "first_name": "One"},
]


def _message(doc_id, box, folder=None, timestamp=None, **extra):
    metadata = {}
    if folder is not None:
        metadata["folder"] = folder
    if timestamp is not None:
        metadata["timestamp"] = timestamp
    return {"_id": doc_id, "pvt_type": "mailbox_message", "source_id": box, "metadata": metadata, **extra}


MESSAGES = [
    _message("202403-m1", "vb-100", "new", 63876877100),
    _message("202403-m2", "vb-100", "saved", 63876877300),
    _message("202403-m3", "vb-100", "deleted", 63876877200),
    _message("202403-m4", "vb-100", "new", 63876877300),
    _message("202403-m5", "vb-100", "new", 63876877400, pvt_deleted=True),
    {"_id": "202403-m6", "pvt_type": "mailbox_message", "source_id": "vb-100"},
    _message("202403-m7", "vb-0100", "new", 63876877500),
    {**_message("202403-m8", "vb-100", "new", 63876877600), "pvt_type": "media"},
    _message("202403-m9", "vb-100", "new"),
]

ACCOUNTS = [
    {"_id": "acc1" + "0" * 28, "pvt_type": "account", "realm": "Acme.Example.COM", "pvt_account_id": "acc1" + "0" * 28},
    {"_id": "acc2" + "0" * 28, "pvt_type": "account", "realm": "shared.example.com"},
    {"_id": "acc3" + "0" * 28, "pvt_type": "account", "realm": "shared.example.com", "pvt_account_id": "acc3" + "0" * 28},
    {"_id": "acc4" + "0" * 28, "pvt_type": "account", "realm": "gone.example.com", "pvt_deleted": True},
    {"_id": "acc5" + "0" * 28, "pvt_type": "account", "realm": 5},
]


@pytest.fixture
async def loaded(store):
    await store.create_db(ACCOUNT_DB)
    await store.create_db(MODB)
    await store.create_db(layout.ACCOUNTS_DB)
    for db, docs in ((ACCOUNT_DB, CALLFLOWS + VMBOXES + DEVICES), (MODB, MESSAGES), (layout.ACCOUNTS_DB, ACCOUNTS)):
        assert all(result.ok for result in await store.bulk_put(db, docs))
    return store


def ids(docs):
    return [doc["_id"] for doc in docs]


async def test_callflows_by_number(loaded):
    store = loaded
    assert await store.callflows_by_number(ACCOUNT_DB, "+14158867900") == ["cf-main"]
    assert await store.callflows_by_number(ENCODED_DB, "2000") == ["cf-alias", "cf-main"]
    assert await store.callflows_by_number(ACCOUNT_DB, "3000") == []  # every truthy pvt_deleted hides
    assert await store.callflows_by_number(ACCOUNT_DB, "4000") == ["cf-not-deleted-false", "cf-not-deleted-zero"]
    assert await store.callflows_by_number(ACCOUNT_DB, "5000") == ["cf-object-numbers"]
    assert await store.callflows_by_number(ACCOUNT_DB, "6000") == []  # 6000 is a number, not "6000"
    assert await store.callflows_by_number(ACCOUNT_DB, "no_match") == ["cf-catchall"]
    assert await store.callflows_by_number(ACCOUNT_DB, "2001") == []


async def test_callflow_patterns(loaded):
    assert await loaded.callflow_patterns(ACCOUNT_DB) == [
        (r"^(2\d{3})$", "cf-catchall"),
        (r"^2(\d{3})$", "cf-patterns"),
        (r"^\*98(\d+)$", "cf-patterns"),
    ]


async def test_index_follows_updates_and_deletions(loaded):
    store = loaded
    main = await store.get(ACCOUNT_DB, "cf-main")
    await store.put(ACCOUNT_DB, {**main, "numbers": ["+14158867900"], "patterns": ["^9$"]})
    assert await store.callflows_by_number(ACCOUNT_DB, "2000") == ["cf-alias"]
    assert ("^9$", "cf-main") in await store.callflow_patterns(ACCOUNT_DB)
    alias = await store.get(ACCOUNT_DB, "cf-alias")
    await store.delete(ACCOUNT_DB, "cf-alias", alias["_rev"])
    assert await store.callflows_by_number(ACCOUNT_DB, "2000") == []
    box = await store.get(ACCOUNT_DB, "vb-100")
    await store.put(ACCOUNT_DB, {**box, "pvt_deleted": True})
    assert ids(await store.vmboxes_by_mailbox(ACCOUNT_DB, "100")) == []


async def test_vmboxes_by_mailbox_exact_and_numeric(loaded):
    store = loaded
    assert ids(await store.vmboxes_by_mailbox(ACCOUNT_DB, "100")) == ["vb-100"]
    assert ids(await store.vmboxes_by_mailbox(ACCOUNT_DB, "0100")) == ["vb-0100"]
    assert ids(await store.vmboxes_by_mailbox(ACCOUNT_DB, "200")) == []  # stored as a number
    numeric = ["vb-0100", "vb-100", "vb-100abc"]  # parseInt: leading zeros and trailing junk ignored
    assert ids(await store.vmboxes_by_mailbox_number(ACCOUNT_DB, 100)) == numeric
    assert ids(await store.vmboxes_by_mailbox_number(ACCOUNT_DB, "0100")) == numeric
    assert ids(await store.vmboxes_by_mailbox_number(ACCOUNT_DB, 200)) == ["vb-int"]
    assert ids(await store.vmboxes_by_mailbox_number(ACCOUNT_DB, "*")) == []
    box = (await store.vmboxes_by_mailbox(ACCOUNT_DB, "100"))[0]
    assert box == await store.get(ACCOUNT_DB, "vb-100")


async def test_owned_documents(loaded):
    store = loaded
    assert ids(await store.vmboxes_by_owner(ACCOUNT_DB, "user-1")) == ["vb-100", "vb-hotdesk"]
    assert ids(await store.vmboxes_by_owner(ACCOUNT_DB, "user-3")) == []  # hot-desk users replace owner_id
    assert ids(await store.devices_by_owner(ACCOUNT_DB, "user-1")) == ["dev-1", "dev-2", "dev-3"]
    assert ids(await store.devices_by_owner(ACCOUNT_DB, "user-2")) == ["dev-3", "dev-ip"]
    assert ids(await store.owned_by(ACCOUNT_DB, "user-1", "user")) == []
    assert (await store.get(ACCOUNT_DB, "user-1"))["first_name"] == "One"


async def test_endpoints_by_sip_username(loaded):
    store = loaded
    assert await store.endpoints_by_sip_username(ACCOUNT_DB, "alice") == [("dev-1", ["user-1"])]
    assert await store.endpoints_by_sip_username(ACCOUNT_DB, "trunk1") == [("trunk", []), ("trunk", [])]
    assert await store.endpoints_by_sip_username(ACCOUNT_DB, "bob") == []


async def test_vm_messages_by_box_and_folder(loaded):
    store = loaded
    # KAZOO's descending listing: newest timestamp first, equal timestamps by id, highest first
    assert ids(await store.vm_messages(MODB, "vb-100")) == [
        "202403-m4", "202403-m2", "202403-m3", "202403-m1", "202403-m9",
    ]
    assert ids(await store.vm_messages(MODB, "vb-100", folder="new")) == ["202403-m4", "202403-m1", "202403-m9"]
    assert ids(await store.vm_messages(MODB, "vb-100", folder="saved")) == ["202403-m2"]
    assert ids(await store.vm_messages(MODB, "vb-100", folder="deleted")) == ["202403-m3"]
    assert ids(await store.vm_messages(MODB.replace("/", "%2F"), "vb-0100")) == ["202403-m7"]
    assert await store.vm_messages(MODB, "no-such-box") == []


async def test_vm_messages_in_a_window_as_kazoos_key_range(loaded):
    store = loaded
    window = dict(since=63876877200, until=63876877300)       # both ends included
    assert ids(await store.vm_messages(MODB, "vb-100", **window)) == ["202403-m4", "202403-m2", "202403-m3"]
    # a message without a numeric timestamp lies outside every window
    assert ids(await store.vm_messages(MODB, "vb-100", since=0, until=10 ** 12)) == [
        "202403-m4", "202403-m2", "202403-m3", "202403-m1"]
    assert await store.vm_folder_counts(MODB, "vb-100", **window) == {"new": 1, "saved": 1, "deleted": 1}
    assert await store.vm_folder_counts(MODB, "vb-100") == {"new": 3, "saved": 1, "deleted": 1}
    assert await store.vm_folder_counts(MODB, "vb-100", since=63876877301) == {}
    assert await store.vm_folder_counts(MODB, "no-such-box") == {}


def _kazoo_message(doc_id, box, stamp, **extra):
    return {"_id": doc_id, "pvt_type": "mailbox_message", "source_id": box, "media_filename": f"{doc_id}.mp3",
            "metadata": {"folder": "new", "timestamp": stamp, "media_id": doc_id}, **extra}


async def test_vm_messages_count_every_message_whatever_holds_its_audio(store):
    """KAZOO's views look at neither ``_attachments`` nor ``pvt_attachments``: a message on a
    storage plan, one behind a migration link and one without audio count like one with
    ``_attachments`` (media.md 4.5)."""
    await store.create_db(MODB)
    inline = {"202403-inline.mp3": {"content_type": "audio/mpeg", "data": "SUQz"}}
    plan = {"202403-plan.mp3": {"content_type": "audio/mpeg", "length": 4180, "stub": False,
                                "handler": {"kz_att_s3": {"bucket": "vm", "key": "202403-plan.mp3"}}}}
    link = {"202403-link.mp3": {"content_type": "audio/mpeg", "length": 0, "stub": False,
                                "handler": {"kz_att_link": {"att_dbname": layout.account_db(ACCOUNT_ID, encoded=True),
                                                            "att_docid": "old-media"}}}}
    docs = [_kazoo_message("202403-inline", "vb-k", 63876877100, _attachments=inline),
            _kazoo_message("202403-plan", "vb-k", 63876877200, pvt_attachments=plan),
            _kazoo_message("202403-link", "vb-k", 63876877300, pvt_attachments=link),
            _kazoo_message("202403-none", "vb-k", 63876877400),
            {**_kazoo_message("202403-soft", "vb-k", 63876877500), "pvt_deleted": True},
            {**_kazoo_message("202403-nometa", "vb-k", 63876877600), "metadata": None}]
    assert all(result.ok for result in await store.bulk_put(MODB, docs))
    assert ids(await store.vm_messages(MODB, "vb-k", since=0, until=10 ** 12)) == [
        "202403-none", "202403-link", "202403-plan", "202403-inline"]
    assert await store.vm_folder_counts(MODB, "vb-k", since=0, until=10 ** 12) == {"new": 4}
    listed = {doc["_id"]: doc for doc in await store.vm_messages(MODB, "vb-k")}
    assert listed["202403-plan"]["pvt_attachments"] == plan
    assert listed["202403-link"]["pvt_attachments"] == link
    # a box id that is the prefix of another's is another box
    assert await store.vm_messages(MODB, "vb") == []


async def test_accounts_by_realm(loaded):
    store = loaded
    assert await store.accounts_by_realm("acme.example.com") == ["acc1" + "0" * 28]
    assert await store.find_account_by_realm("ACME.example.com") == "acc1" + "0" * 28
    assert await store.accounts_by_realm("shared.example.com") == ["acc2" + "0" * 28, "acc3" + "0" * 28]
    assert await store.find_account_by_realm("shared.example.com") is None  # several: KAZOO's "multiples"
    assert await store.find_account_by_realm("gone.example.com") is None
    assert await store.find_account_by_realm("5") is None
