"""Voicemail messages: documents in the account's monthly databases (voicemail.md 3).

API (stable; ``check`` uses it too)::

    messages = Messages(store)
    doc = new_message_doc(box=box, call=call, attachment="<hex>.mp3", length_ms=4180,
                          timezone="America/New_York", now=<gregorian>)     # pure: builds the document
    doc = await messages.store_with_audio(account_id, {**doc, "_attachments": inline_audio(name, data, ct)},
                                          audio_name=name)            # one write: document and audio
    listing = await messages.listing(account_id, box_id, retention_days=93)   # newest first
    counts = await messages.counts(account_id, box_id, retention_days=93)     # Counts(new, saved)
    doc = await messages.get(account_id, message_id)
    doc = await messages.set_folder(account_id, message_id, "saved")

Rules:

* ``listing`` and ``counts`` are KAZOO's views (``mailbox_messages/listing_by_mailbox``
  and ``count_per_box_folder``, through the store's ``vm_messages`` and
  ``vm_folder_counts``): every live ``mailbox_message`` of the box with ``metadata``,
  whatever holds its audio -- ``_attachments``, ``pvt_attachments`` behind a storage
  plan or a migration link, or nothing (spec README, "KAZOO defects we fix").  Only a
  numeric ``metadata.timestamp`` inside the retention window (3.4) counts; the monthly
  databases are read newest first, each newest first (equal timestamps by id, highest
  first), and their lists joined; folder ``deleted`` is listed (callers filter) and
  never counted; a message with no ``metadata.folder`` is in no folder.
* kzvoice writes a message only together with its audio (``store_with_audio``: the
  attachment inline in the document's one write); a retry after a write whose answer
  was lost finds the message stored and leaves it alone.
* Folder changes only touch ``metadata.folder`` (never ``pvt_deleted``) and keep every
  other field as it was read; a message past retention is forced to ``deleted`` with
  ``retention: "enforced"`` and the change is refused (``RetentionEnforced``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.store import layout
from services.store.interface import Conflict, DatabaseNotFound, NotFound
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox

log = logging.getLogger(__name__)

FOLDERS = ("new", "saved", "deleted")
PVT_TYPE = "mailbox_message"
CONTENT_TYPES = {"mp3": "audio/mpeg", "mp4": "audio/mp4", "wav": "audio/x-wav"}
DAY = 86400


class RetentionEnforced(Exception):
    """The message is older than the retention window; it was moved to ``deleted``."""


@dataclass(frozen=True)
class Counts:
    new: int = 0
    saved: int = 0

    @property
    def total(self) -> int:
        return self.new + self.saved


def content_type_of(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "audio/mpeg")


def message_name(mailbox: str, when_gregorian: int, timezone: str) -> str:
    """``mailbox <n> message <Y>-<MM>-<DD> <H>:<M>:<S>`` in local time; UTC + `` UTC`` if the zone is unknown."""
    moment = layout.gregorian_to_datetime(when_gregorian)
    suffix = ""
    try:
        moment = moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        suffix = " UTC"
    return (f"mailbox {mailbox} message {moment.year}-{moment.month:02d}-{moment.day:02d} "
            f"{moment.hour}:{moment.minute}:{moment.second}{suffix}")


def new_message_doc(*, box: Mailbox, call: CallInfo, attachment: str, length_ms: int, timezone: str,
                    now: int | None = None, folder: str = "new") -> dict[str, Any]:
    """A new message document (voicemail.md 3.1) for ``box``; ``now`` in Gregorian seconds."""
    now = layout.now_gregorian() if now is None else now
    doc_id = layout.modb_doc_id(now)
    mailbox = box.number or call.request_user
    metadata = {
        "media_id": doc_id,
        "call_id": call.call_id,
        "caller_id_number": call.caller_id_number,
        "caller_id_name": call.caller_id_name,
        "from": call.from_,
        "from_user": call.from_user,
        "from_realm": call.from_realm,
        "to": call.to,
        "to_user": call.to_user,
        "to_realm": call.to_realm,
        "length": int(length_ms),
        "timestamp": now,
        "folder": folder,
    }
    doc = {
        "_id": doc_id,
        "name": message_name(mailbox, now, timezone),
        "description": "voicemail message with media",
        "source_type": "voicemail",
        "source_id": box.id,
        "media_source": "recording",
        "media_filename": attachment,
        "streamable": True,
        "utc_seconds": now,
        "metadata": metadata,
    }
    modb = layout.modb_at(box.account_id, now)
    return layout.stamp(doc, pvt_type=PVT_TYPE, db=modb, now=now)


def inline_audio(name: str, data: bytes, content_type: str) -> dict[str, Any]:
    """``_attachments`` holding ``data`` inline, for a document write that carries its audio.
    The bytes stay bytes: a local store keeps them as they are, the CouchDB backend sends
    them in base64 (``services.store.interface``)."""
    return {name: {"content_type": content_type, "data": data}}


def attachment_names(doc: Mapping[str, Any]) -> list[str]:
    """The names of a document's attachments, ``_attachments`` then ``pvt_attachments``."""
    names: list[str] = []
    for key in ("_attachments", "pvt_attachments"):
        value = doc.get(key)
        if isinstance(value, Mapping):
            names += [name for name in value if isinstance(name, str) and name not in names]
    return names


