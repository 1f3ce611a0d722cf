"""Voicemail messages: documents in the account's monthly databases (voicemail.md 3).

API (stable; ``check`` uses it too)::

    messages = Messages(store)
    doc = new_message_doc(box=box, call=call, attachment="<hex>.mp3", length_ms=4180,
                          timezone="America/New_York", now=<gregorian>)     # pure: builds the document
    doc = await messages.create(account_id, doc)      # writes it (new id on conflict, 3 tries)
    await messages.attach(account_id, doc["_id"], name, data, content_type="audio/mpeg")
    listing = await messages.listing(account_id, box_id, retention_days=93)   # newest first
    counts = await messages.counts(account_id, box_id, retention_days=93)     # Counts(new, saved)
    doc = await messages.get(account_id, message_id)
    doc = await messages.set_folder(account_id, message_id, "saved")

Rules:

* A message counts, is listed and plays only once its audio is stored: a
  document whose ``media_filename`` attachment is missing is left out of
  ``listing`` and ``counts`` (spec README, "a message whose upload failed";
  KAZOO counts it).
* ``listing`` covers the retention window (3.4) across every monthly database
  of the account, drops ``pvt_deleted`` documents, keeps folder ``deleted``
  (callers filter), newest first by ``metadata.timestamp``.
* ``counts`` never counts folder ``deleted``; ``Counts.total`` is new + saved.
* Folder changes only touch ``metadata.folder`` (never ``pvt_deleted``); a
  message past retention is forced to ``deleted`` with ``retention:
  "enforced"`` and the change is refused (``RetentionEnforced``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping
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


def has_audio(doc: Mapping[str, Any]) -> bool:
    """The message's audio (its ``media_filename`` attachment) is stored: in ``_attachments``, or in
    ``pvt_attachments`` behind a handler (a migrated message's ``kz_att_link``, external storage)."""
    attachments = {name: stub for field in ("_attachments", "pvt_attachments")
                   if isinstance(doc.get(field), Mapping) for name, stub in doc[field].items()}
    name = doc.get("media_filename")
    if not attachments:
        return False
    return name in attachments if isinstance(name, str) and name else True


def folder_of(doc: Mapping[str, Any]) -> str:
    metadata = doc.get("metadata")
    return metadata.get("folder", "new") if isinstance(metadata, Mapping) else "new"


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

    async def create(self, account_id: str, doc: dict[str, Any], *, tries: int = 3) -> dict[str, Any]:
        """Write a new message; on an id conflict retry with a new id (up to ``tries``)."""
        doc = dict(doc)
        for attempt in range(tries):
            modb = layout.modb_of_doc_id(account_id, doc["_id"])
            await self.ensure_modb(modb)
            try:
                return await self._store.put(modb, doc)
            except DatabaseNotFound:
                self._known_dbs.discard(modb)
                if attempt == tries - 1:
                    raise
            except Conflict:
                if attempt == tries - 1:
                    raise
                new_id = f"{doc['_id'].split('-', 1)[0]}-{layout.new_doc_id()}"
                doc["_id"] = new_id
                doc["metadata"] = {**doc["metadata"], "media_id": new_id}
        raise AssertionError("unreachable")

    async def ensure_stored(self, account_id: str, doc: Mapping[str, Any], name: str, data: bytes, *,
                            content_type: str) -> dict[str, Any]:
        """Idempotently make ``doc`` exist with attachment ``name`` (used by the spool)."""
        modb = layout.modb_of_doc_id(account_id, doc["_id"])
        await self.ensure_modb(modb)
        try:
            current = await self._store.get(modb, doc["_id"])
        except DatabaseNotFound:
            self._known_dbs.discard(modb)
            raise
        except NotFound:
            body = {k: v for k, v in doc.items() if k not in ("_rev", "_attachments")}
            try:
                current = await self._store.put(modb, body)
            except Conflict:
                current = await self._store.get(modb, doc["_id"])
        attachments = current.get("_attachments")
        if isinstance(attachments, Mapping) and name in attachments:
            return current
        rev = await self._store.put_attachment(modb, doc["_id"], name, data, content_type=content_type,
                                               rev=current["_rev"])
        return {**current, "_rev": rev}

    async def attach(self, account_id: str, doc_id: str, name: str, data: bytes, *, content_type: str) -> str:
        modb = layout.modb_of_doc_id(account_id, doc_id)
        current = await self._store.get(modb, doc_id)
        return await self._store.put_attachment(modb, doc_id, name, data, content_type=content_type,
                                                rev=current["_rev"])

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
        """Every stored message of the box inside the retention window, newest first (3.3)."""
        now = layout.now_gregorian() if now is None else now
        oldest = retention_start(retention_days, now)
        found: list[dict] = []
        for modb in await self.modbs(account_id, retention_days, now):
            try:
                docs = await self._store.vm_messages(modb, box_id)
            except DatabaseNotFound:
                continue
            found.extend(doc for doc in docs if timestamp_of(doc) >= oldest and has_audio(doc))
        found.sort(key=lambda doc: (-timestamp_of(doc), doc["_id"]))
        return found

    async def counts(self, account_id: str, box_id: str, *, retention_days: int,
                     now: int | None = None) -> Counts:
        new = saved = 0
        for doc in await self.listing(account_id, box_id, retention_days=retention_days, now=now):
            folder = folder_of(doc)
            if folder == "new":
                new += 1
            elif folder == "saved":
                saved += 1
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
