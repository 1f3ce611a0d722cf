"""RECORD-GREETING / RECORD-NAME / RECORD-TEMPORARY and the review menu without operator
(voicemail.md 5.9.2, 4.7).

``record_greeting(call, env, box, profile=..., kind=...)`` returns
``(RecordOutcome, box)``:

* ``SAVED``: the recording was kept (``vm-saved`` played) and the pointer
  written, on the box or, for the name of a box with an owner, on the user;
* ``ABANDONED``: four bad review entries or a hangup in review (``vm-deleted``
  played); the pointer is unchanged.

Ours (spec README, defects we fix): a recording shorter than
``min_message_size`` is discarded like a too-short message -- ``vm-saved``
is still played, but no media document is created or changed and the
previous greeting stays.  The media document is therefore written only when
a long enough recording is saved (KAZOO creates it before recording).

The recorded audio itself is not uploaded yet: the upload endpoint takes
message attachments only (``CheckEnv.upload_recording``, docs/deviations.md).
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
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.menus import ask
from voicemail_svc.prompts import beep_item

log = logging.getLogger(__name__)


class RecordOutcome(enum.Enum):
    SAVED = "saved"
    ABANDONED = "abandoned"


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
        if recorded.length_ms >= profile.min_message_size_ms:
            box = await _store_greeting(env, box, kind=kind, file_name=name)
        else:
            log.info("%s recording of %d ms is shorter than %d ms: discarded", kind, recorded.length_ms,
                     profile.min_message_size_ms)
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


async def _store_greeting(env: CheckEnv, box: Mailbox, *, kind: str, file_name: str) -> Mailbox:
    """Media document (reused unless an upload), the audio, then the pointer (5.9.2 step 3)."""
    _prompt, suffix, field = KINDS[kind]
    db = env.account_db
    store = env.store
    existing: dict[str, Any] | None = None
    pointer = current_pointer(box, kind)
    if pointer:
        try:
            existing = await store.get(db, pointer)
        except NotFound:
            existing = None
        if existing is not None and kind == "unavailable" and existing.get("media_source") == "upload":
            existing = None          # an uploaded greeting may be shared: never overwrite it
    doc: dict[str, Any] = dict(existing) if existing is not None else {"_id": layout.new_doc_id()}
    doc.pop("_attachments", None)    # the old audio goes; the new one is uploaded below
    doc.update({"name": f"mailbox {box.number} {file_name if existing is not None else suffix}",
                "description": "voicemail recorded/prompt media", "source_type": "voicemail",
                "source_id": box.id, "media_source": "recording", "streamable": True,
                "media_filename": file_name})
    if box.owner_id:
        doc["owner_id"] = box.owner_id
    layout.stamp(doc, pvt_type="media", db=db)
    saved = await store.put(db, doc)
    env.upload_recording(doc_id=saved["_id"])
    media_id = saved["_id"]
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