def folder_of(doc: Mapping[str, Any]) -> str | None:
    """``metadata.folder``; None when the message is in no folder (KAZOO lists it in none)."""
    metadata = doc.get("metadata")
    folder = metadata.get("folder") if isinstance(metadata, Mapping) else None
    return folder if isinstance(folder, str) else None


def timestamp_of(doc: Mapping[str, Any]) -> int:
    metadata = doc.get("metadata")
    value = metadata.get("timestamp") if isinstance(metadata, Mapping) else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def retention_start(retention_days: int, now: int | None = None) -> int:
    """The oldest Gregorian timestamp still inside the window (3.4)."""
    now = layout.now_gregorian() if now is None else now
    return now - (retention_days * DAY + 3600)


class Messages:
    def __init__(self, store) -> None:
        self._store = store
        self._known_dbs: set[str] = set()

    # -- writing -----------------------------------------------------------------------------

    async def ensure_modb(self, modb: str) -> None:
        if modb not in self._known_dbs:
            await self._store.create_db(modb)
            self._known_dbs.add(modb)

    async def store_with_audio(self, account_id: str, doc: Mapping[str, Any], *, audio_name: str,
                               tries: int = 3) -> dict[str, Any]:
        """Write the new message ``doc`` in one write together with its audio, which ``doc``
        carries as attachment ``audio_name``: an ``_attachments`` entry with inline ``data``
        (``inline_audio``), as CouchDB takes it in a document ``PUT``, or a ``pvt_attachments``
        entry (a copy of a KAZOO message kept behind a storage handler).  Returns the document
        as stored, without attachment data.

        Idempotent: when the id is taken by a message that already has ``audio_name`` (this
        write, made before, its answer lost), that message is the answer.  An id taken by
        another document is KAZOO's id conflict: a new id in the same month, up to ``tries``.
        """
        if audio_name not in attachment_names(doc):
            raise ValueError(f"message {doc.get('_id')}: no attachment {audio_name!r} to write it with")
        doc = {k: v for k, v in doc.items() if k != "_rev"}
        for attempt in range(tries):
            modb = layout.modb_of_doc_id(account_id, doc["_id"])
            await self.ensure_modb(modb)
            try:
                stored = await self._store.put(modb, doc)
                return {**{k: v for k, v in doc.items() if k != "_attachments"}, "_rev": stored["_rev"]}
            except DatabaseNotFound:
                self._known_dbs.discard(modb)
                if attempt == tries - 1:
                    raise
                continue
            except Conflict:
                try:
                    current = await self._store.get(modb, doc["_id"])
                except NotFound:
                    current = None           # deleted meanwhile: try the same id again
                if current is not None and audio_name in attachment_names(current):
                    log.info("message %s was stored already; kept as it is", doc["_id"])
                    return current
                if attempt == tries - 1:
                    raise
                if current is not None:
                    new_id = f"{doc['_id'].split('-', 1)[0]}-{layout.new_doc_id()}"
                    log.warning("message id %s is taken by another document; storing as %s", doc["_id"], new_id)
                    doc["_id"] = new_id
                    doc["metadata"] = {**doc.get("metadata", {}), "media_id": new_id}
        raise AssertionError("unreachable")

    # -- reading -----------------------------------------------------------------------------

    async def get(self, account_id: str, message_id: str) -> dict | None:
        try:
            return await self._store.get(layout.modb_of_doc_id(account_id, message_id), message_id)
        except (NotFound, layout.InvalidName):
            return None

    async def modbs(self, account_id: str, retention_days: int, now: int | None = None) -> list[str]:
        """The account's monthly databases that can hold messages inside the window, newest first."""
        now = layout.now_gregorian() if now is None else now
        start = layout.gregorian_to_datetime(retention_start(retention_days, now))
        end = layout.gregorian_to_datetime(now)
        names, year, month = [], end.year, end.month
        while (year, month) >= (start.year, start.month):
            names.append(layout.modb(account_id, year, month))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return names

    async def listing(self, account_id: str, box_id: str, *, retention_days: int,
                      now: int | None = None) -> list[dict]:
        """Every message of the box inside the retention window (3.3), as KAZOO's
        ``listing_by_mailbox`` over the monthly databases gives them: newest database first,
        each newest first."""
        now = layout.now_gregorian() if now is None else now
        oldest = retention_start(retention_days, now)
        found: list[dict] = []
        for modb in await self.modbs(account_id, retention_days, now):
            try:
                found.extend(await self._store.vm_messages(modb, box_id, since=oldest, until=now))
            except DatabaseNotFound:
                continue
        return found

    async def counts(self, account_id: str, box_id: str, *, retention_days: int,
                     now: int | None = None) -> Counts:
        """``new`` and ``saved`` inside the retention window, as KAZOO's ``count_per_box_folder``
        counts them (``kvm_messages:count_non_deleted``)."""
        now = layout.now_gregorian() if now is None else now
        oldest = retention_start(retention_days, now)
        new = saved = 0
        for modb in await self.modbs(account_id, retention_days, now):
            try:
                per_folder = await self._store.vm_folder_counts(modb, box_id, since=oldest, until=now)
            except DatabaseNotFound:
                continue
            new += per_folder.get("new", 0)
            saved += per_folder.get("saved", 0)
        return Counts(new, saved)

    async def update(self, account_id: str, message_id: str, changes: Mapping[str, Any], *,
                     tries: int = 3) -> dict | None:
        """Set top-level fields of a stored message (conflicts retried); ``None`` if it is gone."""
        modb = layout.modb_of_doc_id(account_id, message_id)
        for attempt in range(tries):
            doc = await self.get(account_id, message_id)
            if doc is None:
                return None
            doc = {**doc, **changes}
            layout.touch(doc)
            try:
                return await self._store.put(modb, doc)
            except Conflict:
                if attempt == tries - 1:
                    raise
        return None

    # -- folders -----------------------------------------------------------------------------

    async def set_folder(self, account_id: str, message_id: str, folder: str, *, retention_days: int | None = None,
                         now: int | None = None, tries: int = 3) -> dict | None:
        """Move a message to ``folder``; the stored document, or ``None`` if it is gone.

        With ``retention_days``, a message past the window is forced to ``deleted`` with
        ``retention: "enforced"`` and ``RetentionEnforced`` is raised.
        """
        if folder not in FOLDERS:
            raise ValueError(f"unknown folder {folder!r}")
        modb = layout.modb_of_doc_id(account_id, message_id)
        for attempt in range(tries):
            doc = await self.get(account_id, message_id)
            if doc is None:
                return None
            expired = retention_days is not None and timestamp_of(doc) < retention_start(retention_days, now)
            target = "deleted" if expired else folder
            if folder_of(doc) == target and not (expired and doc.get("retention") != "enforced"):
                if expired:
                    raise RetentionEnforced(message_id)
                return doc
            doc = dict(doc)
            doc["metadata"] = {**doc.get("metadata", {}), "folder": target}
            if expired:
                doc["retention"] = "enforced"
                doc["retention_message"] = "message is prior to the retention window"
            layout.touch(doc)
            try:
                saved = await self._store.put(modb, doc)
            except Conflict:
                if attempt == tries - 1:
                    raise
                continue
            if expired:
                raise RetentionEnforced(message_id)
            return saved
        return None
