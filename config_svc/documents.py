"""Where configuration lives (config.md 1.2-1.4) and the small facts about it.

* system configuration: database ``system_config``, one document per category,
  ``_id`` = category, sections ``default`` / ``<node>`` / ``<zone>``;
* account overrides: document ``configs_<category>`` in the account's database, flat;
* account tree and reseller facts: the account document (in the account's
  database, falling back to ``accounts``) and the ``services`` document.

Account ids may arrive raw, as an encoded database name (``account%2F..``,
``%2f`` too) or as ``account/..``; :func:`account_id_of` normalises them.
"""

from __future__ import annotations

from typing import Any

from services.store import layout
from services.store.interface import NotFound

SYSTEM_CONFIG_DB = layout.SYSTEM_CONFIG_DB
ACCOUNTS_DB = layout.ACCOUNTS_DB
SERVICES_DB = "services"
ACCOUNT_CONFIG_PREFIX = "configs_"

SYSTEM_TYPE = "config"
ACCOUNT_TYPE = "account_config"
DEFAULT_SECTION = "default"

STRATEGIES = ("account", "global", "reseller", "hierarchy_merge")


def account_config_id(category: str) -> str:
    return ACCOUNT_CONFIG_PREFIX + category


def account_id_of(value: Any) -> str | None:
    """The raw account id named by ``value`` (id, ``account%2F..`` or ``account/..``); None if it names none."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return layout.to_account_id(value)
    except layout.InvalidName:
        return None


def account_db(account_id: str) -> str:
    """The account's database, raw form (what the store takes)."""
    return layout.account_db(account_id)


def account_db_encoded(account_id: str) -> str:
    """The account's database as KAZOO writes it in documents and routing keys."""
    return layout.account_db(account_id, encoded=True)


async def load(store, db: str, doc_id: str) -> dict | None:
    """The document, or None when it (or its database) does not exist.  Other store errors propagate."""
    try:
        return await store.get(db, doc_id)
    except NotFound:
        return None
