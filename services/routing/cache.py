"""What routing keeps per account between calls (callflow.md 2.7).

* number -> callflow id (positive exact results only), 3600 s;
* the compiled ``PatternSet`` of the account, 3600 s (an account without
  patterns is not cached, as in KAZOO);
* callflow documents and the account document, 900 s.

``flush_account`` drops an account's numbers, patterns and (when given) one
document; ``flush_all`` drops everything (used after a broker reconnect).
A load that was in flight while the account was flushed does not store its
(possibly stale) result: every account has a generation counter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from services.routing.matcher import PatternSet

NUMBER_TTL = 3600.0
PATTERN_TTL = 3600.0
DOC_TTL = 900.0


@dataclass
class _Account:
    generation: int = 0
    numbers: dict[str, tuple[str, float]] = field(default_factory=dict)
    patterns: tuple[PatternSet, float] | None = None
    docs: dict[str, tuple[dict | None, float]] = field(default_factory=dict)


class RoutingCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, number_ttl: float = NUMBER_TTL,
                 pattern_ttl: float = PATTERN_TTL, doc_ttl: float = DOC_TTL) -> None:
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self.number_ttl = number_ttl
        self.pattern_ttl = pattern_ttl
        self.doc_ttl = doc_ttl
        self.flushes = 0

    def _account(self, account_id: str) -> _Account:
        entry = self._accounts.get(account_id)
        if entry is None:
            entry = self._accounts[account_id] = _Account()
        return entry

    def generation(self, account_id: str) -> int:
        return self._account(account_id).generation

    # -- numbers --------------------------------------------------------------------------

    def number(self, account_id: str, number: str) -> str | None:
        hit = self._account(account_id).numbers.get(number)
        if hit is None or hit[1] <= self._clock():
            return None
        return hit[0]

    def put_number(self, account_id: str, number: str, callflow_id: str, generation: int) -> None:
        entry = self._account(account_id)
        if entry.generation == generation:
            entry.numbers[number] = (callflow_id, self._clock() + self.number_ttl)

    # -- patterns --------------------------------------------------------------------------

    def patterns(self, account_id: str) -> PatternSet | None:
        hit = self._account(account_id).patterns
        if hit is None or hit[1] <= self._clock():
            return None
        return hit[0]

    def put_patterns(self, account_id: str, patterns: PatternSet, generation: int) -> None:
        entry = self._account(account_id)
        if entry.generation == generation and len(patterns):
            entry.patterns = (patterns, self._clock() + self.pattern_ttl)

    # -- documents (callflows, the account document) -----------------------------------------

    _MISS = object()

    def doc(self, account_id: str, doc_id: str) -> Any:
        """The cached document, ``None`` for a cached "not found", ``RoutingCache.MISS`` if unknown."""
        hit = self._account(account_id).docs.get(doc_id)
        if hit is None or hit[1] <= self._clock():
            return self._MISS
        return hit[0]

    def put_doc(self, account_id: str, doc_id: str, doc: dict | None, generation: int) -> None:
        entry = self._account(account_id)
        if entry.generation == generation:
            entry.docs[doc_id] = (doc, self._clock() + self.doc_ttl)

    # -- invalidation ------------------------------------------------------------------------

    def flush_account(self, account_id: str, *, doc_id: str | None = None, routing: bool = True) -> None:
        entry = self._account(account_id)
        entry.generation += 1
        if routing:
            entry.numbers.clear()
            entry.patterns = None
        if doc_id is not None:
            entry.docs.pop(doc_id, None)
        self.flushes += 1

    def flush_all(self) -> None:
        for entry in self._accounts.values():
            entry.generation += 1
            entry.numbers.clear()
            entry.patterns = None
            entry.docs.clear()
        self.flushes += 1


MISS = RoutingCache._MISS
