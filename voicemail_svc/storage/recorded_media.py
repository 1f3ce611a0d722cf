"""Greetings, names and temporary greetings recorded by phone: their audio in the media
document (voicemail.md 5.9.2; media.md 6.2).

The check session (check/greetings.py) decides which media document a recording
goes to and what it says (``PendingMedia``), tells this sink to expect it, and
hands the gateway a single-use ``UPLOAD_MEDIA`` URL (storage/upload.py).  When
the gateway's ``PUT`` arrives (``receive``, the upload endpoint's sink for media):

1. the media document is written in one write with the recording as its only
   attachment: the old ``_attachments`` and ``pvt_attachments`` go in that same
   write (KAZOO removes them, then uploads), so the document never answers with an
   old greeting's audio, nor is ever without audio;
2. the audio resolver (services/media/audio.py) checks the document now answers with
   the new attachment, as the gateway's ``/<account>/<media id>`` will find it;
3. the ``configuration`` event for the document goes out (``doc_created`` or
   ``doc_edited``, bus.md 3.11), so a gateway holding a Stream-URL of the old
   greeting, and every media responder, drop it.

The session then waits for the outcome (``settled``) and writes the pointer (box or
user) only when the audio is stored; otherwise the previous greeting stays.  The
minimum length is the session's: a too-short recording is never uploaded.

API (stable)::

    media = RecordedMedia(store, announcer, resolver)
    media.expect(PendingMedia(db=account_db, doc_id=media_id, attachment=name, fields={...}))
    await media.receive(grant, body, content_type)      # the upload endpoint's sink
    doc = await media.settled(media_id, timeout_s)       # the stored document, or None
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from services.config.announce import Announcer
from services.logging import bind_call
from services.media.audio import Audio, AudioResolver
from services.media.signer import Grant
from services.store import layout
from services.store.interface import Conflict, NotFound
from voicemail_svc.storage.messages import attachment_names, inline_audio
from voicemail_svc.storage.upload import NotExpected

log = logging.getLogger(__name__)

PVT_TYPE = "media"
STORE_TIMEOUT_S = 15.0
PENDING_TTL_S = 3600.0          # forget an expected recording whose audio never came
WRITE_TRIES = 3


@dataclass
class PendingMedia:
    """A recording the gateway is about to upload into media document ``doc_id`` of ``db``."""

    db: str                                  # the account database (either form)
    doc_id: str
    attachment: str                          # <32 hex>.<ext>: the recording's name
    fields: Mapping[str, Any]                # what the document says (voicemail.md 5.9.2 step 1)
    call_id: str | None = None
    stored: dict[str, Any] | None = None     # the document once its audio is stored
    receiving: bool = False
    since: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def matches(self, grant: Grant) -> bool:
        try:
            same_db = layout.normalize_db_name(grant.db) == layout.normalize_db_name(self.db)
        except layout.InvalidName:
            return False
        return same_db and (grant.doc_id, grant.attachment) == (self.doc_id, self.attachment)


class RecordedMedia:
    def __init__(self, store, announcer: Announcer, resolver: AudioResolver, *,
                 store_timeout_s: float = STORE_TIMEOUT_S) -> None:
        self._store = store
        self._announcer = announcer
        self._resolver = resolver
        self.store_timeout_s = store_timeout_s
        self._pending: dict[str, PendingMedia] = {}

    def expect(self, pending: PendingMedia) -> None:
        limit = time.monotonic() - PENDING_TTL_S
        for doc_id in [d for d, p in self._pending.items() if p.since < limit and not p.receiving]:
            del self._pending[doc_id]
        self._pending[pending.doc_id] = pending

    async def settled(self, doc_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The stored document once the expected recording of ``doc_id`` is in (an upload still
        being stored is waited for, at most ``timeout_s``), else None; forgets the expectation."""
        pending = self._pending.get(doc_id)
        if pending is None:
            return None
        if pending.receiving:
            try:
                await asyncio.wait_for(pending.done.wait(), timeout_s)
            except TimeoutError:
                log.warning("media %s: its upload is still being stored after %.0f s", doc_id, timeout_s)
        del self._pending[doc_id]
        return pending.stored

    # -- the upload sink ---------------------------------------------------------------------

    async def receive(self, grant: Grant, body: bytes, content_type: str) -> dict[str, Any]:
        """Store an uploaded recording in its media document; raises when it cannot (the upload
        endpoint answers 500 and the gateway may try the same URL again)."""
        pending = self._pending.get(grant.doc_id)
        if pending is None or not pending.matches(grant):
            raise NotExpected(f"no recording is expected for {grant.doc_id}/{grant.attachment}")
        with bind_call(pending.call_id):         # the upload request itself names no call
            if pending.stored is not None:
                log.info("media %s: a second upload of %s; stored already", pending.doc_id, pending.attachment)
                return pending.stored
            if pending.receiving:
                raise RuntimeError(f"media {pending.doc_id}: another upload of its audio is being stored")
            pending.receiving = True
            try:
                stored, created = await asyncio.wait_for(self._write(pending, body, content_type),
                                                         self.store_timeout_s)
                pending.stored = stored
            finally:
                pending.receiving = False
                pending.done.set()
            await self._announce(created, pending.db, stored)
        return stored

    async def _write(self, pending: PendingMedia, body: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
        db = layout.normalize_db_name(pending.db)
        inline = inline_audio(pending.attachment, body, content_type)
        for attempt in range(WRITE_TRIES):
            try:
                current = await self._store.get(db, pending.doc_id)
            except NotFound:
                current = None
            doc = {k: v for k, v in (current or {}).items() if k not in ("_attachments", "pvt_attachments")}
            doc.update(pending.fields)
            doc["_id"] = pending.doc_id
            layout.stamp(doc, pvt_type=PVT_TYPE, db=db)
            replaced = attachment_names(current or {})
            try:
                saved = await self._store.put(db, {**doc, "_attachments": inline})
            except Conflict:
                if attempt == WRITE_TRIES - 1:
                    raise
                continue
            saved = {**doc, "_rev": saved["_rev"]}
            log.info("media %s/%s: recording %s stored (%d bytes)%s", db, pending.doc_id, pending.attachment,
                     len(body), f", replacing {', '.join(replaced)}" if replaced else "")
            await self._check(db, pending)
            return saved, current is None
        raise AssertionError("unreachable")

    async def _check(self, db: str, pending: PendingMedia) -> None:
        """The document answers with the new recording first, as a gateway's media name finds it."""
        audio = await self._resolver.resolve(db, pending.doc_id)
        if not isinstance(audio, Audio) or audio.requested.attachment != pending.attachment:
            raise RuntimeError(f"media {db}/{pending.doc_id} does not answer with {pending.attachment} "
                               f"after it was stored: {audio}")

    async def _announce(self, created: bool, db: str, doc: Mapping[str, Any]) -> None:
        try:
            await self._announcer.doc_changed("created" if created else "edited",
                                              database=layout.encode_db_name(layout.normalize_db_name(db)), doc=doc)
        except Exception:
            # the greeting is stored; only the event is lost (caches keep the old Stream-URL up to their lifetime)
            log.exception("announcing media %s failed", doc["_id"])

