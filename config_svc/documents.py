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

from services.config.accounts import SERVICES_DB, account_id_of, load  # noqa: F401 (the one definition)
from services.store import layout

SYSTEM_CONFIG_DB = layout.SYSTEM_CONFIG_DB
ACCOUNTS_DB = layout.ACCOUNTS_DB
ACCOUNT_CONFIG_PREFIX = "configs_"

SYSTEM_TYPE = "config"
ACCOUNT_TYPE = "account_config"
DEFAULT_SECTION = "default"

STRATEGIES = ("account", "global", "reseller", "hierarchy_merge")


def account_config_id(category: str) -> str:
    return ACCOUNT_CONFIG_PREFIX + category


def account_db(account_id: str) -> str:
    """The account's database, raw form (what the store takes)."""
    return layout.account_db(account_id)


def account_db_encoded(account_id: str) -> str:
    """The account's database as KAZOO writes it in documents and routing keys."""
    return layout.account_db(account_id, encoded=True)
