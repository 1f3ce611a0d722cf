"""RECORD-GREETING / RECORD-NAME / RECORD-TEMPORARY and the review menu without operator
(voicemail.md 5.9.2, 4.7).

``record_greeting(call, env, box, profile=..., kind=...)`` returns
``(RecordOutcome, box)``:

* ``SAVED``: the recording was kept (``vm-saved`` played): its audio is stored
  in the media document and the pointer written, on the box or, for the name of
  a box with an owner, on the user;
* ``NOT_STORED``: the gateway's upload of the recording never reached the store
  (``vm-deleted`` played, one warning logged); nothing was written, the previous
  greeting stays;
* ``ABANDONED``: four bad review entries or a hangup in review (``vm-deleted``
  played); the pointer is unchanged.

Saving (5.9.2 step 3): the media document is the pointer's (unless it is an
uploaded ``unavailable`` greeting, which may be shared: then a new one), the
gateway uploads the recording to a single-use ``UPLOAD_MEDIA`` URL
(storage/upload.py), and storage/recorded_media.py writes the document with the
recording as its only attachment and announces it; then the pointer is written.

Ours (spec README, defects we fix): a recording shorter than
``min_message_size`` is discarded like a too-short message -- ``vm-saved``
is still played, but nothing is uploaded or written and the previous greeting
stays.  The media document is therefore written only together with a long
enough recording (KAZOO creates it before recording, without audio).
"""

from __future__ import annotations

import enum
import logging
import os
from typing import Any

from services.store import layout
from services.store.interface import NotFound
from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.boxes.profile import GREETING_TIME_LIMIT_S, REVIEW_LOOPS, SILENCE_HITS, SILENCE_THRESHOLD, Profile
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup, StoreFailed
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.menus import ask
from voicemail_svc.prompts import beep_item
from voicemail_svc.storage.recorded_media import PendingMedia

log = logging.getLogger(__name__)


class RecordOutcome(enum.Enum):
    SAVED = "saved"
    NOT_STORED = "not_stored"
    ABANDONED = "abandoned"


SETTLE_MARGIN_S = 5.0       # beyond the sink's store timeout


KINDS = {
    # kind: (prompt, media doc name suffix, pointer field under media)
    "unavailable": ("vm-record_greeting", "unavailable greeting", "unavailable"),
    "name": ("vm-record_name", "users name", "name"),
    "temporary": ("vm-record_temp_greeting", "temporary unavailable greeting", "temporary_unavailable"),
}


async def review(call: CallControl, profile: Profile, file_path: str) -> str:
    """4.7 without the operator: ``save``, ``record`` (re-record) or ``no_selection``."""
    keys = profile.keys
    loops = 1
    while loops <= REVIEW_LOOPS:
        try:
            digit = await ask(call, [call.prompt("vm-review_recording")], profile=profile)
        except (Hangup, CommandFailed):
            return "no_selection"
        if digit and digit == keys.listen:
            try:
                await call.play(file_path)
            except (Hangup, CommandFailed):
                return "no_selection"
            loops = 1
            continue
        if digit and digit == keys.record:
            return "record"
        if digit and digit == keys.save:
            return "save"
        loops += 1
    return "no_selection"


async def record_greeting(call: CallControl, env: CheckEnv, box: Mailbox, *, profile: Profile,
                          kind: str) -> tuple[RecordOutcome, Mailbox]:
    prompt_id, _suffix, _field = KINDS[kind]
    while True:
        name = f"{os.urandom(16).hex()}.{profile.media_extension}"
        await call.play_many([call.prompt(prompt_id), beep_item()])
        recorded = await call.record(name, time_limit_s=GREETING_TIME_LIMIT_S, silence_threshold=SILENCE_THRESHOLD,
                                     silence_hits=SILENCE_HITS)
        choice = "no_selection" if recorded.hangup else await review(call, profile, recorded.file_path or name)
        if choice == "record":
            continue
        if choice == "no_selection":
            try:
                await call.play(call.prompt("vm-deleted"))
            except (Hangup, CommandFailed):
                pass
            return RecordOutcome.ABANDONED, box
        if recorded.length_ms < profile.min_message_size_ms:
            log.info("%s recording of %d ms is shorter than %d ms: discarded", kind, recorded.length_ms,
                     profile.min_message_size_ms)
        else:
            stored = await _store_greeting(call, env, box, kind=kind, file_name=name)
            if stored is None:
                await call.play(call.prompt("vm-deleted"))
                return RecordOutcome.NOT_STORED, box
            box = stored
        await call.play(call.prompt("vm-saved"))
        return RecordOutcome.SAVED, box


