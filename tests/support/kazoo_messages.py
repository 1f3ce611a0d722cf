"""Voicemail messages as KAZOO keeps them, whatever holds their audio (media.md 4.5).

``kazoo_message(...)`` starts from a real KAZOO message document (the reference fixture
``201710-vm_message0000000000000000000001``, KAZOO's own fields such as
``pvt_document_hash`` and ``pvt_node`` included), gives it an id in the month of its
timestamp, a box and a folder, and puts its audio where ``audio`` says:

* ``"inline"`` -- ``_attachments`` (the bytes given, inline, as a dump carries them);
* ``"plan"`` -- ``pvt_attachments`` behind a storage plan's handler (``kz_att_s3``), as KAZOO
  writes every message of an account on a storage plan;
* ``"link"`` -- ``pvt_attachments`` with a ``kz_att_link`` handler to a media document of the
  account database, as KAZOO's migration of pre-4.0 boxes leaves them (length 0, stub false);
* ``"none"`` -- nowhere (KAZOO's leftover of a failed upload).

``link_target(...)`` is the old media document such a link points at.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from typing import Any

from services.store import layout
from testkit.shared import reference

FIXTURE_DB = "account%2Fac%2Fco%2Funt0000000000000000000000003-201710"
FIXTURE_ID = "201710-vm_message0000000000000000000001"


def fixture_message() -> dict[str, Any]:
    """The real KAZOO message document, as the reference fixtures hold it."""
    return json.loads(reference("kazoo-fixtures", "dbs", FIXTURE_DB, "docs", f"{FIXTURE_ID}.json").read_text())


def storage_plan_entry(name: str, *, bucket: str = "voicemail") -> dict[str, Any]:
    return {name: {"content_type": "audio/mpeg", "length": 2916, "stub": False,
                   "handler": {"kz_att_s3": {"bucket": bucket, "key": f"{bucket}/{name}"}}}}


def migration_link_entry(name: str, *, account_id: str, target_id: str, att_name: str | None = None) -> dict[str, Any]:
    settings = {"att_dbname": layout.account_db(account_id, encoded=True), "att_docid": target_id}
    if att_name is not None:
        settings["att_name"] = att_name
    return {name: {"content_type": "audio/mpeg", "length": 0, "stub": False, "handler": {"kz_att_link": settings}}}


def link_target(account_id: str, target_id: str, data: bytes, *, name: str = "old.mp3") -> dict[str, Any]:
    """The media document of the account database a migration link points at."""
    doc = {"_id": target_id, "name": "voicemail message media", "description": "voicemail message media",
           "media_source": "recording", "source_type": "voicemail", "streamable": True,
           "_attachments": {name: {"content_type": "audio/mpeg", "data": base64.b64encode(data).decode()}}}
    return layout.stamp(doc, pvt_type="media", db=layout.account_db(account_id))


def kazoo_message(account_id: str, box_id: str, *, timestamp: int, folder: str = "new", audio: str = "plan",
                  data: bytes = b"ID3 inline audio", link_to: str | None = None, mailbox: str = "3456",
                  realm: str = "acme.example.com") -> dict[str, Any]:
    """A KAZOO message of ``box_id`` stamped ``timestamp`` (Gregorian) with its audio where ``audio`` says."""
    doc = copy.deepcopy(fixture_message())
    for key in ("_rev", "_attachments"):
        doc.pop(key, None)
    doc_id = layout.modb_doc_id(timestamp)
    name = f"{secrets.token_hex(16)}.mp3"
    modb = layout.modb_at(account_id, timestamp)
    doc.update({"_id": doc_id, "source_id": box_id, "media_filename": name, "utc_seconds": timestamp,
                "name": f"mailbox {mailbox} message (kazoo)", "pvt_account_id": account_id,
                "pvt_account_db": layout.encode_db_name(modb), "pvt_created": timestamp, "pvt_modified": timestamp})
    doc["metadata"].update({"media_id": doc_id, "timestamp": timestamp, "folder": folder,
                            "to": f"{mailbox}@{realm}"})
    if audio == "inline":
        doc["_attachments"] = {name: {"content_type": "audio/mpeg", "data": base64.b64encode(data).decode()}}
    elif audio == "plan":
        doc["pvt_attachments"] = storage_plan_entry(name)
    elif audio == "link":
        if link_to is None:
            raise ValueError("a migration link needs the id of its target (link_to)")
        doc["pvt_attachments"] = migration_link_entry(name, account_id=account_id, target_id=link_to)
    elif audio != "none":
        raise ValueError(f"unknown place for the audio: {audio!r}")
    return doc


async def put_message(store, account_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Write a message into its month database (created when missing), as KAZOO left it."""
    modb = layout.modb_of_doc_id(account_id, doc["_id"])
    await store.create_db(modb)
    return await store.put(modb, doc)
