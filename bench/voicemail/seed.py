"""Seeding the benchmark's store: one account, one box per compose caller, fresh boxes with messages per
check level (an in-memory store inside the service process)."""

from __future__ import annotations

import random
import secrets

ACCOUNT = "b0a1b2c3d4e5f60718293a4b5c6d7e8f"
REALM = "bench.example.com"
FIRST_BOX = 10000
CHECK_FIRST = 100000                # box indexes of check callers start here (fresh boxes per level)
PIN = "1234"
CHECK_MESSAGES = 2                  # new messages in a check caller's box
MESSAGE_SECONDS = (4.0, 12.0)       # their length, uniformly drawn


def box_id(i: int) -> str:
    return f"{i:032x}"


def box_doc(i: int, db: str) -> dict:
    from services.store import layout
    return layout.stamp({"_id": box_id(i), "name": f"Box {FIRST_BOX + i}", "mailbox": str(FIRST_BOX + i),
                         "pin": PIN, "is_setup": True}, pvt_type="vmbox", db=db)


async def seed(store, boxes: int) -> None:
    from services.store import layout
    db = layout.account_db(ACCOUNT)
    await store.init_db()
    await store.create_db(db)
    account = {"_id": ACCOUNT, "name": "bench", "realm": REALM}
    for target in (db, layout.ACCOUNTS_DB):
        await store.put(target, layout.stamp(dict(account), pvt_type="account", db=db))
    docs = [box_doc(i, db) for i in range(boxes)]
    for start in range(0, len(docs), 500):
        await store.bulk_put(db, docs[start:start + 500])
    # the gateway simulator fetches every prompt through media_req + GET (media.md 6.6)
    from testkit.media import seed_system_prompts
    await seed_system_prompts(store)


async def seed_check(store, first: int, count: int, seed_value: int) -> dict[str, list[list]]:
    """Boxes ``first`` .. ``first + count - 1`` with CHECK_MESSAGES new messages each (tiny audio: the
    simulator plays a message for its length without reading it).  Returns box index -> [[id, seconds]]."""
    import base64

    from services.store import layout
    rng = random.Random(seed_value)
    db = layout.account_db(ACCOUNT)
    boxes = [box_doc(i, db) for i in range(first, first + count)]
    for start in range(0, len(boxes), 500):
        await store.bulk_put(db, boxes[start:start + 500])
    when = layout.now_gregorian() - 3600
    modb = layout.modb_at(ACCOUNT, when)
    await store.create_db(modb)
    audio = base64.b64encode(b"audio").decode()
    docs, seeded = [], {}
    for i in range(first, first + count):
        for k in range(CHECK_MESSAGES):
            stamp = when - 60 * k
            doc_id = layout.modb_doc_id(stamp)
            seconds = round(rng.uniform(*MESSAGE_SECONDS), 1)
            name = f"{secrets.token_hex(16)}.mp3"
            doc = {"_id": doc_id, "name": "bench message", "source_type": "voicemail", "source_id": box_id(i),
                   "media_filename": name,
                   "metadata": {"media_id": doc_id, "folder": "new", "timestamp": stamp,
                                "length": int(seconds * 1000), "from": f"{3000 + i}@{REALM}",
                                "to": f"{FIRST_BOX + i}@{REALM}", "caller_id_number": str(3000 + i),
                                "caller_id_name": "Bench"},
                   "_attachments": {name: {"content_type": "audio/mpeg", "data": audio}}}
            docs.append(layout.stamp(doc, pvt_type="mailbox_message", db=modb, now=stamp))
            seeded.setdefault(str(i), []).append([doc_id, seconds])
    for start in range(0, len(docs), 500):
        await store.bulk_put(modb, docs[start:start + 500])
    return seeded
