"""The document store interface every backend implements.

Database names
    Every method takes a database name in KAZOO's raw form (``account/4f/e6/9c5b…``,
    ``account/4f/e6/9c5b…-202403``, ``accounts``, ``system_config``) **or** its
    URL-encoded form (``account%2F4f%2Fe6%2F9c5b…``); both are normalised once, by
    :func:`services.store.layout.normalize_db_name`, to the raw form.  Names this
    interface returns (``list_dbs``) are raw.

Documents
    Plain JSON objects with CouchDB's ``_id`` and ``_rev``.  ``put`` follows
    CouchDB's update rules on every backend: a write to an existing document must
    carry its current ``_rev`` (else :class:`Conflict`); a new document must carry
    none; ``_attachments`` given with ``put`` replaces the document's attachment set
    (entries are either inline ``data`` -- base64 text as CouchDB takes it, or the raw
    ``bytes``, which each backend stores as it needs -- or ``stub: true`` for an attachment
    the document already has), and a ``put`` without ``_attachments`` drops them, as
    in CouchDB.  Ids starting with ``_`` are refused on every backend.  Documents read
    back carry attachment stubs ``{content_type, digest, length, revpos, stub}``.

Queries
    Each query mirrors a KAZOO view (named in its docstring) and answers the same on
    every backend; results are ordered as documented here, never by server collation.
    ``pvt_deleted`` is judged as JavaScript would (``true``, ``"true"``, ``1`` all hide
    a document), because on CouchDB the views are JavaScript.

Backends implement the underscore methods; the public ones here normalise names,
check arguments and build the queries, so all backends share them.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import layout, views

AttachmentData = bytes | bytearray | memoryview | AsyncIterable[bytes]

DEFAULT_CHUNK_SIZE = 64 * 1024


# --- errors ---------------------------------------------------------------------------


class StoreError(Exception):
    """Any failure of the document store."""


class NotFound(StoreError):
    """No such document or attachment (or the document is deleted)."""


class DatabaseNotFound(NotFound):
    """No such database."""


class Conflict(StoreError):
    """The ``_rev`` given is not the document's current revision (or a new document
    was given a ``_rev``).  Never retried by the store."""


class BadRequest(StoreError):
    """The request itself is wrong: an invalid id or database name, an unknown ``_``
    field, a bad base64 attachment, a stub for an attachment the document lacks."""


class Unavailable(StoreError):
    """The store could not be reached (after retries, where the backend retries)."""


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    """One document's outcome in :meth:`Store.bulk_put`."""

    id: str
    ok: bool
    rev: str | None = None
    error: str | None = None  # "conflict", "bad_request", …
    reason: str | None = None


@dataclass(frozen=True)
class ViewRow:
    """One row of a backend view query (internal to the store package)."""

    key: Any
    id: str
    value: Any = None
    doc: dict | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PromptDoc:
    """One media document that can answer for a prompt (:meth:`Store.media_by_prompt`)."""

    doc_id: str
    language: str | None   # lower-cased; None when the document has none
    declared: bool         # True: it has ``prompt_id``; False: a media document found by its id


_SPECIAL_FIELDS = frozenset({"_id", "_rev", "_attachments", "_deleted"})

ALL_KEYS = object()
"""Pass as ``key`` to :meth:`Store._view` for every row of the view."""


def _check_doc_id(doc_id: object) -> str:
    if not isinstance(doc_id, str) or not doc_id:
        raise BadRequest(f"document id must be a non-empty string, got {doc_id!r}")
    if doc_id.startswith("_"):
        raise BadRequest(f"document id {doc_id!r}: ids starting with '_' are reserved")
    return doc_id


def db_name(name: str) -> str:
    """``name`` in the interface's raw form, or :class:`BadRequest`."""
    try:
        return layout.normalize_db_name(name)
    except layout.InvalidName as exc:
        raise BadRequest(str(exc)) from None


