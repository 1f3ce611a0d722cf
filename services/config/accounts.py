"""Account tree and reseller facts, read from the store (config.md 1.4).

Shared by the configuration service (the ``reseller`` and ``hierarchy_merge`` strategies) and the
media responder (a prompt is looked for up the reseller chain, media.md 4.2):

* the account document lives in the account's own database, else in ``accounts``;
* the ``services`` document (database ``services``, ``_id`` = account id) says who
  the reseller is and whether the account is one;
* ``reseller_of`` follows config.md 1.4's four steps; it may return the account
  itself, which callers treat as "no reseller".

Every read goes to the store; "not found" is ``None``, other store errors propagate.
"""

from __future__ import annotations

from typing import Any

from services.store import layout
from services.store.interface import NotFound

SERVICES_DB = "services"
MASTER_ACCOUNT_CONFIG = "accounts"      # system_config document naming the master account


def account_id_of(value: Any) -> str | None:
    """The raw account id named by ``value`` (id, ``account%2F..`` or ``account/..``); None if it names none."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return layout.to_account_id(value)
    except layout.InvalidName:
        return None


async def load(store, db: str, doc_id: str) -> dict | None:
    """The document, or None when it (or its database) does not exist.  Other store errors propagate."""
    try:
        return await store.get(db, doc_id)
    except NotFound:
        return None


class AccountFacts:
    """What the store says about an account's place in the tree."""

    def __init__(self, store) -> None:
        self._store = store

    async def account(self, account_id: str) -> dict | None:
        """The account document: from the account's database, else from ``accounts``."""
        doc = await load(self._store, layout.account_db(account_id), account_id)
        if doc is None:
            doc = await load(self._store, layout.ACCOUNTS_DB, account_id)
        return doc

    async def services(self, account_id: str) -> dict | None:
        return await load(self._store, SERVICES_DB, account_id)

    async def is_reseller(self, account_id: str) -> bool:
        services = await self.services(account_id)
        if services is not None:
            return services.get("pvt_reseller") is True
        account = await self.account(account_id)
        return account is not None and account.get("pvt_reseller") is True

    async def reseller_of(self, account_id: str) -> str | None:
        """The account's reseller (may be the account itself; callers treat that as none)."""
        services = await self.services(account_id)
        if services is not None:
            return account_id_of(services.get("pvt_reseller_id"))
        account = await self.account(account_id)
        if account is not None:
            own = account_id_of(account.get("pvt_reseller_id"))
            if own is not None:
                return own
            for ancestor in reversed([a for a in account.get("pvt_tree") or [] if isinstance(a, str)]):
                ancestor_id = account_id_of(ancestor)
                if ancestor_id is not None and await self.is_reseller(ancestor_id):
                    return ancestor_id
        return await self.master_account()

    async def master_account(self) -> str | None:
        doc = await load(self._store, layout.SYSTEM_CONFIG_DB, MASTER_ACCOUNT_CONFIG)
        if doc is None:
            return None
        section = doc.get("default")
        return account_id_of(section.get("master_account_id")) if isinstance(section, dict) else None
