"""mailbox, profile, messages and prompts without servers: a memory store and built-in config defaults."""

from __future__ import annotations

import secrets

import pytest

from services.store import layout
from services.store.memory import MemoryStore
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox, Mailboxes
from voicemail_svc.storage.messages import (Counts, Messages, RetentionEnforced, inline_audio, message_name,
                                            new_message_doc)
from voicemail_svc.boxes.profile import Keys, load_profile

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
DB = layout.account_db(ACCOUNT)
# 2024-03-05 17:07:03 UTC
WHEN = 63876877623


async def put(store, doc, pvt_type, db=DB):
    layout.stamp(doc, pvt_type=pvt_type, db=db)
    return await store.put(db, doc)


@pytest.fixture
async def store():
    s = MemoryStore()
    await s.create_db(DB)
    await put(s, {"_id": ACCOUNT, "realm": "acme.example.com", "timezone": "Europe/Paris"}, "account")
    return s


def call(**extra) -> CallInfo:
    base = {"Call-ID": "c1", "Account-ID": ACCOUNT, "From": "1001@acme.example.com",
            "To": "3456@acme.example.com", "Request": "3456@acme.example.com", "Caller-ID-Number": "1001",
            "Caller-ID-Name": "Alice"}
    base.update(extra)
    return CallInfo.from_call(base)


# ---- CallInfo ---------------------------------------------------------------------------------

def test_call_info_splits_addresses_and_prefixes_caller_id():
    info = call(**{"Key-Value-Store": {"prepend_cid_name": "VIP ", "cf_capture_group": "3456",
                                       "owner_id": "u1"}})
    assert (info.from_user, info.from_realm, info.to_user) == ("1001", "acme.example.com", "3456")
    assert info.caller_id_name == "VIP Alice" and info.caller_id_number == "1001"
    assert info.capture_group == "3456" and info.owner_id == "u1"
    assert info.account_db == "account%2F4f%2Fe6%2F9c5b61015084f1fe5684abc6e502"
    long = call(**{"Caller-ID-Name": "x" * 50})
    assert len(long.caller_id_name) == 35


# ---- resolution (voicemail.md 5.1) -------------------------------------------------------------

async def test_resolve_by_id_capture_and_owner(store):
    user = await put(store, {"_id": secrets.token_hex(16), "first_name": "U"}, "user")
    b1 = await put(store, {"_id": secrets.token_hex(16), "mailbox": "3456", "owner_id": user["_id"]}, "vmbox")
    b2 = await put(store, {"_id": secrets.token_hex(16), "mailbox": "7000", "owner_id": user["_id"]}, "vmbox")
    boxes = Mailboxes(store)
    assert (await boxes.resolve(call(), {"id": b1["_id"]})).id == b1["_id"]
    assert await boxes.resolve(call(), {"id": "nope"}) is None
    captured = call(**{"Key-Value-Store": {"cf_capture_group": "7000"}})
    assert (await boxes.resolve(captured, {})).id == b2["_id"]
    assert await boxes.resolve(call(**{"Key-Value-Store": {"cf_capture_group": "07000"}}), {}) is None
    owner_call = call(**{"Owner-ID": user["_id"], "Caller-ID-Number": "7000"})
    assert await boxes.resolve(owner_call, {"single_mailbox_login": True}) is None      # two boxes
    assert (await boxes.resolve(owner_call, {"callerid_match_login": True})).id == b2["_id"]
    assert await boxes.resolve(owner_call, {}) is None
    found = await boxes.get(ACCOUNT, b1["_id"])
    assert found.owner_id == user["_id"] and found.is_owned_by(user["_id"]) and not found.is_owned_by("")


async def test_resolve_by_authorizing_device_owner_and_single_box(store):
    user = await put(store, {"_id": secrets.token_hex(16)}, "user")
    device = await put(store, {"_id": secrets.token_hex(16), "owner_id": user["_id"]}, "device")
    box = await put(store, {"_id": secrets.token_hex(16), "mailbox": "3456", "owner_id": user["_id"]}, "vmbox")
    found = await Mailboxes(store).resolve(call(**{"Authorizing-ID": device["_id"]}), {"single_mailbox_login": True})
    assert found is not None and found.id == box["_id"]


async def test_owner_gone_means_no_owner(store):
    box = await put(store, {"_id": secrets.token_hex(16), "mailbox": "1", "owner_id": secrets.token_hex(16)}, "vmbox")
    found = await Mailboxes(store).get(ACCOUNT, box["_id"])
    assert found.owner_id == "" and not found.is_owned_by(box["owner_id"])


async def test_typed_number_is_numeric_and_unique(store):
    await put(store, {"_id": secrets.token_hex(16), "mailbox": "100"}, "vmbox")
    boxes = Mailboxes(store)
    assert (await boxes.by_number(ACCOUNT, "0100")).number == "100"
    await put(store, {"_id": secrets.token_hex(16), "mailbox": "0100"}, "vmbox")
    assert await boxes.by_number(ACCOUNT, "100") is None


