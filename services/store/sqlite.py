"""``sqlite:///PATH``: the embedded default, one SQLite file in WAL mode.

Tables: ``dbs`` (database names), ``docs`` (one row per document id: current
revision, deleted flag, JSON body, attachment metadata), ``attachments`` (bytes),
``view_rows`` (the rows every view of :mod:`services.store.views` emits for each
document, kept in the same transaction as the document) and ``meta`` (the view
version the rows were built with; a different version rebuilds them at open).

Threading: every SQLite call runs on one dedicated worker thread.  A statement is
fast, but a commit waits for the disk and must not stall the event loop; one thread
(rather than a pool) because a sqlite3 connection belongs to the thread that made
it, and because running each operation's read-check-write there in sequence makes
it atomic without further locks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from . import local, views
from .interface import (
    ALL_KEYS,
    AttachmentData,
    BadRequest,
    BulkResult,
    DatabaseNotFound,
    NotFound,
    Store,
    StoreError,
    ViewRow,
    collect_bytes,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dbs (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS docs (
    db TEXT NOT NULL, id TEXT NOT NULL, rev TEXT NOT NULL, deleted INTEGER NOT NULL,
    body TEXT, attachments TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (db, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attachments (
    db TEXT NOT NULL, doc_id TEXT NOT NULL, name TEXT NOT NULL,
    token TEXT NOT NULL, data BLOB NOT NULL,
    UNIQUE (db, doc_id, name)
);
CREATE TABLE IF NOT EXISTS view_rows (
    db TEXT NOT NULL, view TEXT NOT NULL, key TEXT NOT NULL, doc_id TEXT NOT NULL, value TEXT
);
CREATE INDEX IF NOT EXISTS view_rows_by_key ON view_rows (db, view, key);
CREATE INDEX IF NOT EXISTS view_rows_by_doc ON view_rows (db, doc_id);
"""


def path_from_url(url: str) -> str:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL (SQLAlchemy's
    convention); ``sqlite:///:memory:`` for a private in-memory database."""
    if not url.startswith("sqlite:///"):
        raise BadRequest(f"{url!r}: expected sqlite:///PATH (relative) or sqlite:////PATH (absolute)")
    path = url[len("sqlite:///"):]
    if not path:
        raise BadRequest(f"{url!r}: no file named")
    return path