def _pointer_doc_is_user(box: Mailbox, kind: str) -> bool:
    return kind == "name" and box.owner is not None


def current_pointer(box: Mailbox, kind: str) -> str:
    if _pointer_doc_is_user(box, kind):
        media = box.owner.get("media") if box.owner is not None else None
        value = media.get("name") if isinstance(media, dict) else None
        return value if isinstance(value, str) else ""
    return box.media(KINDS[kind][2])


async def _reusable_media(env: CheckEnv, box: Mailbox, kind: str) -> dict[str, Any] | None:
    """The media document the pointer names, unless it is gone or an uploaded ``unavailable``
    greeting (which may be shared: never overwritten, 5.9.2 step 1)."""
    pointer = current_pointer(box, kind)
    if not pointer:
        return None
    try:
        existing = await env.store.get(env.account_db, pointer)
    except NotFound:
        return None
    if kind == "unavailable" and existing.get("media_source") == "upload":
        return None
    return existing


async def _store_greeting(call: CallControl, env: CheckEnv, box: Mailbox, *, kind: str,
                          file_name: str) -> Mailbox | None:
    """The recording into its media document, then the pointer (5.9.2 step 3); the box as it is
    now, or None when the audio could not be stored (nothing written)."""
    _prompt, suffix, field = KINDS[kind]
    db = env.account_db
    existing = await _reusable_media(env, box, kind)
    media_id = existing["_id"] if existing is not None else layout.new_doc_id()
    fields: dict[str, Any] = {
        "name": f"mailbox {box.number} {file_name if existing is not None else suffix}",
        "description": "voicemail recorded/prompt media", "source_type": "voicemail", "source_id": box.id,
        "media_source": "recording", "streamable": True, "media_filename": file_name}
    if box.owner_id:
        fields["owner_id"] = box.owner_id
    recorded = env.deps.recorded_media
    recorded.expect(PendingMedia(db=db, doc_id=media_id, attachment=file_name, fields=fields,
                                 call_id=env.call_info.call_id))
    failure: StoreFailed | None = None
    try:
        await call.store_file(f"/tmp/{file_name}", env.deps.uploads.media_url_for(db, media_id, file_name))
    except StoreFailed as exc:
        failure = exc
    stored = await recorded.settled(media_id, recorded.store_timeout_s + SETTLE_MARGIN_S)
    if stored is None:
        log.warning("the %s recording %s was not stored (%s); the previous one stays", kind, file_name,
                    failure or "the gateway reported it uploaded, but it never arrived")
        return None
    if _pointer_doc_is_user(box, kind):
        await _set_user_media(env, box, media_id)
        return await env.reload_box(box)
    media = dict(box.doc.get("media") or {}) if isinstance(box.doc.get("media"), dict) else {}
    media[field] = media_id
    return await env.mailboxes.update(box, {"media": media})


async def _set_user_media(env: CheckEnv, box: Mailbox, media_id: str) -> None:
    db = env.account_db
    for _ in range(3):
        user = dict(await env.store.get(db, box.owner_id))
        media = dict(user.get("media") or {}) if isinstance(user.get("media"), dict) else {}
        media["name"] = media_id
        user["media"] = media
        layout.touch(user)
        try:
            await env.store.put(db, user)
            return
        except Exception as exc:  # a conflict: read again
            log.info("updating the name of user %s: %s; retrying", box.owner_id, exc)
    raise RuntimeError(f"could not store the recorded name on user {box.owner_id}")
