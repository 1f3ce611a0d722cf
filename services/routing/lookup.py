"""Find the callflow for a normalised number: exact, patterns, no_match (callflow.md 2.4-2.5).

Reads go through the ``RoutingCache``; the store is asked only on a miss.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Mapping

from services.routing.cache import MISS, RoutingCache
from services.routing.matcher import PatternSet
from services.routing.numbers import no_match_allowed_number
from services.store import layout
from services.store.interface import NotFound

log = logging.getLogger(__name__)

NO_MATCH = "no_match"


@dataclass(frozen=True)
class Found:
    doc: Mapping
    capture_group: str | None = None
    capture_groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def callflow_id(self) -> str:
        return self.doc["_id"]

    @property
    def is_no_match(self) -> bool:
        """A no_match callflow is one whose ``numbers`` contain ``no_match``, however it was found."""
        numbers = self.doc.get("numbers")
        return isinstance(numbers, list) and NO_MATCH in numbers


class Lookup:
    def __init__(self, store, cache: RoutingCache) -> None:
        self._store = store
        self.cache = cache
        self._dbs: dict[str, str] = {}
        self._loading: dict[str, asyncio.Future] = {}

    def db(self, account_id: str) -> str:
        name = self._dbs.get(account_id)
        if name is None:
            name = self._dbs[account_id] = layout.account_db(account_id)
        return name

    # -- documents ---------------------------------------------------------------------------

    async def doc(self, account_id: str, doc_id: str) -> dict | None:
        """A document of the account's database (cached); None when missing or deleted."""
        cached = self.cache.doc(account_id, doc_id)
        if cached is not MISS:
            return cached
        generation = self.cache.generation(account_id)
        try:
            doc = await self._store.get(self.db(account_id), doc_id)
        except NotFound:
            doc = None
        self.cache.put_doc(account_id, doc_id, doc, generation)
        return doc

    async def account_doc(self, account_id: str) -> dict | None:
        return await self.doc(account_id, account_id)

    async def callflow_doc(self, account_id: str, callflow_id: str) -> dict | None:
        doc = await self.doc(account_id, callflow_id)
        if doc is None or doc.get("pvt_type") != "callflow":
            return None
        return doc

    # -- 2.4 -------------------------------------------------------------------------------

    async def find(self, account_id: str, number: str) -> Found | None:
        if not number:
            return None
        doc = await self.exact(account_id, number)
        if doc is not None:
            return Found(doc)
        if number == NO_MATCH:
            return None
        patterns = await self.patterns(account_id)
        hit = patterns.best(number) if patterns is not None else None
        if hit is not None:
            doc = await self.callflow_doc(account_id, hit.callflow_id)
            if doc is not None:
                return Found(doc, hit.capture_group, dict(hit.capture_groups))
        if no_match_allowed_number(number):
            doc = await self.exact(account_id, NO_MATCH)
            if doc is not None:
                return Found(doc)
        return None

    async def exact(self, account_id: str, number: str) -> dict | None:
        callflow_id = self.cache.number(account_id, number)
        if callflow_id is None:
            generation = self.cache.generation(account_id)
            ids = await self._store.callflows_by_number(self.db(account_id), number)
            if not ids:
                return None
            if len(ids) > 1:
                log.info("number %s is in %d callflows of account %s; using %s", number, len(ids), account_id,
                         ids[0])
            callflow_id = ids[0]
            self.cache.put_number(account_id, number, callflow_id, generation)
        return await self.callflow_doc(account_id, callflow_id)

    async def patterns(self, account_id: str) -> PatternSet | None:
        cached = self.cache.patterns(account_id)
        if cached is not None:
            return cached
        loading = self._loading.get(account_id)
        if loading is not None:                 # one load per account at a time; the others wait for it
            return await asyncio.shield(loading)
        future = self._loading[account_id] = asyncio.get_running_loop().create_future()
        try:
            generation = self.cache.generation(account_id)
            rows = await self._store.callflow_patterns(self.db(account_id))
            patterns = PatternSet(rows, account_id=account_id) if rows else None
            if patterns is not None:
                self.cache.put_patterns(account_id, patterns, generation)
            future.set_result(patterns)
            return patterns
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._loading[account_id]