class SQLiteStore(Store):
    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kzvoice-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> "SQLiteStore":
        store = cls(path_from_url(url))
        try:
            await store._run(store._open)
        except BaseException:
            await store.close()
            raise
        return store

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError("store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- runs on the worker thread ------------------------------------------------------

    def _open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        self._conn = conn
        row = conn.execute("SELECT value FROM meta WHERE key='views_version'").fetchone()
        if row is None or row[0] != views.VERSION:
            self._reindex()

    def _reindex(self) -> None:
        conn = self._conn
        with _transaction(conn):
            conn.execute("DELETE FROM view_rows")
            for db, doc_id, body in conn.execute("SELECT db, id, body FROM docs WHERE deleted = 0").fetchall():
                doc = json.loads(body)
                doc["_id"] = doc_id
                self._insert_rows(db, doc_id, views.rows_for(doc))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('views_version', ?)", (views.VERSION,))

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _require_db(self, db: str) -> None:
        if self._conn.execute("SELECT 1 FROM dbs WHERE name = ?", (db,)).fetchone() is None:
            raise DatabaseNotFound(f"{db}: no such database")

    def _current(self, db: str, doc_id: str) -> local.Current | None:
        row = self._conn.execute(
            "SELECT rev, deleted, body, attachments FROM docs WHERE db = ? AND id = ?", (db, doc_id)
        ).fetchone()
        if row is None:
            return None
        rev, deleted, body, attachments = row
        metas = {name: local.AttachmentMeta.from_json(m) for name, m in json.loads(attachments).items()}
        return local.Current(rev, bool(deleted), None if body is None else json.loads(body), metas)

    def _insert_rows(self, db: str, doc_id: str, rows: list[tuple[str, str, Any]]) -> None:
        self._conn.executemany(
            "INSERT INTO view_rows (db, view, key, doc_id, value) VALUES (?, ?, ?, ?, ?)",
            [(db, name, key, doc_id, None if value is None else local.dumps(value)) for name, key, value in rows],
        )

    def _store(self, db: str, write: local.Write) -> None:
        """Write one document's new state; the caller holds the transaction."""
        conn = self._conn
        metas = {name: meta.to_json() for name, meta in write.attachments.items()}
        conn.execute(
            "INSERT OR REPLACE INTO docs (db, id, rev, deleted, body, attachments) VALUES (?, ?, ?, ?, ?, ?)",
            (db, write.doc_id, write.rev, int(write.deleted),
             None if write.body is None else local.dumps(write.body), local.dumps(metas)),
        )
        kept = [name for name in write.attachments if name not in write.new_data]
        conn.execute(
            f"DELETE FROM attachments WHERE db = ? AND doc_id = ? AND name NOT IN ({','.join('?' * len(kept))})",
            (db, write.doc_id, *kept),
        )
        for name, data in write.new_data.items():
            conn.execute(
                "INSERT OR REPLACE INTO attachments (db, doc_id, name, token, data) VALUES (?, ?, ?, ?, ?)",
                (db, write.doc_id, name, uuid.uuid4().hex, data),
            )
        conn.execute("DELETE FROM view_rows WHERE db = ? AND doc_id = ?", (db, write.doc_id))
        self._insert_rows(db, write.doc_id, write.rows)

    def _write(self, db: str, plan: Callable[[local.Current | None], local.Write], doc_id: str) -> str:
        with _transaction(self._conn):
            self._require_db(db)
            write = plan(self._current(db, doc_id))
            self._store(db, write)
        return write.rev

    def _bulk_write(self, db: str, docs: list[dict]) -> list[BulkResult]:
        results = []
        with _transaction(self._conn):
            self._require_db(db)
            for doc in docs:
                write, result = local.plan_bulk_entry(doc, self._current(db, doc["_id"]))
                if write is not None:
                    self._store(db, write)
                results.append(result)
        return results

    def _read_doc(self, db: str, doc_id: str) -> dict | None:
        current = self._current(db, doc_id)
        if current is None or current.deleted:
            return None
        return local.render(doc_id, current.rev, current.body, current.attachments)

    def _read(self, db: str, doc_id: str) -> dict:
        self._require_db(db)
        doc = self._read_doc(db, doc_id)
        if doc is None:
            raise NotFound(f"{doc_id}: no such document")
        return doc

    def _read_many(self, db: str, ids: list[str]) -> list[dict | None]:
        self._require_db(db)
        return [self._read_doc(db, doc_id) for doc_id in ids]

    def _all(self, db: str, include_docs: bool) -> list[dict]:
        self._require_db(db)
        cursor = self._conn.execute(
            "SELECT id, rev, body, attachments FROM docs WHERE db = ? AND deleted = 0 ORDER BY id", (db,)
        )
        rows = []
        for doc_id, rev, body, attachments in cursor:
            row = {"id": doc_id, "rev": rev}
            if include_docs:
                metas = {n: local.AttachmentMeta.from_json(m) for n, m in json.loads(attachments).items()}
                row["doc"] = local.render(doc_id, rev, json.loads(body), metas)
            rows.append(row)
        return rows

    def _attachment_handle(self, db: str, doc_id: str, name: str) -> tuple[int, str, int]:
        self._require_db(db)
        row = self._conn.execute(
            "SELECT a.rowid, a.token, length(a.data) FROM attachments a JOIN docs d"
            " ON d.db = a.db AND d.id = a.doc_id AND d.deleted = 0"
            " WHERE a.db = ? AND a.doc_id = ? AND a.name = ?",
            (db, doc_id, name),
        ).fetchone()
        if row is None:
            raise NotFound(f"{doc_id}: no attachment {name!r}")
        return row

    def _read_whole(self, db: str, doc_id: str, name: str) -> bytes:
        rowid, _, _ = self._attachment_handle(db, doc_id, name)
        return self._conn.execute("SELECT data FROM attachments WHERE rowid = ?", (rowid,)).fetchone()[0]

    def _open_blob(self, db: str, doc_id: str, name: str, offset: int, size: int) -> tuple[sqlite3.Blob, int, bytes]:
        """A read handle on the attachment's blob, its length and its first ``size`` bytes
        from ``offset``: one trip to this thread for the start of a stream."""
        rowid, _, total = self._attachment_handle(db, doc_id, name)
        blob = self._conn.blobopen("attachments", "data", rowid, readonly=True)
        if offset >= total or size <= 0:
            return blob, total, b""
        try:
            return blob, total, self._read_blob(blob, offset, size)
        except BaseException:
            blob.close()
            raise

    @staticmethod
    def _read_blob(blob: sqlite3.Blob, offset: int, size: int) -> bytes:
        try:
            blob.seek(offset)
            return blob.read(size)
        except sqlite3.OperationalError as exc:     # the row was written meanwhile: the handle is void
            raise StoreError(f"attachment was replaced or deleted while it was being read ({exc})") from None

    def _query(self, db: str, view_name: str, key: Any, include_docs: bool) -> list[ViewRow]:
        self._require_db(db)
        if key is ALL_KEYS:
            cursor = self._conn.execute(
                "SELECT key, doc_id, value FROM view_rows WHERE db = ? AND view = ?", (db, view_name)
            )
        elif isinstance(key, views.KeyPrefix):
            cursor = self._conn.execute(
                "SELECT key, doc_id, value FROM view_rows WHERE db = ? AND view = ? AND key >= ? AND key < ?",
                (db, view_name, *key.text_range()),
            )
        else:
            cursor = self._conn.execute(
                "SELECT key, doc_id, value FROM view_rows WHERE db = ? AND view = ? AND key = ?",
                (db, view_name, views.key_json(key)),
            )
        rows = []
        for key_text, doc_id, value in cursor.fetchall():
            doc = self._read_doc(db, doc_id) if include_docs else None
            rows.append(ViewRow(json.loads(key_text), doc_id, None if value is None else json.loads(value), doc))
        return rows

    def _create(self, db: str) -> bool:
        return self._conn.execute("INSERT OR IGNORE INTO dbs (name) VALUES (?)", (db,)).rowcount == 1

    def _drop(self, db: str) -> bool:
        with _transaction(self._conn):
            gone = self._conn.execute("DELETE FROM dbs WHERE name = ?", (db,)).rowcount == 1
            for table, column in (("docs", "db"), ("attachments", "db"), ("view_rows", "db")):
                self._conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (db,))
        return gone

    # --- the interface ----------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)  # _close ran last on it: nothing is pending

    async def _create_db(self, db: str) -> bool:
        return await self._run(self._create, db)

    async def _delete_db(self, db: str) -> bool:
        return await self._run(self._drop, db)

    async def _db_exists(self, db: str) -> bool:
        return await self._run(lambda: self._conn.execute("SELECT 1 FROM dbs WHERE name = ?", (db,)).fetchone()
                               is not None)

    async def _list_dbs(self) -> list[str]:
        return await self._run(lambda: [row[0] for row in self._conn.execute("SELECT name FROM dbs")])

    async def _get(self, db: str, doc_id: str) -> dict:
        return await self._run(self._read, db, doc_id)

    async def _put(self, db: str, doc: dict) -> str:
        return await self._run(self._write, db, lambda current: local.plan_put(doc, current), doc["_id"])

    async def _delete(self, db: str, doc_id: str, rev: str) -> str:
        return await self._run(self._write, db, lambda current: local.plan_delete(doc_id, rev, current), doc_id)

    async def _bulk_put(self, db: str, docs: list[dict]) -> list[BulkResult]:
        return await self._run(self._bulk_write, db, docs)

    async def _bulk_get(self, db: str, ids: list[str]) -> list[dict | None]:
        return await self._run(self._read_many, db, ids)

    async def _all_docs(self, db: str, *, include_docs: bool) -> list[dict]:
        return await self._run(self._all, db, include_docs)

    async def _put_attachment(self, db: str, doc_id: str, name: str, data: AttachmentData, *,
                              content_type: str, rev: str | None) -> str:
        # A streamed upload is gathered first: SQLite writes a blob whole.
        content = await collect_bytes(data)
        return await self._run(
            self._write, db,
            lambda current: local.plan_attachment(doc_id, name, content, content_type, rev, current),
            doc_id,
        )

    async def _get_attachment(self, db: str, doc_id: str, name: str) -> bytes:
        return await self._run(self._read_whole, db, doc_id, name)

    async def _stream_attachment(self, db: str, doc_id: str, name: str, chunk_size: int, offset: int = 0,
                                 length: int | None = None) -> AsyncIterator[bytes]:
        # The blob is read piece by piece (sqlite3's incremental blob I/O): a 50 MB
        # recording never sits in memory whole.  One blob handle serves the whole stream:
        # reopening it per chunk would walk the blob's overflow pages from the start each
        # time (quadratic in its size).  A write to the same row voids the handle.  The
        # handle is opened and the first piece read in one trip to the SQLite thread:
        # a trip costs about as much as copying a quarter megabyte.
        first = chunk_size if length is None else min(chunk_size, length)
        blob, total, piece = await self._run(self._open_blob, db, doc_id, name, offset, first)
        try:
            stop = total if length is None else min(total, offset + length)
            if piece:
                yield piece
            position = offset + len(piece)
            while position < stop:
                piece = await self._run(self._read_blob, blob, position, min(chunk_size, stop - position))
                if not piece:
                    raise StoreError(f"{doc_id}/{name}: the attachment ended at {position} of {stop} bytes")
                position += len(piece)
                yield piece
        finally:
            try:
                await self._run(blob.close)
            except StoreError:      # the store was closed first, and its connection with the handle
                pass

    async def _view(self, db: str, view: views.View, *, key: Any = ALL_KEYS,
                    include_docs: bool = False) -> list[ViewRow]:
        return await self._run(self._query, db, view.name, key, include_docs)


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
