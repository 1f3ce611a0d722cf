"""Never lose a recording (spec README, "Beyond KAZOO"; ours).

A message being saved is announced to the spool (``expect``) before its
upload URL goes to the gateway; nothing is written yet.  When the gateway's
``PUT`` arrives (``receive``, the upload endpoint's sink for message audio),
the spool writes the message document with its audio in one write
(``Messages.store_with_audio``), so no message is ever stored without its
audio; if the store fails or does not answer within ``store_timeout_s``, it
writes both into ``spool_dir`` (``<doc id>.json`` and ``<doc id>.audio``,
replaced atomically) and answers the upload as taken.  An owned background
task retries every spooled message until it is stored, and then runs
``on_stored`` (the notifications and MWI of notify/notifier.py) for it, with
the message's ``StoredMessage``: what its notification needs, plain JSON so it
survives in the spool directory.  Storing is idempotent (a message already
stored with that audio is kept as it is), so a retry after a write whose
answer was lost, or after a restart, stores the message once.  A second upload
for a message already taken stores nothing.  At start the directory is
scanned, so messages spooled before a restart are stored after it.

API (stable)::

    spool = Spool(settings.spool_dir, messages, on_stored=notifier.message_stored)
    await spool.start()
    pending = Pending(account_id=..., doc=doc, attachment=name, stored=StoredMessage(...))
    spool.expect(pending)
    state = await spool.receive(grant, body, content_type)    # "stored" or "spooled"
    spool.state(doc_id)        # None, "waiting", "receiving", "stored", "spooled"
    state = await spool.settled(pending, timeout_s)   # the state once an upload being received is done
    spool.forget(doc_id)
    await spool.stop()

"stored" means the caller (compose/save.py) runs the notifications itself, with
``pending.stored`` (its ``message_id`` is the stored id: KAZOO's id conflict
rule may have changed it); "spooled" means the spool will, once the message is
stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from services.logging import bind_call, call_context
from services.media.signer import Grant
from services.store import layout
from services.tasks import raise_if_cancelling
from voicemail_svc.storage.messages import Messages, inline_audio
from voicemail_svc.storage.upload import NotExpected

log = logging.getLogger(__name__)

WAITING, RECEIVING, STORED, SPOOLED = "waiting", "receiving", "stored", "spooled"
PENDING_TTL_S = 3600.0            # forget a pending message whose audio never came


@dataclass(frozen=True)
class StoredMessage:
    """A message whose audio is stored, with what its notification needs (JSON round-trips)."""

    account_id: str
    box_id: str
    message_id: str
    length_ms: int
    call: Mapping[str, str] = field(default_factory=dict)       # call_fields(...)
    after_notify: str = "nothing"                              # nothing | save | delete
    vm_delete_amqp: bool = False
    transcribe: bool = False
    notify_timeout_ms: int = 30000

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "call": dict(self.call)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StoredMessage":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Pending:
    account_id: str
    doc: Mapping[str, Any]
    attachment: str
    stored: StoredMessage
    content_type: str = "audio/mpeg"
    state: str = WAITING
    since: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)   # set once stored or spooled

    @property
    def doc_id(self) -> str:
        return self.doc["_id"]

    @property
    def db(self) -> str:
        """The monthly database the message goes to."""
        return layout.modb_of_doc_id(self.account_id, self.doc_id)

    def matches(self, grant: Grant) -> bool:
        """Whether an upload ``grant`` is for this message's audio."""
        try:
            return (grant.doc_id, grant.attachment, layout.normalize_db_name(grant.db)) == \
                (self.doc_id, self.attachment, self.db)
        except layout.InvalidName:
            return False

    @property
    def call_id(self) -> str | None:
        """The call that left the message: the spool's lines about it carry its Call-ID."""
        return self.stored.call.get("Call-ID") or None

    def to_json(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "doc": dict(self.doc), "attachment": self.attachment,
                "content_type": self.content_type, "stored": self.stored.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Pending":
        return cls(account_id=data["account_id"], doc=data["doc"], attachment=data["attachment"],
                   stored=StoredMessage.from_json(data["stored"]), content_type=data.get("content_type") or
                   "audio/mpeg", state=SPOOLED)


class Spool:
    def __init__(self, directory: str | os.PathLike, messages: Messages, *,
                 on_stored: Callable[[StoredMessage], Awaitable[None]], retry_s: float = 2.0,
                 store_timeout_s: float = 15.0) -> None:
        self.directory = Path(directory)
        self._messages = messages
        self._on_stored = on_stored
        self.retry_s = retry_s
        self.store_timeout_s = store_timeout_s
        self._pending: dict[str, Pending] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._notifying: set[asyncio.Task] = set()
        self.stored_later = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> "Spool":
        for meta in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                pending = Pending.from_json(json.loads(meta.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("spool entry %s is unreadable (%s); left in place", meta.name, exc)
                continue
            if not self._audio_path(pending.doc_id).exists():
                log.error("spool entry %s has no audio; left in place", meta.name)
                continue
            self._pending[pending.doc_id] = pending
            with bind_call(pending.call_id):
                log.info("spooled message %s found at start; it will be stored", pending.doc_id)
        self._task = asyncio.get_running_loop().create_task(self._retry_loop(), name="voicemail-spool",
                                                            context=call_context())
        self._task.add_done_callback(self._loop_done)
        if self.spooled():
            self._wake.set()
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._notifying:
            await asyncio.wait(self._notifying, timeout=5.0)

    def _loop_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the spool retry loop failed", exc_info=task.exception())

    # -- what compose uses ---------------------------------------------------------------------

    def expect(self, pending: Pending) -> None:
        self._pending[pending.doc_id] = pending
        self._expire_waiting()

    def state(self, doc_id: str) -> str | None:
        pending = self._pending.get(doc_id)
        return pending.state if pending is not None else None

    async def settled(self, pending: Pending, timeout_s: float) -> str:
        """The message's state once an upload of it that is being received has been stored or
        spooled (waiting at most ``timeout_s``): the gateway may report a failed upload while
        our endpoint is still storing it."""
        if pending.state == RECEIVING:
            try:
                await asyncio.wait_for(pending.done.wait(), timeout_s)
            except TimeoutError:
                pass
        return pending.state

    def forget(self, doc_id: str) -> None:
        pending = self._pending.get(doc_id)
        if pending is not None and pending.state != SPOOLED:
            del self._pending[doc_id]

    def spooled(self) -> list[str]:
        return [p.doc_id for p in self._pending.values() if p.state == SPOOLED]

    def _expire_waiting(self) -> None:
        limit = time.monotonic() - PENDING_TTL_S
        for doc_id in [d for d, p in self._pending.items() if p.state != SPOOLED and p.since < limit]:
            del self._pending[doc_id]

    # -- the upload sink -------------------------------------------------------------------------

    async def receive(self, grant: Grant, body: bytes, content_type: str) -> str:
        """Store an uploaded recording, or spool it when the store fails; raises only if both fail."""
        pending = self._pending.get(grant.doc_id)
        if pending is None or not pending.matches(grant):
            raise NotExpected(f"no message is waiting for {grant.doc_id}/{grant.attachment}")
        if pending.state in (STORED, SPOOLED):
            with bind_call(pending.call_id):
                log.info("message %s: a second upload of its audio; it is %s already", pending.doc_id,
                         pending.state)
            return pending.state
        if pending.state == RECEIVING:
            raise RuntimeError(f"message {pending.doc_id}: another upload of its audio is being stored")
        if content_type and content_type != "application/octet-stream":
            pending.content_type = content_type
        pending.state = RECEIVING
        try:
            pending.state = await self._store_or_spool(pending, body)
        finally:
            if pending.state == RECEIVING:      # neither stored nor spooled: the upload may come again
                pending.state = WAITING
            else:
                pending.done.set()
        return pending.state

    async def _store_or_spool(self, pending: Pending, body: bytes) -> str:
        with bind_call(pending.call_id):        # the upload request itself names no call
            try:
                await asyncio.wait_for(self._store(pending, body), self.store_timeout_s)
            except Exception as exc:
                log.warning("storing message %s failed (%s); spooling it", pending.doc_id,
                            str(exc) or type(exc).__name__)
                await asyncio.to_thread(self._write, pending, body)
                self._wake.set()
                return SPOOLED
        return STORED

    async def _store(self, pending: Pending, body: bytes) -> None:
        doc = {**pending.doc, "_attachments": inline_audio(pending.attachment, body, pending.content_type)}
        stored = await self._messages.store_with_audio(pending.account_id, doc, audio_name=pending.attachment)
        if stored["_id"] != pending.stored.message_id:      # KAZOO's id conflict rule gave it another id
            pending.stored = replace(pending.stored, message_id=stored["_id"])

    # -- files -------------------------------------------------------------------------------------

    def _meta_path(self, doc_id: str) -> Path:
        return self.directory / f"{doc_id}.json"

    def _audio_path(self, doc_id: str) -> Path:
        return self.directory / f"{doc_id}.audio"

    def _write(self, pending: Pending, body: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for path, data in ((self._audio_path(pending.doc_id), body),
                           (self._meta_path(pending.doc_id), json.dumps(pending.to_json()).encode("utf-8"))):
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)

    def _remove(self, doc_id: str) -> None:
        for path in (self._meta_path(doc_id), self._audio_path(doc_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    # -- retries -------------------------------------------------------------------------------------

    async def _retry_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.retry_s)
            except asyncio.TimeoutError:
                pass
            raise_if_cancelling()
            self._wake.clear()
            for doc_id in self.spooled():
                await self.retry(doc_id)

    async def retry(self, doc_id: str) -> bool:
        """One attempt to store a spooled message; True when it is stored (and notified)."""
        pending = self._pending.get(doc_id)
        if pending is None or pending.state != SPOOLED:
            return False
        with bind_call(pending.call_id):        # the retry loop serves every spooled message
            try:
                body = await asyncio.to_thread(self._audio_path(doc_id).read_bytes)
                await asyncio.wait_for(self._store(pending, body), self.store_timeout_s)
            except Exception as exc:
                log.info("spooled message %s still not stored: %s", doc_id, str(exc) or type(exc).__name__)
                return False
            await asyncio.to_thread(self._remove, doc_id)
            del self._pending[doc_id]
            self.stored_later += 1
            log.info("spooled message %s stored", doc_id)
            task = asyncio.get_running_loop().create_task(self._notify(pending.stored), name=f"vm-notify-{doc_id}",
                                                          context=call_context(pending.call_id))
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)
        return True

    async def _notify(self, stored: StoredMessage) -> None:
        try:
            await self._on_stored(stored)
        except Exception:
            log.exception("notifying spooled message %s failed", stored.message_id)
