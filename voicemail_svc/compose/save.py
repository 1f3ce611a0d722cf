"""SAVE: store one new message (voicemail.md 4.8).

``save_message(deps, call, info, box=..., profile=..., recording=...)``:

1. a recording shorter than ``min_message_size`` is dropped (``dropped``);
2. the message document is built (``new_message_doc``) but not written: the
   spool is told to expect its audio, and a single-use upload URL
   (storage/upload.py) goes to the gateway with ``send_http``;
3. the gateway's ``PUT`` reaches the spool, which writes the document and its
   audio in one write, or keeps both on disk until the store takes them
   (storage/spool.py).  When no upload arrived and every try failed, nothing
   was written and the message is forgotten (``upload_failed``: no
   notification, no MWI); when the gateway reports a failure although the audio
   did arrive (an answer lost, a retried ``PUT`` refused as reused), the
   message is stored and goes on;
4. once stored, the notifications, the after-notify action and MWI follow
   (notify/notifier.py, ``stored``); a spooled upload is notified by the spool
   once it is stored (``spooled``).

No message is ever written without its audio (spec README, "KAZOO defects we fix").
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
SETTLE_MARGIN_S = 5.0       # beyond the spool's store timeout: the time to write the spool files


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
    stored = StoredMessage(account_id=info.account_id, box_id=box.id, message_id=doc["_id"], length_ms=length,
                           call=call_fields(info), after_notify=profile.after_notify,
                           vm_delete_amqp=profile.vm_delete_amqp, transcribe=profile.transcribe,
                           notify_timeout_ms=profile.notify_timeout_ms)
    pending = Pending(account_id=info.account_id, doc=doc, attachment=recording.name, stored=stored)
    deps.spool.expect(pending)
    url = deps.uploads.url_for(info.account_id, doc["_id"], recording.name)
    failure: StoreFailed | None = None
    try:
        await call.store_file(f"/tmp/{recording.name}", url)
    except StoreFailed as exc:
        failure = exc
    # an upload still being stored when the gateway gave up is waited for
    state = await deps.spool.settled(pending, deps.spool.store_timeout_s + SETTLE_MARGIN_S)
    if state == SPOOLED:
        log.info("message %s is spooled; it is notified once stored", doc["_id"])
        return SPOOLED
    deps.spool.forget(doc["_id"])
    if state != STORED:
        reason = failure if failure is not None else "the gateway reported it uploaded, but no upload arrived"
        log.warning("upload of message %s failed: %s; nothing stored, no notification, no MWI", doc["_id"], reason)
        return UPLOAD_FAILED
    if failure is not None:
        log.info("the gateway reported the upload of message %s failed (%s), but its audio arrived and is "
                 "stored", doc["_id"], failure)
    await deps.notifier.message_stored(pending.stored)
    return STORED