async def test_timezone_chain(store):
    user = await put(store, {"_id": secrets.token_hex(16), "timezone": "Asia/Tokyo"}, "user")
    boxes = Mailboxes(store)
    own = Mailbox({"_id": "b", "timezone": "America/New_York"}, ACCOUNT)
    assert await boxes.timezone(own) == "America/New_York"
    inherit = Mailbox({"_id": "b", "timezone": "inherit"}, ACCOUNT, user)
    assert await boxes.timezone(inherit) == "Asia/Tokyo"
    assert await boxes.timezone(Mailbox({"_id": "b"}, ACCOUNT)) == "Europe/Paris"
    assert await boxes.timezone(None) == "America/Los_Angeles"


# ---- profile ------------------------------------------------------------------------------------

def test_keys_read_code_and_schema_names_code_wins():
    keys = Keys.from_config({"rec_unavailable": "7", "record_name": "8", "rec_name": "9", "return_main": "*",
                             "continue": "#", "login": "too long"})
    assert keys.record_unavailable == "7" and keys.record_name == "8" and keys.return_main_menu == "*"
    assert keys.continue_ == "#" and keys.login == "*"
    assert Keys().continue_ is None


async def test_profile_precedence_data_box_defaults():
    box = Mailbox({"_id": "b", "max_message_length": 120, "interdigit_timeout": 3000, "skip_greeting": "true",
                   "media_extension": "wav", "save_after_notify": True, "delete_after_notify": True}, ACCOUNT)
    profile = await load_profile(None, box=box, data={"max_message_length": "60", "interdigit_timeout": 1000},
                                 account_id=ACCOUNT)
    assert profile.max_message_length_s == 60 and profile.interdigit_ms == 3000
    assert profile.skip_greeting and profile.media_extension == "wav" and profile.after_notify == "save"
    bare = await load_profile(None, box=Mailbox({"_id": "b"}, ACCOUNT), data={"max_message_length": 0},
                              account_id=ACCOUNT)
    assert bare.max_message_length_s == 500 and bare.interdigit_ms == 2000 and bare.media_extension == "mp3"
    assert not bare.check_if_owner and bare.after_notify == "nothing" and bare.min_message_size_ms == 500


# ---- messages -----------------------------------------------------------------------------------

def test_message_name_local_time_unpadded_and_utc_fallback():
    assert message_name("3456", WHEN, "America/New_York") == "mailbox 3456 message 2024-03-05 12:7:3"
    assert message_name("3456", WHEN, "Mars/Olympus") == "mailbox 3456 message 2024-03-05 17:7:3 UTC"


def test_new_message_doc_shape():
    box = Mailbox({"_id": "b" * 32, "mailbox": "3456"}, ACCOUNT)
    doc = new_message_doc(box=box, call=call(), attachment="a.mp3", length_ms=4180, timezone="UTC", now=WHEN)
    assert doc["_id"].startswith("202403-") and doc["metadata"]["media_id"] == doc["_id"]
    assert doc["pvt_type"] == "mailbox_message" and doc["source_id"] == "b" * 32
    assert doc["pvt_account_db"] == layout.modb(ACCOUNT, 2024, 3, encoded=True)
    assert doc["metadata"]["timestamp"] == doc["utc_seconds"] == WHEN
    assert doc["metadata"]["from"] == "1001@acme.example.com" and doc["metadata"]["folder"] == "new"


async def test_listing_counts_every_message_within_retention_whatever_holds_its_audio(store):
    box = Mailbox({"_id": "b" * 32, "mailbox": "3456"}, ACCOUNT)
    messages = Messages(store)
    now = layout.now_gregorian()

    async def add(folder, age_days, audio=True):
        name = f"{secrets.token_hex(16)}.mp3"
        doc = new_message_doc(box=box, call=call(), attachment=name, length_ms=1000,
                              timezone="UTC", now=now - age_days * 86400, folder=folder)
        if audio:
            return await messages.store_with_audio(ACCOUNT, {**doc, "_attachments": inline_audio(
                name, b"x", "audio/mpeg")}, audio_name=name)
        modb = layout.modb_of_doc_id(ACCOUNT, doc["_id"])
        await store.create_db(modb)
        return await store.put(modb, doc)   # as KAZOO leaves a message whose upload failed

    await add("new", 0)
    await add("new", 1, audio=False)          # no audio: counted all the same, as KAZOO's views do
    saved = await add("saved", 40)
    await add("deleted", 2)
    old = await add("new", 100)               # past the 93-day window
    assert await messages.counts(ACCOUNT, box.id, retention_days=93) == Counts(2, 1)
    listing = await messages.listing(ACCOUNT, box.id, retention_days=93)
    assert [m["metadata"]["folder"] for m in listing] == ["new", "new", "deleted", "saved"]
    moved = await messages.set_folder(ACCOUNT, saved["_id"], "deleted")
    assert moved["metadata"]["folder"] == "deleted" and "pvt_deleted" not in moved
    with pytest.raises(RetentionEnforced):
        await messages.set_folder(ACCOUNT, old["_id"], "saved", retention_days=93)
    forced = await messages.get(ACCOUNT, old["_id"])
    assert forced["metadata"]["folder"] == "deleted" and forced["retention"] == "enforced"
