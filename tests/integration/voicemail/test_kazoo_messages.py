"""Messages as KAZOO keeps them, on every store backend (memory, SQLite, the CouchDB-API server).

* Counting and listing are KAZOO's views (``mailbox_messages/count_per_box_folder`` and
  ``listing_by_mailbox``): every non-deleted ``mailbox_message`` inside the retention window,
  whatever holds its audio; the monthly databases newest first, each newest first (spec
  README, "KAZOO defects we fix"; voicemail.md 3.3).
* ``kzvoice import`` keeps ``pvt_attachments`` as KAZOO wrote them, and a document read from
  KAZOO and written back by kzvoice (a folder change) keeps every field it does not own.
* Our own writes carry their audio: one write, idempotent, KAZOO's id-conflict rule.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.store import layout
from services.store.importer import import_tree
from voicemail_svc.storage.messages import Counts, Messages, inline_audio

from tests.support.kazoo_messages import (FIXTURE_DB, kazoo_message, link_target, migration_link_entry,
                                          put_message, storage_plan_entry)
from testkit.shared import kazoo_fixtures

pytestmark = pytest.mark.integration

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
BOX = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
OTHER_BOX = "70007000700070007000700070007000"
TARGET = "0ld0media0000000000000000000000a"


def gregorian(*when: int) -> int:
    return int(datetime(*when, tzinfo=timezone.utc).timestamp()) + layout.GREGORIAN_OFFSET


NOW = gregorian(2024, 3, 20, 12, 0, 0)


async def seed(store) -> dict[str, dict]:
    """Messages of one box in March and February 2024 (``NOW`` is 20 March), audio everywhere KAZOO
    keeps it, and the ones KAZOO's views leave out."""
    await store.create_db(layout.account_db(ACCOUNT))
    await store.put(layout.account_db(ACCOUNT), link_target(ACCOUNT, TARGET, b"old media audio"))
    docs = {
        "plan": kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 19), audio="plan"),
        "link": kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 18), audio="link", link_to=TARGET),
        "none": kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 17), audio="none"),
        "inline": kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 17), audio="inline", folder="saved"),
        "deleted": kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 16), folder="deleted"),
        "february": kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 2, 10), audio="plan", folder="saved"),
        # soft deleted, past retention, another box, stamped after now, no folder: KAZOO counts none of them
        "soft": {**kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 15)), "pvt_deleted": True},
        "old": kazoo_message(ACCOUNT, BOX, timestamp=NOW - 100 * 86400),
        "other": kazoo_message(ACCOUNT, OTHER_BOX, timestamp=gregorian(2024, 3, 15)),
        "future": kazoo_message(ACCOUNT, BOX, timestamp=NOW + 3600),
    }
    folderless = kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 14))
    del folderless["metadata"]["folder"]
    docs["folderless"] = folderless
    # kept in February's database although stamped in March (imported data can be so): KAZOO reads the
    # databases newest first, so it comes after every message of March's database
    late = kazoo_message(ACCOUNT, BOX, timestamp=gregorian(2024, 3, 19, 6))
    late["_id"] = late["metadata"]["media_id"] = f"202402-{late['_id'].split('-', 1)[1]}"
    docs["late"] = late
    for doc in docs.values():
        await put_message(store, ACCOUNT, doc)
    return docs


async def test_an_account_on_a_storage_plan_counts_what_kazoos_views_count(store):
    docs = await seed(store)
    messages = Messages(store)
    assert await messages.counts(ACCOUNT, BOX, retention_days=93, now=NOW) == Counts(new=4, saved=2)
    listing = await messages.listing(ACCOUNT, BOX, retention_days=93, now=NOW)
    tie = sorted([docs["none"]["_id"], docs["inline"]["_id"]], reverse=True)    # same timestamp: id, highest first
    expected = [docs["plan"]["_id"], docs["link"]["_id"], *tie, docs["deleted"]["_id"], docs["folderless"]["_id"],
                docs["late"]["_id"], docs["february"]["_id"]]
    assert [doc["_id"] for doc in listing] == expected
    # the listing hands out the documents as stored: the audio stays where KAZOO put it
    by_id = {doc["_id"]: doc for doc in listing}
    assert by_id[docs["plan"]["_id"]]["pvt_attachments"] == docs["plan"]["pvt_attachments"]
    assert by_id[docs["link"]["_id"]]["pvt_attachments"] == docs["link"]["pvt_attachments"]
    assert "_attachments" not in by_id[docs["none"]["_id"]] and "pvt_attachments" not in by_id[docs["none"]["_id"]]
    # a shorter retention drops February's messages, as KAZOO's key range does
    assert await messages.counts(ACCOUNT, BOX, retention_days=20, now=NOW) == Counts(new=4, saved=1)


