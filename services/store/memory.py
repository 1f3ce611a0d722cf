"""``memory://``: the store in plain dicts, for tests and ``kzvoice demo``.

Every method runs without awaiting in between its reads and writes, so each is
atomic on the event loop.  Documents are copied through JSON on the way in and
out, so callers never share objects with the store.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from . import local, views
from .interface import (
    ALL_KEYS,
    AttachmentData,
    BulkResult,
    DatabaseNotFound,
    NotFound,
    Store,
    ViewRow,
    collect_bytes,
)


@dataclass
class _Entry:
    rev: str
    deleted: bool
    body: str | None  # JSON
    attachments: dict[str, local.AttachmentMeta]
    data: dict[str, bytes]
    rows: list[tuple[str, str, Any]]

    def current(self) -> local.Current:
        body = None if self.body is None else json.loads(self.body)
        return local.Current(self.rev, self.deleted, body, self.attachments)


@dataclass
class _Database:
    docs: dict[str, _Entry] = field(default_factory=dict)
    # (view name, key JSON) -> doc id -> values emitted under that key
    index: dict[tuple[str, str], dict[str, list[Any]]] = field(default_factory=dict)
    # view name -> its keys (JSON) in sorted order, so a prefix query reads only its range
    keys: dict[str, list[str]] = field(default_factory=dict)
    # (view name, key JSON) -> when its bucket was made: queries answer in that order, as before
    made: dict[tuple[str, str], int] = field(default_factory=dict)

    def store(self, write: local.Write) -> None:
        old = self.docs.get(write.doc_id)
        if old is not None:
            for view_name, key, _ in old.rows:
                # an emptied bucket stays, keeping its place in the answer order
                self.index.get((view_name, key), {}).pop(write.doc_id, None)
        data = {} if old is None or write.deleted else old.data
        data = {name: write.new_data.get(name, data.get(name, b"")) for name in write.attachments}
        body = None if write.body is None else local.dumps(write.body)
        self.docs[write.doc_id] = _Entry(write.rev, write.deleted, body, write.attachments, data, write.rows)
        for view_name, key, value in write.rows:
            bucket = self.index.get((view_name, key))
            if bucket is None:
                bucket = self.index[(view_name, key)] = {}
                self.made[(view_name, key)] = len(self.made)     # buckets are never removed
                bisect.insort(self.keys.setdefault(view_name, []), key)
            bucket.setdefault(write.doc_id, []).append(value)

    def keys_with_prefix(self, view_name: str, prefix: str) -> list[str]:
        """The keys of ``view_name`` starting with ``prefix``, in the order their buckets were made."""
        keys = self.keys.get(view_name, [])
        found = []
        for i in range(bisect.bisect_left(keys, prefix), len(keys)):
            if not keys[i].startswith(prefix):
                break
            found.append(keys[i])
        found.sort(key=lambda k: self.made[(view_name, k)])
        return found

    def live(self, doc_id: str) -> _Entry:
        entry = self.docs.get(doc_id)
        if entry is None or entry.deleted:
            raise NotFound(f"{doc_id}: no such document")
        return entry

    def render(self, doc_id: str, entry: _Entry) -> dict:
        return local.render(doc_id, entry.rev, json.loads(entry.body), entry.attachments)


class MemoryStore(Store):
    def __init__(self) -> None:
        self._dbs: dict[str, _Database] = {}

    async def close(self) -> None:
        pass

    def _database(self, db: str) -> _Database:
        try:
            return self._dbs[db]
        except KeyError:
            raise DatabaseNotFound(f"{db}: no such database") from None

    def _current(self, database: _Database, doc_id: str) -> local.Current | None:
        entry = database.docs.get(doc_id)
        return None if entry is None else entry.current()

    async def _create_db(self, db: str) -> bool:
        if db in self._dbs:
            return False
        self._dbs[db] = _Database()
        return True

    async def _delete_db(self, db: str) -> bool:
        return self._dbs.pop(db, None) is not None

    async def _db_exists(self, db: str) -> bool:
        return db in self._dbs

    async def _list_dbs(self) -> list[str]:
        return list(self._dbs)

    async def _get(self, db: str, doc_id: str) -> dict:
        database = self._database(db)
        return database.render(doc_id, database.live(doc_id))

    async def _put(self, db: str, doc: dict) -> str:
        database = self._database(db)
        write = local.plan_put(doc, self._current(database, doc["_id"]))
        database.store(write)
        return write.rev

    async def _delete(self, db: str, doc_id: str, rev: str) -> str:
        database = self._database(db)
        write = local.plan_delete(doc_id, rev, self._current(database, doc_id))
        database.store(write)
        return write.rev

    async def _bulk_put(self, db: str, docs: list[dict]) -> list[BulkResult]:
        database = self._database(db)
        results = []
        for doc in docs:
            write, result = local.plan_bulk_entry(doc, self._current(database, doc["_id"]))
            if write is not None:
                database.store(write)
            results.append(result)
        return results

    async def _bulk_get(self, db: str, ids: list[str]) -> list[dict | None]:
        database = self._database(db)
        found: list[dict | None] = []
        for doc_id in ids:
            entry = database.docs.get(doc_id)
            found.append(None if entry is None or entry.deleted else database.render(doc_id, entry))
        return found

    async def _all_docs(self, db: str, *, include_docs: bool) -> list[dict]:
        database = self._database(db)
        rows = []
        for doc_id, entry in database.docs.items():
            if entry.deleted:
                continue
            row = {"id": doc_id, "rev": entry.rev}
            if include_docs:
                row["doc"] = database.render(doc_id, entry)
            rows.append(row)
        return rows

    async def _put_attachment(self, db: str, doc_id: str, name: str, data: AttachmentData, *,
                              content_type: str, rev: str | None) -> str:
        content = await collect_bytes(data)
        # Read the current state only after the upload is complete: nothing may
        # change between the check of ``rev`` and the write.
        database = self._database(db)
        write = local.plan_attachment(doc_id, name, content, content_type, rev, self._current(database, doc_id))
        database.store(write)
        return write.rev

    async def _stream_attachment(self, db: str, doc_id: str, name: str, chunk_size: int, offset: int = 0,
                                 length: int | None = None) -> AsyncIterator[bytes]:
        entry = self._database(db).live(doc_id)
        if name not in entry.attachments:
            raise NotFound(f"{doc_id}: no attachment {name!r}")
        data = memoryview(entry.data[name])  # bytes never change in place: a snapshot, sliced without copies
        stop = len(data) if length is None else min(len(data), offset + length)
        for start in range(offset, stop, chunk_size):
            yield bytes(data[start:min(start + chunk_size, stop)])

    async def _view(self, db: str, view: views.View, *, key: Any = ALL_KEYS,
                    include_docs: bool = False) -> list[ViewRow]:
        database = self._database(db)
        if key is ALL_KEYS or isinstance(key, views.KeyPrefix):
            start = "" if key is ALL_KEYS else key.text()
            buckets = [(json.loads(k), database.index[(view.name, k)])
                       for k in database.keys_with_prefix(view.name, start)]
        else:
            wanted = views.key_json(key)
            buckets = [(key, database.index.get((view.name, wanted), {}))]
        rows = []
        for row_key, ids in buckets:
            for doc_id, values in ids.items():
                doc = database.render(doc_id, database.docs[doc_id]) if include_docs else None
                rows.extend(ViewRow(row_key, doc_id, value, doc) for value in values)
        return rows
