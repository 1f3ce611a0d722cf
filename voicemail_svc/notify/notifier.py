"""Voicemail notifications (voicemail.md 8, bus.md 3.13 and 8.9) and what follows a stored message.

API (stable)::

    notifier = Notifier(bus=bus, replies=reply_queue, messages=messages, mailboxes=mailboxes, mwi=mwi,
                        transcriber=None)
    status = await notifier.voicemail_new(fields, timeout_s=30)   # first final notify_update Status, or None
    await notifier.voicemail_saved(fields)
    await notifier.voicemail_full(account_id=..., box_id=..., max_count=100, count=100)
    await notifier.voicemail_deleted(doc, box_id=..., reason="dtmf")
    await notifier.message_stored(stored)     # 4.8 steps 4-7 for a message whose audio is stored

``StoredMessage`` (``storage/spool.py``) carries what ``message_stored`` needs and
is plain JSON, so a message stored later from the spool is notified the same way.

``message_stored`` runs, in order: transcription (when on and a transcriber is
configured), ``voicemail_new`` with a wait for a final ``notify_update``
(``completed``, ``disabled``, ``failed``, ``ignored``; ``pending`` keeps
waiting; ``notify.notify_publisher_timeout_ms``), the after-notify action
(only on ``completed``; ``save`` wins over ``delete``), ``voicemail_saved``
when the effective action is "nothing", then MWI for the box -- so MWI sees
the after-notify folder change.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable, Mapping

from services.bus import BusError
from services.messages import catalogue as m
from services.store import layout
from voicemail_svc.boxes.mailbox import CallInfo, Mailboxes
from voicemail_svc.storage.messages import Messages
from voicemail_svc.storage.spool import StoredMessage

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"completed", "disabled", "failed", "ignored"})

# (account_id, message document) -> a transcription object ({"result": "success", "text": ...}) or None
Transcriber = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any] | None]]


def call_fields(call: CallInfo) -> dict[str, str]:
    """The fields of ``voicemail_new``/``voicemail_saved`` that come from the live call (8.1)."""
    return {
        "Account-ID": call.account_id,
        "Account-DB": call.account_db,
        "From-User": call.from_user,
        "From-Realm": call.from_realm,
        "To-User": call.to_user,
        "To-Realm": call.to_realm,
        "Caller-ID-Number": call.caller_id_number,
        "Caller-ID-Name": call.caller_id_name,
        "Call-ID": call.call_id,
    }


def _split(address: Any) -> tuple[str, str]:
    user, _, realm = str(address or "").partition("@")
    return user, realm


class Notifier:
    def __init__(self, *, bus, replies, messages: Messages, mailboxes: Mailboxes, mwi,
                 transcriber: Transcriber | None = None) -> None:
        self._bus = bus
        self._replies = replies
        self._messages = messages
        self._mailboxes = mailboxes
        self._mwi = mwi
        self._transcriber = transcriber

    # -- the four notifications ---------------------------------------------------------------

    async def voicemail_new(self, fields: Mapping[str, Any], *, timeout_s: float) -> str | None:
        """Publish ``voicemail_new`` and wait for the first final ``notify_update`` Status."""
        msg_id = os.urandom(16).hex()
        body = {**fields, "Msg-ID": msg_id, "Voicemail-Timestamp": layout.now_gregorian()}
        try:
            stream = self._replies.stream(msg_id)
        except BusError as exc:
            log.warning("voicemail_new not sent: %s", exc)
            return None
        try:
            try:
                await self._bus.publish(m.VOICEMAIL_NEW, body, server_id=self._replies.name)
            except Exception as exc:
                log.warning("publishing voicemail_new failed: %s", exc)
                return None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    log.info("no final notify_update for voicemail_new within %.0f s", timeout_s)
                    return None
                try:
                    reply = await stream.next(remaining)
                except asyncio.TimeoutError:
                    continue
                except BusError as exc:
                    log.warning("waiting for notify_update: %s", exc)
                    return None
                status = reply.get("Status")
                if status in FINAL_STATUSES:
                    return status
        finally:
            stream.close()

    async def voicemail_saved(self, fields: Mapping[str, Any]) -> None:
        body = {k: v for k, v in fields.items() if k != "Voicemail-Transcription"}
        body["Voicemail-Timestamp"] = layout.now_gregorian()
        await self._fire(m.VOICEMAIL_SAVED, body)

    async def voicemail_full(self, *, account_id: str, box_id: str, max_count: int, count: int,
                             account_db: str = "") -> None:
        await self._fire(m.VOICEMAIL_FULL, {"Account-ID": account_id, "Account-DB": account_db,
                                            "Voicemail-Box": box_id, "Max-Message-Count": int(max_count),
                                            "Message-Count": int(count)})

    async def voicemail_deleted(self, doc: Mapping[str, Any], *, box_id: str, reason: str) -> None:
        """``voicemail_deleted`` from the stored message's metadata (8.4); tolerant of odd from/to."""
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else {}
        from_user, from_realm = _split(metadata.get("from"))
        to_user, to_realm = _split(metadata.get("to"))
        account_db = doc.get("pvt_account_db") or ""
        body = {
            "Account-ID": doc.get("pvt_account_id") or "",
            "Account-DB": account_db,
            "From-User": from_user, "From-Realm": from_realm, "To-User": to_user, "To-Realm": to_realm,
            "Voicemail-Box": box_id, "Voicemail-ID": metadata.get("media_id") or doc.get("_id"),
            "Caller-ID-Number": metadata.get("caller_id_number"), "Caller-ID-Name": metadata.get("caller_id_name"),
            "Call-ID": metadata.get("call_id"),
            "Voicemail-Timestamp": str(metadata.get("timestamp", "")),
            "Voicemail-Length": str(metadata.get("length", "")),
            "Reason": reason,
        }
        await self._fire(m.VOICEMAIL_DELETED, body)

    async def _fire(self, spec, body: Mapping[str, Any]) -> None:
        try:
            await self._bus.publish(spec, body)
        except Exception as exc:
            log.warning("publishing %s failed: %s", spec.name, exc)

    # -- 4.8 steps 4-7 ----------------------------------------------------------------------------

    async def message_stored(self, stored: StoredMessage) -> None:
        """Transcribe, notify, apply the after-notify action, then MWI for the box."""
        fields: dict[str, Any] = {**stored.call, "Voicemail-Box": stored.box_id,
                                  "Voicemail-ID": stored.message_id, "Voicemail-Length": int(stored.length_ms)}
        if stored.transcribe and self._transcriber is not None:
            transcription = await self._transcribe(stored)
            if transcription:
                fields["Voicemail-Transcription"] = dict(transcription)
        status = await self.voicemail_new(fields, timeout_s=stored.notify_timeout_ms / 1000.0)
        action = stored.after_notify if status == "completed" else "nothing"
        if action == "save":
            await self._messages.set_folder(stored.account_id, stored.message_id, "saved")
        elif action == "delete":
            if stored.vm_delete_amqp:
                doc = await self._messages.get(stored.account_id, stored.message_id)
                if doc is not None:
                    await self.voicemail_deleted(doc, box_id=stored.box_id, reason="delete_after_notify")
            await self._messages.set_folder(stored.account_id, stored.message_id, "deleted")
        else:
            await self.voicemail_saved(fields)
        box = await self._mailboxes.get(stored.account_id, stored.box_id)
        if box is not None:
            await self._mwi.box_update(box)

    async def _transcribe(self, stored: StoredMessage) -> Mapping[str, Any] | None:
        doc = await self._messages.get(stored.account_id, stored.message_id)
        if doc is None:
            return None
        try:
            result = await self._transcriber(stored.account_id, doc)
        except Exception:
            log.exception("transcription of %s failed", stored.message_id)
            return None
        if not result:
            return None
        try:
            await self._messages.update(stored.account_id, stored.message_id, {"transcription": dict(result)})
        except Exception as exc:
            log.warning("storing the transcription of %s failed: %s", stored.message_id, exc)
        return result if result.get("result", "success") == "success" else None
