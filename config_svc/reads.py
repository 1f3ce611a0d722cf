"""Read semantics (config.md 2.1-2.4).

``Reads.system_get`` looks in the node section, then the zone section (the
zone of *this* service), then ``default``; when the key is missing everywhere
and the caller gave a default, that default is written back to
``default.<key>`` and returned.  ``Reads.account_get`` implements the four
account strategies: ``account``, ``global``, ``reseller`` and
``hierarchy_merge``.

Every read goes to the store (no cache here; config.md 5.2).  Any store error
other than "not found" makes the whole read answer the caller's default
without writing anything.
"""

from __future__ import annotations

import logging
from typing import Any

from config_svc import documents as d
from services.config.accounts import AccountFacts
from services.config.paths import MISSING, Path, get_path, merge_recursive, public
from services.store.interface import StoreError

log = logging.getLogger(__name__)


def given(default: Any) -> bool:
    """A caller default counts only when present and not JSON null (config.md 2.1, ours)."""
    return default is not MISSING and default is not None


class Reads:
    def __init__(self, store, writes, *, zone: str) -> None:
        self._store = store
        self._writes = writes
        self._accounts = AccountFacts(store)
        self.zone = zone

    # -- entry points ------------------------------------------------------------------

    async def get(self, category: str, path: Path, *, default: Any = MISSING, node: str | None = None,
                  account_id: str | None = None, strategy: str | None = None) -> Any:
        """The value for one get_req: MISSING when there is none and no default."""
        try:
            if strategy is None:
                return await self.system_get(category, path, default=default, node=node)
            return await self.account_get(account_id, category, path, default=default, node=node,
                                          strategy=strategy)
        except StoreError as exc:
            log.warning("reading %s %s failed (%s); answering the default", category, list(path), exc)
            return default if given(default) else MISSING

    async def system_get(self, category: str, path: Path, *, default: Any = MISSING,
                         node: str | None = None) -> Any:
        doc = await d.load(self._store, d.SYSTEM_CONFIG_DB, category)
        if doc is not None:
            value = self._lookup_sections(doc, path, node)
            if value is not MISSING:
                return value
        return await self._write_back(category, path, default)

    async def account_get(self, account_id: str | None, category: str, path: Path, *, default: Any = MISSING,
                          node: str | None = None, strategy: str = "global") -> Any:
        if strategy == "account":
            doc = await self._account_doc(account_id, category)
            value = get_path(doc, path) if doc is not None else MISSING
            return value if value is not MISSING else (default if given(default) else MISSING)
        if strategy == "global":
            return await self._global(account_id, category, path, default=default, node=node)
        if strategy == "reseller":
            return await self._from_reseller(account_id, category, path, default=default, node=node)
        if strategy == "hierarchy_merge":
            return await self._hierarchy_merge(account_id, category, path, default=default)
        raise ValueError(f"unknown strategy {strategy!r}")

    # -- system ------------------------------------------------------------------------

    def _lookup_sections(self, doc: dict, path: Path, node: str | None) -> Any:
        if node and node != d.DEFAULT_SECTION:
            for section in (node, self.zone):
                value = get_path(doc.get(section), path)
                if value is not MISSING:
                    return value
        return get_path(doc.get(d.DEFAULT_SECTION), path)

    async def _write_back(self, category: str, path: Path, default: Any) -> Any:
        if not given(default):
            return MISSING
        result = await self._writes.set_system(category, path, default, section=d.DEFAULT_SECTION)
        if result.status == "error":
            log.warning("write-back of %s %s failed: %s", category, list(path), result.error)
        return default

    # -- account strategies --------------------------------------------------------------

    async def _account_doc(self, account_id: str | None, category: str) -> dict | None:
        if account_id is None:
            return None
        return await d.load(self._store, d.account_db(account_id), d.account_config_id(category))

    async def _global(self, account_id, category, path, *, default, node) -> Any:
        if account_id is None:
            return await self.system_get(category, path, default=default, node=node)
        doc = await self._account_doc(account_id, category)
        if doc is not None:
            value = get_path(doc, path)
            if value is not MISSING:
                return value
            return await self.system_get(category, path, default=default, node=node)
        return await self._from_reseller(account_id, category, path, default=default, node=node)

    async def _from_reseller(self, account_id, category, path, *, default, node) -> Any:
        reseller = await self.reseller_of(account_id) if account_id is not None else None
        if reseller is not None and reseller != account_id:
            doc = await self._account_doc(reseller, category)
            if doc is not None:
                value = get_path(doc, path)
                if value is not MISSING:
                    return value
        return await self.system_get(category, path, default=default, node=node)

    async def _hierarchy_merge(self, account_id, category, path, *, default) -> Any:
        found: list[dict] = []                   # highest precedence first
        if account_id is not None:
            own = await self._account_doc(account_id, category)
            if own is not None:
                found.append(own)
            for ancestor in await self._merge_ancestors(account_id):
                doc = await self._account_doc(ancestor, category)
                if doc is not None:
                    found.append(doc)
        system = await d.load(self._store, d.SYSTEM_CONFIG_DB, category)
        if not found and system is None:
            return await self._write_back(category, path, default)
        layers = list(reversed(found))
        if system is not None:
            section = system.get(d.DEFAULT_SECTION)
            layers.insert(0, section if isinstance(section, dict) else {})
        value = get_path(merge_recursive(public(doc) for doc in layers), path)
        if value is MISSING:
            return default if given(default) else MISSING
        return value

    async def _merge_ancestors(self, account_id: str) -> list[str]:
        """Whose docs join the merge above the account: parents up to and including the first reseller."""
        if await self.is_reseller(account_id):
            return []
        account = await self._account(account_id)
        tree = [a for a in (account or {}).get("pvt_tree") or [] if isinstance(a, str)]
        if not tree:
            reseller = await self.reseller_of(account_id)
            return [reseller] if reseller is not None and reseller != account_id else []
        chain = []
        for ancestor in reversed(tree):
            ancestor_id = d.account_id_of(ancestor)
            if ancestor_id is None:
                continue
            chain.append(ancestor_id)
            if await self.is_reseller(ancestor_id):
                break
        return chain

    # -- account tree and reseller facts (config.md 1.4) ----------------------------------

    async def account_exists(self, account_id: str) -> bool:
        """Whether the account's database exists (False as well when the store cannot tell)."""
        try:
            return await self._store.db_exists(d.account_db(account_id))
        except StoreError:
            return False

    async def _account(self, account_id: str) -> dict | None:
        return await self._accounts.account(account_id)

    async def is_reseller(self, account_id: str) -> bool:
        return await self._accounts.is_reseller(account_id)

    async def reseller_of(self, account_id: str) -> str | None:
        """The account's reseller (may be the account itself; callers treat that as none)."""
        return await self._accounts.reseller_of(account_id)
