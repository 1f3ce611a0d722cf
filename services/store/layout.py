"""KAZOO's database naming and document conventions.

Database names (spec config.md 1.1):

* an account's database is ``account/<2>/<2>/<28>``, split from its 32-character
  account id; KAZOO also writes it URL-encoded, ``account%2F<2>%2F<2>%2F<28>``
  (that is the form inside ``pvt_account_db`` and in fixture folder names);
* an account's monthly database ("modb") is the account database plus
  ``-YYYYMM``;
* ``accounts`` and ``system_config`` are system databases.

The store interface speaks the **raw** form (``account/4f/e6/9c5b…``), the one
CouchDB itself knows; :func:`normalize_db_name` turns anything a caller may hold
(raw, ``%2F`` or ``%2f`` encoded) into it.

Timestamps in documents are Gregorian seconds: seconds since 0001-01-01 UTC,
i.e. Unix seconds + 62167219200.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

ACCOUNTS_DB = "accounts"
SYSTEM_CONFIG_DB = "system_config"
SYSTEM_DBS = (ACCOUNTS_DB, SYSTEM_CONFIG_DB)

GREGORIAN_OFFSET = 62167219200
"""Seconds from 0001-01-01T00:00:00Z to 1970-01-01T00:00:00Z."""

# What CouchDB accepts as a database name.
_DB_NAME = re.compile(r"^[a-z][a-z0-9_$()+/-]*$")
# KAZOO only checks an account id's length; database names restrict the alphabet.
_ACCOUNT_ID = re.compile(r"^[a-z0-9]{32}$")
_ACCOUNT_DB = re.compile(r"^account/([a-z0-9]{2})/([a-z0-9]{2})/([a-z0-9]{28})(?:-(\d{4})(\d{2}))?$")


class InvalidName(ValueError):
    """A database name or account id that does not follow the layout."""


# --- database names -----------------------------------------------------------------


def normalize_db_name(name: str) -> str:
    """The raw form of a database name given raw or URL-encoded (``%2F``/``%2f``)."""
    if not isinstance(name, str) or not name:
        raise InvalidName(f"database name must be a non-empty string, got {name!r}")
    raw = unquote(name) if "%" in name else name
    if not _DB_NAME.match(raw):
        raise InvalidName(f"{name!r} is not a valid database name")
    return raw


def encode_db_name(name: str) -> str:
    """KAZOO's encoded form: ``account%2F4f%2Fe6%2F…`` (only ``/`` is encoded)."""
    return normalize_db_name(name).replace("/", "%2F")


def account_db(account: str, *, encoded: bool = False) -> str:
    """The account database of an account id (or of any form naming the account)."""
    account_id = to_account_id(account)
    raw = f"account/{account_id[:2]}/{account_id[2:4]}/{account_id[4:]}"
    return raw.replace("/", "%2F") if encoded else raw


def modb(account: str, year: int, month: int, *, encoded: bool = False) -> str:
    """The monthly database of an account for ``year``/``month``."""
    if not 1 <= month <= 12 or not 1 <= year <= 9999:
        raise InvalidName(f"no such month: {year}-{month}")
    return f"{account_db(account, encoded=encoded)}-{year:04d}{month:02d}"


def modb_at(account: str, when: datetime | int | float | None = None, *, encoded: bool = False) -> str:
    """The monthly database for an instant (UTC): a datetime or Gregorian seconds; default now."""
    moment = _utc_datetime(when)
    return modb(account, moment.year, moment.month, encoded=encoded)


def to_account_id(value: str) -> str:
    """The raw account id from an id, an account db (raw or encoded) or a modb name."""
    if not isinstance(value, str):
        raise InvalidName(f"account must be a string, got {value!r}")
    if _ACCOUNT_ID.match(value):
        return value
    parts = parse_account_db(value)
    if parts is None:
        raise InvalidName(f"{value!r} is neither an account id nor an account database")
    return parts[0]


