"""The spec's default voicemail fixture (voicemail.md 11) as documents, for unit and integration tests alike.

Account ``ACCOUNT`` (realm ``acme.example.com``), user ``USER`` with device
``DEVICE`` (``dev1``), box ``BOX`` (3456, PIN 1234, set up, owned by
``USER``); ``BOX_7000`` is the id tests give a second box.  ``seed(store)``
writes them; ``box_doc`` and ``message_doc`` build more; ``upsert`` writes any
of them where it belongs (a message into its month database).  ``CheckSpy``
stands in front of the compose -> check hand-over (``Deps.check``).
"""

from __future__ import annotations

import secrets
from typing import Any

from services.store import layout

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
DB = layout.account_db(ACCOUNT)
REALM = "acme.example.com"
USER = "699ed7e3d583e2577ac017c575f87262"
DEVICE = "d509114b66efabf32dfd78dc464b46dd"
BOX = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
BOX_7000 = "70007000700070007000700070007000"


def box_doc(box_id: str = BOX, mailbox: str = "3456", **fields: Any) -> dict[str, Any]:
    """A vmbox document like ``BOX``; a field given as None is left out."""
    doc = {"_id": box_id, "name": f"Box {mailbox}", "mailbox": mailbox, "pin": "1234", "is_setup": True,
           "owner_id": USER}
    doc.update(fields)
    return layout.stamp({k: v for k, v in doc.items() if v is not None}, pvt_type="vmbox", db=DB)


def message_doc(box_id: str = BOX, *, folder: str = "new", age_s: int = 3600, caller: str | None = "1001",
                length: int = 4000, timestamp: int | None = None) -> dict[str, Any]:
    """A stored message (its audio attached) in ``folder``, ``age_s`` seconds old, from ``caller``."""
    now = layout.now_gregorian()
    stamp = timestamp if timestamp is not None else now - age_s
    doc_id = layout.modb_doc_id(stamp)
    attachment = f"{secrets.token_hex(16)}.mp3"
    metadata = {"media_id": doc_id, "call_id": secrets.token_hex(8), "from": f"{caller or 'anon'}@{REALM}",
                "to": f"3456@{REALM}", "length": length, "timestamp": stamp, "folder": folder,
                "caller_id_name": "Alice"}
    if caller:
        metadata["caller_id_number"] = caller
    doc = {"_id": doc_id, "name": "a message", "source_type": "voicemail", "source_id": box_id,
           "media_source": "recording", "media_filename": attachment, "utc_seconds": stamp, "metadata": metadata,
           "_attachments": {attachment: {"content_type": "audio/mpeg", "data": "SUQzAAAA"}}}
    return layout.stamp(doc, pvt_type="mailbox_message", db=layout.modb_at(ACCOUNT, stamp), now=stamp)


async def upsert(store, doc: dict[str, Any]) -> dict[str, Any]:
    """Write ``doc`` over whatever revision is stored: the account database, a message its month's."""
    db = DB
    if doc.get("pvt_type") == "mailbox_message":
        db = layout.modb_of_doc_id(ACCOUNT, doc["_id"])
        await store.create_db(db)
    return await store.put_over(db, doc)


async def seed(store) -> None:
    """The account, ``USER`` with ``DEVICE``, and ``BOX``."""
    from gateway_sim import seed_account, seed_device, seed_user
    await seed_account(store, ACCOUNT, realm=REALM)
    await store.create_db(layout.SYSTEM_CONFIG_DB)
    await seed_user(store, ACCOUNT, USER, first_name="Ulla")
    await seed_device(store, ACCOUNT, DEVICE, username="dev1", owner_id=USER)
    await upsert(store, box_doc())


class CheckSpy:
    """The check hand-over (``Deps.check``): records the box it was given (None: the check action itself),
    then runs the real check."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []

    async def __call__(self, deps, call, info, data, *, box=None):
        from voicemail_svc.check import run_check
        self.calls.append(box.id if box is not None else None)
        return await run_check(deps, call, info, data, box=box)