def kazoo_tree(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    """A dump in KAZOO's layout: the real fixture messages and a box, plus KAZOO-shaped messages on a
    storage plan and behind a migration link (as media.md 4.5 describes them)."""
    source = kazoo_fixtures() / "dbs"
    root = tmp_path / "dump"
    account = "account0000000000000000000000003"
    account_db = layout.account_db(account, encoded=True)
    modb_dir = root / "dbs" / FIXTURE_DB / "docs"
    modb_dir.mkdir(parents=True)
    shutil.copy(source / FIXTURE_DB / "docs" / "201710-vm_message0000000000000000000001.json", modb_dir)
    (root / "dbs" / account_db / "docs").mkdir(parents=True)
    shutil.copy(source / account_db / "docs" / "vmbox000000000000000000000000003.json",
                root / "dbs" / account_db / "docs")
    real = json.loads((modb_dir / "201710-vm_message0000000000000000000001.json").read_text())
    shaped = {}
    for n, entry in enumerate((storage_plan_entry(f"{'c' * 32}.mp3"),
                               migration_link_entry(f"{'d' * 32}.mp3", account_id=account, target_id="vmbox01-msg01"))):
        doc = copy.deepcopy(real)
        doc.pop("_attachments")
        doc["_id"] = doc["metadata"]["media_id"] = f"201710-kazoo-shaped-{n}"
        doc["media_filename"] = next(iter(entry))
        doc["pvt_attachments"] = entry
        (modb_dir / f"{doc['_id']}.json").write_text(json.dumps(doc))
        shaped[doc["_id"]] = doc
    return root, {real["_id"]: real, **shaped}


def without(doc: dict, *keys: str) -> dict:
    return {k: v for k, v in doc.items() if k not in keys}


async def test_import_keeps_pvt_attachments_and_a_folder_change_keeps_every_other_field(store, tmp_path):
    root, originals = kazoo_tree(tmp_path)
    report = await import_tree(store, root, progress=lambda line: None, error=lambda line: None)
    assert report.errors == []
    modb = layout.normalize_db_name(FIXTURE_DB)
    account = "account0000000000000000000000003"
    messages = Messages(store)
    for doc_id, original in originals.items():
        imported = await store.get(modb, doc_id)
        # as KAZOO wrote it: pvt_attachments as they are (the dump's _attachments stub has no bytes)
        assert without(imported, "_rev", "_attachments") == without(original, "_rev", "_attachments")
        moved = await messages.set_folder(account, doc_id, "saved")
        assert moved is not None
        stored = await store.get(modb, doc_id)
        assert stored["metadata"] == {**original["metadata"], "folder": "saved"}
        assert without(stored, "_rev", "_attachments", "metadata", "pvt_modified") == \
            without(original, "_rev", "_attachments", "metadata", "pvt_modified")
        assert stored.get("_attachments") == imported.get("_attachments")


async def test_our_own_write_carries_its_audio_and_is_idempotent(store):
    messages = Messages(store)
    doc = kazoo_message(ACCOUNT, BOX, timestamp=NOW, audio="none")
    name = doc["media_filename"]
    with pytest.raises(ValueError):
        await messages.store_with_audio(ACCOUNT, doc, audio_name=name)        # never a message without audio
    audio = inline_audio(name, b"the recording", "audio/mpeg")
    first = await messages.store_with_audio(ACCOUNT, {**doc, "_attachments": audio}, audio_name=name)
    again = await messages.store_with_audio(ACCOUNT, {**doc, "_attachments": audio}, audio_name=name)
    assert first["_id"] == again["_id"] == doc["_id"] and again["_rev"] == first["_rev"]
    modb = layout.modb_of_doc_id(ACCOUNT, doc["_id"])
    assert await store.get_attachment(modb, doc["_id"], name) == b"the recording"
    # an id taken by another document: KAZOO's rule, a new id in the same month
    other = {**kazoo_message(ACCOUNT, BOX, timestamp=NOW, audio="none"), "_id": doc["_id"]}
    other_name = other["media_filename"]
    moved = await messages.store_with_audio(ACCOUNT, {**other, "_attachments": inline_audio(
        other_name, b"another recording", "audio/mpeg")}, audio_name=other_name)
    assert moved["_id"] != doc["_id"] and moved["_id"].startswith("202403-")
    assert moved["metadata"]["media_id"] == moved["_id"]
    assert await store.get_attachment(modb, moved["_id"], other_name) == b"another recording"
    # a copy kept behind a storage handler is written with its entry, no bytes
    plan = kazoo_message(ACCOUNT, BOX, timestamp=NOW, audio="plan")
    await messages.store_with_audio(ACCOUNT, plan, audio_name=plan["media_filename"])
    assert (await store.get(modb, plan["_id"]))["pvt_attachments"] == plan["pvt_attachments"]