def parse_account_db(name: str) -> tuple[str, int | None, int | None] | None:
    """``(account_id, year, month)`` for an account db or modb (year/month None for the
    account db itself); None for any other name."""
    try:
        raw = normalize_db_name(name)
    except InvalidName:
        return None
    match = _ACCOUNT_DB.match(raw)
    if match is None:
        return None
    a, b, rest, year, month = match.groups()
    if year is None:
        return a + b + rest, None, None
    if not 1 <= int(month) <= 12:
        return None
    return a + b + rest, int(year), int(month)


def is_account_db(name: str) -> bool:
    parts = parse_account_db(name)
    return parts is not None and parts[1] is None


def is_modb(name: str) -> bool:
    parts = parse_account_db(name)
    return parts is not None and parts[1] is not None


def classify_db(name: str) -> str:
    """``account``, ``modb``, ``accounts``, ``system_config`` or ``other``."""
    raw = normalize_db_name(name)
    if raw in SYSTEM_DBS:
        return raw
    parts = parse_account_db(raw)
    if parts is None:
        return "other"
    return "account" if parts[1] is None else "modb"


def modbs_of(account: str, db_names: list[str]) -> list[str]:
    """The monthly databases of ``account`` among ``db_names``, newest month first."""
    account_id = to_account_id(account)
    found = []
    for name in db_names:
        parts = parse_account_db(name)
        if parts is not None and parts[0] == account_id and parts[1] is not None:
            found.append((parts[1], parts[2], normalize_db_name(name)))
    return [name for _, _, name in sorted(found, reverse=True)]


# --- time ---------------------------------------------------------------------------


def unix_to_gregorian(seconds: float) -> int:
    return int(seconds) + GREGORIAN_OFFSET


def gregorian_to_unix(seconds: int) -> int:
    return int(seconds) - GREGORIAN_OFFSET


def now_gregorian() -> int:
    return unix_to_gregorian(time.time())


def datetime_to_gregorian(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give it a timezone (UTC)")
    return unix_to_gregorian(moment.timestamp())


def gregorian_to_datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(gregorian_to_unix(seconds), tz=timezone.utc)


def _utc_datetime(when: datetime | int | float | None) -> datetime:
    if when is None:
        return datetime.now(timezone.utc)
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime: give it a timezone (UTC)")
        return when.astimezone(timezone.utc)
    return gregorian_to_datetime(int(when))


# --- document conventions ------------------------------------------------------------


def new_doc_id() -> str:
    """A fresh document id: 32 lowercase hex digits, as KAZOO generates them."""
    return uuid.uuid4().hex


def modb_doc_id(when: datetime | int | float | None = None) -> str:
    """An id for a document kept in a monthly database: ``YYYYMM-<32 hex>``."""
    moment = _utc_datetime(when)
    return f"{moment.year:04d}{moment.month:02d}-{new_doc_id()}"


def modb_of_doc_id(account: str, doc_id: str) -> str:
    """The monthly database holding a ``YYYYMM-…`` document of ``account``."""
    match = re.match(r"^(\d{4})(\d{2})-", doc_id)
    if match is None:
        raise InvalidName(f"{doc_id!r} does not start with YYYYMM-")
    return modb(account, int(match.group(1)), int(match.group(2)))


def stamp(doc: dict, *, pvt_type: str, db: str, now: int | None = None) -> dict:
    """Set KAZOO's private fields on ``doc`` (in place; also returned).

    ``pvt_type``; ``pvt_account_id`` and ``pvt_account_db`` (encoded form) from ``db``
    when it is an account db or modb, else both hold the db name as KAZOO writes for
    ``system_config``; ``pvt_created`` only when absent; ``pvt_modified`` always.
    """
    now = now_gregorian() if now is None else now
    raw = normalize_db_name(db)
    parts = parse_account_db(raw)
    doc["pvt_type"] = pvt_type
    if parts is not None:
        doc["pvt_account_id"] = parts[0]
        doc["pvt_account_db"] = encode_db_name(raw)
    else:
        doc["pvt_account_id"] = raw
        doc["pvt_account_db"] = raw
    doc.setdefault("pvt_created", now)
    doc["pvt_modified"] = now
    return doc


def touch(doc: dict, *, now: int | None = None) -> dict:
    """Update ``pvt_modified`` (in place; also returned)."""
    doc["pvt_modified"] = now_gregorian() if now is None else now
    return doc
