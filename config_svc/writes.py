"""The write procedure (config.md 3.2-3.6).

One change = read the document (or start from nothing), apply the value at
the path (``None`` deletes), stop if the public content did not change,
stamp the private fields, save, and announce.  A conflicting save is re-read
and re-applied, so racing writers never lose an update; writers inside one
process also queue per document, so they rarely conflict at all.

System writes honour the write lock (``locked``): nothing is stored or
announced and the outcome is ``locked``.  Account writes need the account's
database to exist.  Every failure is an outcome with a message, never a
silent success (the KAZOO defect config.md 8 item 2 fixes).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from config_svc import documents as d
from services.config.paths import Path, public, set_path
from services.store import layout
from services.store.interface import Conflict, DatabaseNotFound, NotFound, StoreError

log = logging.getLogger(__name__)

SUCCESS = "success"
LOCKED = "locked"
ERROR = "error"

_MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class WriteResult:
    status: str                      # success | locked | error
    action: str | None = None        # created | edited when something was saved
    doc: dict | None = None          # the saved document
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.action is not None


class WriteFailed(Exception):
    pass


class Writes:
    def __init__(self, store, announcer, *, node: str, locked: bool = False,
                 max_attempts: int = _MAX_ATTEMPTS) -> None:
        self._store = store
        self._announcer = announcer
        self.node = node
        self.locked = locked
        self._max_attempts = max_attempts
        self._locks: "weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock]" = weakref.WeakValueDictionary()

    def _lock(self, db: str, doc_id: str) -> asyncio.Lock:
        key = (db, doc_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    # -- system ----------------------------------------------------------------------

    async def set_system(self, category: str, path: Path, value: Any, *,
                         section: str = d.DEFAULT_SECTION) -> WriteResult:
        """``<section>.<path>`` = ``value`` in ``system_config/<category>`` (``None`` deletes)."""
        if self.locked:
            log.info("system_config is locked; not writing %s %s.%s", category, section, ".".join(path))
            return WriteResult(LOCKED)

        def stamp(doc: dict) -> None:
            doc["_id"] = category
            layout.stamp(doc, pvt_type=d.SYSTEM_TYPE, db=d.SYSTEM_CONFIG_DB)
            doc["pvt_node"] = self.node

        return await self._update(d.SYSTEM_CONFIG_DB, d.SYSTEM_CONFIG_DB, category, (section, *path), value,
                                  stamp=stamp, create_db=True)

    # -- account ---------------------------------------------------------------------

    async def set_account(self, account_id: str, category: str, path: Path, value: Any) -> WriteResult:
        """``<path>`` = ``value`` in the account's ``configs_<category>`` (config.md 3.4)."""
        db = d.account_db(account_id)
        try:
            exists = await self._store.db_exists(db)
        except StoreError as exc:
            return WriteResult(ERROR, error=f"store error: {exc}")
        if not exists:
            return WriteResult(ERROR, error=f"account {account_id} does not exist (no database {db})")

        def stamp(doc: dict) -> None:
            doc["_id"] = d.account_config_id(category)
            layout.stamp(doc, pvt_type=d.ACCOUNT_TYPE, db=db)
            doc["pvt_node"] = self.node

        return await self._update(db, d.account_db_encoded(account_id), d.account_config_id(category), path, value,
                                  stamp=stamp, create_db=False)

    # -- the procedure ---------------------------------------------------------------

    async def _update(self, db: str, db_written: str, doc_id: str, path: Path, value: Any, *,
                      stamp, create_db: bool) -> WriteResult:
        async with self._lock(db, doc_id):
            try:
                saved = await self._save_with_retry(db, doc_id, path, value, stamp=stamp, create_db=create_db)
            except (StoreError, WriteFailed) as exc:
                log.error("writing %s/%s failed: %s", db, doc_id, exc)
                return WriteResult(ERROR, error=f"store error: {exc}")
            if saved is None:
                return WriteResult(SUCCESS)
            action, doc = saved
            try:
                await self._announcer.doc_changed(action, database=db_written, doc=doc)
            except Exception:
                # the write is stored; only the event is lost (clients' safety TTL bounds the staleness)
                log.exception("announcing doc_%s of %s/%s failed", action, db, doc_id)
            return WriteResult(SUCCESS, action=action, doc=doc)

    async def _save_with_retry(self, db: str, doc_id: str, path: Path, value: Any, *, stamp,
                               create_db: bool) -> tuple[str, dict] | None:
        created_db = False
        for _ in range(self._max_attempts):
            try:
                current = await self._store.get(db, doc_id)
            except DatabaseNotFound:
                current = None
            except NotFound:
                current = None
            doc = copy.deepcopy(current) if current is not None else {}
            set_path(doc, path, copy.deepcopy(value))
            if current is not None and public(doc) == public(current):
                return None                              # identical: no save, no event
            if current is None and value is None:
                return None                              # deleting from a document that does not exist
            stamp(doc)
            try:
                saved = await self._store.put(db, doc)
            except Conflict:
                continue
            except DatabaseNotFound:
                if not create_db or created_db:
                    raise
                created_db = True
                await self._store.create_db(db)
                continue
            return ("created" if current is None else "edited"), saved
        raise WriteFailed(f"{db}/{doc_id}: still conflicting after {self._max_attempts} attempts")
