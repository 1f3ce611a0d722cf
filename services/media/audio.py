"""Where a document's audio is: the one resolver (media.md 4.5, 6.2; issue 17 section 3).

Given a database, a document id and an attachment name (or None for "the first
attachment"), :meth:`AudioResolver.resolve` answers with an :class:`Audio` (where
the bytes are, their type, length and digest) or an :class:`Unresolved` saying why not:

* ``_attachments`` (CouchDB's own) first, then ``pvt_attachments``;
* a ``pvt_attachments`` entry whose handler is ``kz_att_link`` is followed to
  ``att_dbname`` / ``att_docid`` / ``att_name`` (absent: the target's first
  attachment), at most :data:`MAX_LINK_DEPTH` links deep, and must lead somewhere;
* any other handler (``kz_att_s3``, ``kz_att_google_drive``, ...) is external storage
  kzvoice cannot read: ``UNSUPPORTED_STORAGE`` naming the module;
* a missing document, database, attachment or link target is ``NOT_FOUND``; a
  document without any attachment ``NO_DATA``; a store that fails or does not
  answer within ``timeout_s`` ``STORE_UNAVAILABLE``.

Every outcome other than success is logged once, here, with the database, document,
attachment and handler (the Call-ID comes from the logging context).  Playback URLs,
message playback, forwarding and uploads all ask this resolver, so it is the only
code that knows where audio lives.  :meth:`AudioResolver.open` then streams the bytes.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.store import layout
from services.store.interface import BadRequest, NotFound, StoreError

log = logging.getLogger(__name__)

MAX_LINK_DEPTH = 3
LINK_HANDLER = "kz_att_link"
STREAM_CHUNK = 256 * 1024       # the largest piece; one is read ahead while the last one is written
DEFAULT_TIMEOUT_S = 1.5

_BY_EXTENSION = {"mp3": "audio/mpeg", "wav": "audio/wav", "mp4": "audio/mp4"}
OCTET_STREAM = "application/octet-stream"


def content_type_of(name: str, stub_type: Any = None) -> str:
    """The stub's content type, else by extension (``.mp3``, ``.wav``, ``.mp4``), else
    ``application/octet-stream`` (media.md 6.4)."""
    if isinstance(stub_type, str) and stub_type:
        return stub_type
    _, dot, extension = name.rpartition(".")
    return _BY_EXTENSION.get(extension.lower(), OCTET_STREAM) if dot else OCTET_STREAM


class Failure(enum.Enum):
    NOT_FOUND = "not_found"
    NO_DATA = "no_data"
    UNSUPPORTED_STORAGE = "unsupported_storage"
    STORE_UNAVAILABLE = "store_unavailable"


@dataclass(frozen=True)
class Place:
    """One attachment of one document."""

    db: str
    doc_id: str
    attachment: str


@dataclass(frozen=True)
class Audio:
    """Found: ``requested`` is what was asked for (the attachment name settled), ``source``
    where the bytes are (the same unless links were followed)."""

    requested: Place
    source: Place
    content_type: str
    length: int | None        # None when the store does not say
    digest: str | None        # "md5-<base64>" when the store keeps one
    links: int = 0            # kz_att_link hops followed


@dataclass(frozen=True)
class Unresolved:
    failure: Failure
    db: str
    doc_id: str
    attachment: str | None
    detail: str
    handler: str | None = None   # the storage module, where one was involved

    @property
    def reason(self) -> str:
        """The reason as media.md 6.2 words it: ``unsupported_storage:<module>``, else the failure."""
        if self.failure is Failure.UNSUPPORTED_STORAGE:
            return f"unsupported_storage:{self.handler or 'unknown'}"
        return self.failure.value

    def describe(self) -> str:
        """One line for a log: the reason, where, and why."""
        return (f"{self.reason} (db {self.db}, document {self.doc_id}, attachment {self.attachment or '(first)'}, "
                f"handler {self.handler or 'none'}): {self.detail}")


Resolution = Audio | Unresolved


class AudioResolver:
    def __init__(self, store, *, timeout_s: float | None = DEFAULT_TIMEOUT_S, chunk_size: int = STREAM_CHUNK) -> None:
        self._store = store
        self._timeout_s = timeout_s
        self.chunk_size = chunk_size

    async def resolve(self, db: str, doc_id: str, attachment: str | None = None, *,
                      quiet: bool = False) -> Resolution:
        """Where the audio of ``db`` / ``doc_id`` / ``attachment`` is (``attachment`` None:
        the document's first).  Never raises for a store failure: that is an outcome.
        ``quiet``: the caller logs an :class:`Unresolved` itself (its ``describe()``)."""
        raw = _db(db)
        if raw is None:
            outcome: Resolution = Unresolved(Failure.NOT_FOUND, db, doc_id, attachment, "not a database name")
        else:
            try:
                async with asyncio.timeout(self._timeout_s):
                    outcome = await self._resolve(raw, doc_id, attachment, depth=0)
            except TimeoutError:
                outcome = Unresolved(Failure.STORE_UNAVAILABLE, raw, doc_id, attachment,
                                     f"the store did not answer within {self._timeout_s:g} s")
        if not quiet or isinstance(outcome, Audio):
            _log(outcome)
        return outcome

    def open(self, audio: Audio, *, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of ``audio`` (a window of them), streamed from the store in ``chunk_size``
        pieces, the next one read while the caller sends the last: at most two are held."""
        source = audio.source
        return _read_ahead(self._store.stream_attachment(source.db, source.doc_id, source.attachment,
                                                         chunk_size=self.chunk_size, offset=offset, length=length))

    async def _resolve(self, db: str, doc_id: str, attachment: str | None, *, depth: int,
                       via: str | None = None) -> Resolution:
        def unresolved(failure: Failure, detail: str, handler: str | None = via) -> Unresolved:
            return Unresolved(failure, db, doc_id, attachment, detail, handler)

        try:
            doc = await self._store.get(db, doc_id)
        except (NotFound, BadRequest) as exc:
            return unresolved(Failure.NOT_FOUND, f"no document: {exc}")
        except StoreError as exc:
            return unresolved(Failure.STORE_UNAVAILABLE, str(exc))
        plain = _entries(doc.get("_attachments"))
        handled = _entries(doc.get("pvt_attachments"))
        if attachment is None:
            names = list(plain) + [name for name in handled if name not in plain]
            if not names:
                return unresolved(Failure.NO_DATA, "the document has no attachment")
            attachment = names[0]
        if attachment in plain:
            stub = plain[attachment]
            place = Place(db, doc_id, attachment)
            return Audio(place, place, content_type_of(attachment, stub.get("content_type")),
                         _int(stub.get("length")), _text(stub.get("digest")))
        entry = handled.get(attachment)
        if entry is None:
            return unresolved(Failure.NOT_FOUND, f"no attachment {attachment!r}")
        handler = entry.get("handler")
        module = next(iter(handler), None) if isinstance(handler, Mapping) and handler else None
        if module != LINK_HANDLER:
            return unresolved(Failure.UNSUPPORTED_STORAGE, "stored outside the database", module or "unknown")
        return await self._follow(Place(db, doc_id, attachment), entry, handler[LINK_HANDLER], depth=depth)

    async def _follow(self, link: Place, entry: Mapping[str, Any], settings: Any, *, depth: int) -> Resolution:
        def broken(failure: Failure, detail: str) -> Unresolved:
            return Unresolved(failure, link.db, link.doc_id, link.attachment, detail, LINK_HANDLER)

        if depth >= MAX_LINK_DEPTH:
            return broken(Failure.NOT_FOUND, f"more than {MAX_LINK_DEPTH} links in a row")
        settings = settings if isinstance(settings, Mapping) else {}
        target_db, target_id = _db(settings.get("att_dbname")), _text(settings.get("att_docid"))
        if not target_db or not target_id:
            return broken(Failure.NOT_FOUND, "link without a valid att_dbname and att_docid")
        target = await self._resolve(target_db, target_id, _text(settings.get("att_name")), depth=depth + 1,
                                     via=LINK_HANDLER)
        if isinstance(target, Unresolved):
            # the reason is the target's; the place named is the one asked for
            return Unresolved(target.failure if target.failure is not Failure.NO_DATA else Failure.NOT_FOUND,
                              link.db, link.doc_id, link.attachment,
                              f"link to {target_db}/{target_id}: {target.detail}", target.handler or LINK_HANDLER)
        return Audio(link, target.source, content_type_of(link.attachment, entry.get("content_type")
                                                          or target.content_type),
                     target.length, target.digest, target.links + 1)


async def _read_ahead(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` with the next one already being read while the current one is used."""
    iterator = chunks.__aiter__()
    pending: asyncio.Future = asyncio.ensure_future(iterator.__anext__())
    try:
        while True:
            try:
                chunk = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(iterator.__anext__())
            yield chunk
    finally:
        if not pending.done():
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, StopAsyncIteration, StoreError):
                pass
        elif not pending.cancelled() and pending.exception() is not None:
            pending.exception()         # retrieved: the caller stopped before it mattered
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _entries(value: Any) -> dict[str, Mapping[str, Any]]:
    """Attachment stubs by name, in stored order; anything malformed left out."""
    if not isinstance(value, Mapping):
        return {}
    return {name: stub for name, stub in value.items() if isinstance(name, str) and isinstance(stub, Mapping)}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _db(value: Any) -> str | None:
    """A database name in the store's raw form (links carry it encoded)."""
    try:
        return layout.normalize_db_name(value) if isinstance(value, str) else None
    except layout.InvalidName:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _log(outcome: Resolution) -> None:
    if isinstance(outcome, Audio):
        if log.isEnabledFor(logging.DEBUG):
            requested, source = outcome.requested, outcome.source
            log.debug("audio of %s/%s/%s is %s/%s/%s (%s links)", requested.db, requested.doc_id,
                      requested.attachment, source.db, source.doc_id, source.attachment, outcome.links)
        return
    level = logging.WARNING if outcome.failure in (Failure.UNSUPPORTED_STORAGE, Failure.STORE_UNAVAILABLE) \
        else logging.INFO
    log.log(level, "audio not readable: %s", outcome.describe())