async def collect_bytes(data: AttachmentData) -> bytes:
    """All bytes of an attachment given as bytes or as an async iterator of chunks."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    buffer = bytearray()
    async for chunk in data:
        buffer += chunk
    return bytes(buffer)


def _by_id(rows: Iterable[ViewRow]) -> list[dict]:
    """The distinct documents of ``rows``, ordered by id."""
    docs: dict[str, dict] = {}
    for row in rows:
        if row.doc is not None:
            docs.setdefault(row.id, row.doc)
    return [docs[doc_id] for doc_id in sorted(docs)]


class Store(abc.ABC):
    """A KAZOO-layout document store.  Use as ``async with open_store(url) as store``
    or call :meth:`close` when done."""

    # --- lifecycle ----------------------------------------------------------------

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections, threads and files.  Safe to call twice."""

    async def init_db(self) -> None:
        """Create the system databases and install the views in every database
        (``kzvoice db init``)."""
        for name in layout.SYSTEM_DBS:
            await self.create_db(name)
        await self.ensure_views()

    async def ensure_views(self, db: str | None = None) -> None:
        """Make sure the query views exist and are current in ``db`` (all databases
        when None).  Services call this at start.  Only CouchDB has anything to do:
        the embedded backends maintain their indexes on every write."""

    # --- databases ----------------------------------------------------------------

    async def create_db(self, db: str) -> bool:
        """Create ``db``; False if it existed already."""
        return await self._create_db(db_name(db))

    async def delete_db(self, db: str) -> bool:
        """Delete ``db`` with everything in it; False if there was no such database."""
        return await self._delete_db(db_name(db))

    async def db_exists(self, db: str) -> bool:
        return await self._db_exists(db_name(db))

    async def list_dbs(self) -> list[str]:
        """Every database (raw names), sorted."""
        return sorted(await self._list_dbs())

    # --- documents ----------------------------------------------------------------

    async def get(self, db: str, doc_id: str) -> dict:
        """The current revision of a document.  :class:`NotFound` if missing or
        deleted (:class:`DatabaseNotFound` if the database is missing)."""
        return await self._get(db_name(db), _check_doc_id(doc_id))

    async def put(self, db: str, doc: dict) -> dict:
        """Write ``doc``; returns a copy with ``_id`` (32 hex assigned when missing) and
        the new ``_rev``.  :class:`Conflict` on a stale or missing ``_rev``."""
        doc = self._with_id(doc)
        rev = await self._put(db_name(db), doc)
        return {**doc, "_rev": rev}

    async def put_over(self, db: str, doc: dict) -> dict:
        """Write ``doc`` over whatever revision is stored (or create it): for seeding and
        tools, never for a document others may be changing.  Keeps the stored
        ``pvt_created`` when ``doc`` has none."""
        doc = {k: v for k, v in doc.items() if k != "_rev"}
        try:
            current = await self.get(db, doc["_id"])
        except NotFound:
            pass
        else:
            doc["_rev"] = current["_rev"]
            if "pvt_created" in current:
                doc.setdefault("pvt_created", current["pvt_created"])
        return await self.put(db, doc)

    async def delete(self, db: str, doc_id: str, rev: str) -> str:
        """Delete a document; returns the deletion's revision.  :class:`Conflict` if
        ``rev`` is not current, :class:`NotFound` if there is no such document."""
        if not isinstance(rev, str) or not rev:
            raise Conflict(f"{doc_id}: deleting needs the current _rev")
        return await self._delete(db_name(db), _check_doc_id(doc_id), rev)

    async def bulk_put(self, db: str, docs: list[dict]) -> list[BulkResult]:
        """Write many documents; one result per document, in order.  Not atomic: each
        document succeeds or fails (``error="conflict"``) on its own, as in CouchDB."""
        return await self._bulk_put(db_name(db), [self._with_id(doc) for doc in docs])

    async def bulk_get(self, db: str, ids: list[str]) -> list[dict | None]:
        """The documents for ``ids``, in order; None where missing or deleted."""
        if not ids:
            return []
        return await self._bulk_get(db_name(db), [_check_doc_id(i) for i in ids])

    async def all_docs(self, db: str, *, include_docs: bool = False) -> list[dict]:
        """Every live document of ``db`` ordered by id: rows ``{"id", "rev"}``, plus
        ``"doc"`` when ``include_docs``."""
        rows = await self._all_docs(db_name(db), include_docs=include_docs)
        return sorted(rows, key=lambda row: row["id"])

    # --- attachments ----------------------------------------------------------------

    async def put_attachment(
        self,
        db: str,
        doc_id: str,
        name: str,
        data: AttachmentData,
        *,
        content_type: str,
        rev: str | None,
    ) -> str:
        """Add or replace an attachment; returns the document's new revision.  With
        ``rev=None`` on a document that does not exist, creates it (as CouchDB does)."""
        if not isinstance(name, str) or not name or name.startswith("_"):
            raise BadRequest(f"attachment name {name!r} is not allowed")
        if not content_type:
            raise BadRequest("attachment needs a content_type")
        return await self._put_attachment(
            db_name(db), _check_doc_id(doc_id), name, data, content_type=content_type, rev=rev
        )

    async def get_attachment(self, db: str, doc_id: str, name: str) -> bytes:
        """An attachment's bytes.  :class:`NotFound` if the document or attachment is
        missing."""
        return await self._get_attachment(db_name(db), _check_doc_id(doc_id), name)

    def stream_attachment(
        self, db: str, doc_id: str, name: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
        offset: int = 0, length: int | None = None,
    ) -> AsyncIterator[bytes]:
        """An attachment as chunks of at most ``chunk_size`` bytes, for large media: the
        bytes from ``offset`` on, at most ``length`` of them (all when None).  Every backend reads chunk by chunk, so the whole attachment is
        never held in memory.  Errors (:class:`NotFound`) are raised on the first iteration."""
        if not isinstance(offset, int) or offset < 0 or (length is not None and (not isinstance(length, int)
                                                                                  or length < 0)):
            raise BadRequest(f"bad byte window: offset {offset!r}, length {length!r}")
        if not isinstance(chunk_size, int) or chunk_size <= 0:
            raise BadRequest(f"chunk_size must be a positive integer, got {chunk_size!r}")
        return self._stream_attachment(db_name(db), _check_doc_id(doc_id), name, chunk_size, offset, length)

    # --- queries (KAZOO views) -------------------------------------------------------

    async def callflows_by_number(self, db: str, number: str) -> list[str]:
        """Ids of the callflows whose ``numbers`` contain ``number`` exactly (KAZOO
        ``callflows/listing_by_number``); distinct, in id order."""
        rows = await self._view(db_name(db), views.CALLFLOWS_BY_NUMBER, key=number)
        return sorted({row.id for row in rows})

    async def callflow_patterns(self, db: str) -> list[tuple[str, str]]:
        """Every ``(pattern, callflow id)`` of the account (KAZOO
        ``callflows/listing_by_pattern``), string patterns only, distinct, ordered by
        pattern then id in code-point order.  (KAZOO reads them in ICU collation; the
        matcher that needs that order applies it itself.)"""
        rows = await self._view(db_name(db), views.CALLFLOW_PATTERNS)
        return sorted({(row.key, row.id) for row in rows if isinstance(row.key, str)})

    async def vmboxes_by_mailbox(self, db: str, mailbox: str) -> list[dict]:
        """Boxes whose ``mailbox`` is exactly the string ``mailbox`` (KAZOO
        ``attributes/mailbox_number``), in id order."""
        return _by_id(await self._view(db_name(db), views.VMBOXES_BY_MAILBOX, key=mailbox, include_docs=True))

    async def vmboxes_by_mailbox_number(self, db: str, number: int | str) -> list[dict]:
        """Boxes whose ``mailbox`` parses (JavaScript ``parseInt``, base 10) to the same
        integer as ``number`` (KAZOO ``vmboxes/listing_by_mailbox``): ``"0100"`` finds
        box ``"100"``.  A string ``number`` is parsed the same way; one that does not
        parse finds nothing.  In id order."""
        key = views.js_parse_int(number)
        if key is None:
            return []
        return _by_id(await self._view(db_name(db), views.VMBOXES_BY_MAILBOX_NUMBER, key=key, include_docs=True))

    async def owned_by(self, db: str, owner_id: str, pvt_type: str) -> list[dict]:
        """Documents of ``pvt_type`` owned by a user (KAZOO ``attributes/owned``): the
        keys of a non-empty ``hotdesk.users`` when there are any, else ``owner_id``.
        In id order."""
        key = [owner_id, pvt_type]
        return _by_id(await self._view(db_name(db), views.OWNED, key=key, include_docs=True))

    async def vmboxes_by_owner(self, db: str, owner_id: str) -> list[dict]:
        return await self.owned_by(db, owner_id, "vmbox")

    async def devices_by_owner(self, db: str, owner_id: str) -> list[dict]:
        return await self.owned_by(db, owner_id, "device")

    async def endpoints_by_sip_username(self, db: str, username: str) -> list[tuple[str, list]]:
        """``(doc id, owner ids)`` for each credential row with this SIP username
        (KAZOO ``attributes/sip_username``): a document whose ``sip.method`` is
        ``password``, or a ``sys_info`` server with ``auth_method`` ``password``.
        One entry per row, so a duplicated credential shows twice; in id order."""
        rows = await self._view(db_name(db), views.SIP_USERNAME, key=username)
        return sorted(((row.id, row.value if isinstance(row.value, list) else []) for row in rows),
                      key=lambda entry: entry[0])

    async def vm_messages(self, db: str, box_id: str, *, folder: str | None = None,
                          since: float | None = None, until: float | None = None) -> list[dict]:
        """Voicemail messages of box ``box_id`` in a monthly database, as KAZOO's
        ``mailbox_messages/listing_by_mailbox`` gives them: every live ``mailbox_message``
        with ``metadata`` and ``source_id`` = box id, whatever holds its audio
        (``_attachments``, ``pvt_attachments`` or nothing).

        With ``since``/``until`` (Gregorian seconds, both ends included) only those whose
        ``metadata.timestamp`` is a number in that window, as KAZOO's key range
        ``[box, until]`` … ``[box, since]`` selects them.  ``folder`` keeps those whose
        ``metadata.folder`` is exactly that string.  Order: KAZOO's descending query,
        newest ``metadata.timestamp`` first and equal timestamps by id, highest first;
        messages without a numeric timestamp (only without a window) last."""
        rows = await self._view(db_name(db), views.VM_LISTING_BY_MAILBOX, key=views.KeyPrefix((box_id,)),
                                include_docs=True)
        picked: dict[str, tuple[Any, dict]] = {}
        for row in rows:
            stamp = row.key[1] if isinstance(row.key, list) and len(row.key) == 2 else None
            if row.doc is None or not _in_window(stamp, since, until):
                continue
            if folder is not None and _metadata(row.doc).get("folder") != folder:
                continue
            picked[row.id] = (stamp, row.doc)
        numbered = sorted((entry for entry in picked.items() if _is_number(entry[1][0])),
                          key=lambda entry: (entry[1][0], entry[0]), reverse=True)
        others = sorted((entry for entry in picked.items() if not _is_number(entry[1][0])), reverse=True)
        return [doc for _, (_, doc) in numbered + others]

    async def vm_folder_counts(self, db: str, box_id: str, *, since: float | None = None,
                               until: float | None = None) -> dict[str, int]:
        """How many messages of box ``box_id`` each folder holds in a monthly database (KAZOO
        ``mailbox_messages/count_per_box_folder``, key ``[box, folder, timestamp]``): the
        same messages as :meth:`vm_messages`, counted by ``metadata.folder`` (a string;
        others are not counted), in the same window."""
        rows = await self._view(db_name(db), views.VM_COUNT_PER_BOX_FOLDER, key=views.KeyPrefix((box_id,)))
        counts: dict[str, int] = {}
        for row in rows:
            if not isinstance(row.key, list) or len(row.key) != 3:
                continue
            _, folder, stamp = row.key
            if isinstance(folder, str) and _in_window(stamp, since, until):
                counts[folder] = counts.get(folder, 0) + 1
        return counts

    async def media_by_prompt(self, db: str, prompt_id: str) -> list[PromptDoc]:
        """The live ``media`` documents of ``db`` that can answer for prompt ``prompt_id``
        (KAZOO ``media/listing_by_prompt`` in an account, ``media/crossbar_listing`` in
        ``system_media``): those whose ``prompt_id`` is ``prompt_id`` (``declared``), and
        the one whose id is ``prompt_id`` when it has no ``prompt_id`` at all (KAZOO counts
        it only in ``system_media``; the caller decides).  Languages lower-cased; in id order."""
        rows = await self._view(db_name(db), views.MEDIA_BY_PROMPT, key=prompt_id)
        found = {(row.id, row.value[0], bool(row.value[1])) for row in rows if isinstance(row.value, list)}
        return [PromptDoc(doc_id, language, declared) for doc_id, language, declared in sorted(
            found, key=lambda entry: (entry[0], entry[1] or "", entry[2]))]

    async def accounts_by_realm(self, realm: str) -> list[str]:
        """Account ids whose ``realm`` equals ``realm`` ignoring case (KAZOO
        ``accounts/listing_by_realm`` in the ``accounts`` database); sorted."""
        rows = await self._view(layout.ACCOUNTS_DB, views.ACCOUNTS_BY_REALM, key=realm.lower())
        ids = set()
        for row in rows:
            value = row.value if isinstance(row.value, dict) else {}
            ids.add(value.get("account_id") or row.id)
        return sorted(ids)

    async def find_account_by_realm(self, realm: str) -> str | None:
        """The one account with this realm; None when there is none or there are
        several (KAZOO answers ``multiples`` then, and MWI queries do nothing)."""
        ids = await self.accounts_by_realm(realm)
        return ids[0] if len(ids) == 1 else None

    # --- what a backend implements ---------------------------------------------------

    @staticmethod
    def _with_id(doc: dict) -> dict:
        if not isinstance(doc, dict):
            raise BadRequest(f"a document must be a JSON object, got {type(doc).__name__}")
        unknown = [key for key in doc if key.startswith("_") and key not in _SPECIAL_FIELDS]
        if unknown:
            raise BadRequest(f"bad special document member(s): {', '.join(sorted(unknown))}")
        if "_id" not in doc:
            return {"_id": layout.new_doc_id(), **doc}
        _check_doc_id(doc["_id"])
        return doc

    @abc.abstractmethod
    async def _create_db(self, db: str) -> bool: ...

    @abc.abstractmethod
    async def _delete_db(self, db: str) -> bool: ...

    @abc.abstractmethod
    async def _db_exists(self, db: str) -> bool: ...

    @abc.abstractmethod
    async def _list_dbs(self) -> list[str]: ...

    @abc.abstractmethod
    async def _get(self, db: str, doc_id: str) -> dict: ...

    @abc.abstractmethod
    async def _put(self, db: str, doc: dict) -> str:
        """Write ``doc`` (it has an ``_id``); return the new rev."""

    @abc.abstractmethod
    async def _delete(self, db: str, doc_id: str, rev: str) -> str: ...

    @abc.abstractmethod
    async def _bulk_put(self, db: str, docs: list[dict]) -> list[BulkResult]: ...

    @abc.abstractmethod
    async def _bulk_get(self, db: str, ids: list[str]) -> list[dict | None]: ...

    @abc.abstractmethod
    async def _all_docs(self, db: str, *, include_docs: bool) -> list[dict]: ...

    @abc.abstractmethod
    async def _put_attachment(
        self, db: str, doc_id: str, name: str, data: AttachmentData, *, content_type: str, rev: str | None
    ) -> str: ...

    async def _get_attachment(self, db: str, doc_id: str, name: str) -> bytes:
        """By default the stream, joined; a backend with a cheaper way overrides it."""
        return b"".join([chunk async for chunk in self._stream_attachment(db, doc_id, name, DEFAULT_CHUNK_SIZE)])

    @abc.abstractmethod
    def _stream_attachment(self, db: str, doc_id: str, name: str, chunk_size: int, offset: int = 0,
                           length: int | None = None) -> AsyncIterator[bytes]:
        """Chunks of at most ``chunk_size`` bytes from ``offset``, ``length`` bytes in all
        (to the end when None)."""

    @abc.abstractmethod
    async def _view(
        self, db: str, view: "views.View", *, key: Any = ALL_KEYS, include_docs: bool = False
    ) -> list[ViewRow]:
        """Rows of ``view`` in ``db`` whose key equals ``key`` (as JSON), whose key is an
        array starting with the items of a :class:`views.KeyPrefix`, or all rows; in any
        order (the public queries sort)."""


def _metadata(doc: dict) -> dict:
    metadata = doc.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _in_window(stamp: Any, since: float | None, until: float | None) -> bool:
    """Whether a key's timestamp falls in a KAZOO key range of numbers (no window: always)."""
    if since is None and until is None:
        return True
    if not _is_number(stamp):
        return False       # in CouchDB's collation null, booleans, strings and objects lie outside a range of numbers
    return (since is None or stamp >= since) and (until is None or stamp <= until)
