"""SAVE: store one new message (voicemail.md 4.8).

``save_message(deps, call, info, box=..., profile=..., recording=...)``:

1. a recording shorter than ``min_message_size`` is dropped (``dropped``);
2. the message document is created in the month database (``new_message_doc``);
   if the store refuses it, the spool creates it with the audio;
3. the spool is told to expect the audio, and a single-use upload URL
   (storage/upload.py) goes to the gateway with ``send_http``; when every try
   fails the message is forgotten (``upload_failed``: no notification, no MWI);
4. once the gateway's ``PUT`` was stored, the notifications, the after-notify
   action and MWI follow (notify/notifier.py, ``stored``); a spooled upload is
   notified by the spool once it is stored (``spooled``).

A message counts only once its audio is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from voicemail_svc.boxes.mailbox import CallInfo, Mailbox
from voicemail_svc.boxes.profile import Profile
from voicemail_svc.call_control import CallControl, RecordResult, StoreFailed
from voicemail_svc.deps import Deps
from voicemail_svc.notify.notifier import call_fields
from voicemail_svc.storage.messages import new_message_doc
from voicemail_svc.storage.spool import SPOOLED, STORED, Pending, StoredMessage

log = logging.getLogger(__name__)

DROPPED, UPLOAD_FAILED = "dropped", "upload_failed"


@dataclass(frozen=True)
class Recording:
    name: str                 # attachment name, <32 hex>.<ext>
    result: RecordResult


async def save_message(deps: Deps, call: CallControl, info: CallInfo, *, box: Mailbox, profile: Profile,
                       recording: Recording) -> str:
    """Store one new message (4.8); returns ``dropped``, ``upload_failed``, ``stored`` or ``spooled``."""
    length = recording.result.length_ms
    if length < profile.min_message_size_ms:
        log.info("message of %d ms is shorter than %d ms: dropped", length, profile.min_message_size_ms)
        return DROPPED
    doc = new_message_doc(box=box, call=info, attachment=recording.name, length_ms=length,
                          timezone=profile.timezone, now=deps.clock())
    try:
        doc = await deps.messages.create(info.account_id, doc)
    except Exception as exc:
        log.warning("creating message %s failed (%s); the spool will create it", doc["_id"], exc)
    stored = StoredMessage(account_id=info.account_id, box_id=box.id, message_id=doc["_id"], length_ms=length,
                           call=call_fields(info), after_notify=profile.after_notify,
                           vm_delete_amqp=profile.vm_delete_amqp, transcribe=profile.transcribe,
                           notify_timeout_ms=profile.notify_timeout_ms)
    deps.spool.expect(Pending(account_id=info.account_id, doc=doc, attachment=recording.name, stored=stored))
    url = deps.uploads.url_for(info.account_id, doc["_id"], recording.name)
    try:
        await call.store_file(f"/tmp/{recording.name}", url)
    except StoreFailed as exc:
        deps.spool.forget(doc["_id"])
        log.warning("upload of message %s failed: %s; no notification, no MWI", doc["_id"], exc)
        return UPLOAD_FAILED
    state = deps.spool.state(doc["_id"])
    if state == SPOOLED:
        log.info("message %s is spooled; it is notified once stored", doc["_id"])
        return SPOOLED
    deps.spool.forget(doc["_id"])
    if state != STORED:
        log.warning("the gateway reported message %s uploaded, but no upload arrived", doc["_id"])
        return UPLOAD_FAILED
    await deps.notifier.message_stored(stored)
    return STORED
