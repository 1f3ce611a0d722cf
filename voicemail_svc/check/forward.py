"""FORWARD (key 3) during playback (voicemail.md 5.8).

The caller names a destination box (the box-number rules of 5.2 with
``vm-enter_forward_id``, its own budget of ``max_login_attempts``; the source
box itself is refused), then -- with ``vm_message_forward_type``
``prepend_forward`` -- may record an introduction.  The copy is a new
message in the destination box (folder ``new``, ``history`` += source box),
notified like a new message (``voicemail_new``, after-notify action,
``voicemail_saved``, MWI of the destination).

The copy is written in one write together with its audio, which comes from
wherever the original keeps it (the audio resolver, services/media/audio.py):

* without an introduction, every attachment of the original: its
  ``_attachments`` bytes copied inline, its ``pvt_attachments`` entries (a
  storage plan's handler, a migration link) as they are, so the copy's audio
  lives where the original's does, as KAZOO's copy of the document has it;
* with an introduction the message's audio itself is needed (what KAZOO joins
  the introduction to): its first attachment, links followed, read and stored
  inline.  When it cannot be read (external storage kzvoice cannot read, a
  broken link, no audio at all) the forward is refused before anything is
  created or recorded: ``vm-forward_abort``.  A message with no audio anywhere
  is refused the same way in both kinds: a copy would be a message without audio.

The caller's PLAY state moves the source message to ``saved`` whatever
happens here, except when the prepend menu reaches its loop limit (ours, spec
README): then the session ends with ``vm-goodbye`` and the message is left as
it was.

Joining an introduction with the message needs media tooling this service
does not have, so a prepended forward always takes KAZOO's own fallback for
a failed join: a copy of the message's audio marked ``forward_join_error``
whose ``Voicemail-Length`` still counts the introduction (docs/deviations.md).
"""

from __future__ import annotations

import enum
import logging
import os
from dataclasses import replace
from collections.abc import Mapping
from typing import Any

from services.media.audio import Audio, Unresolved
from services.store import layout
from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.boxes.profile import FIXED_KEYS, MAIN_MENU_LOOPS, SILENCE_HITS, SILENCE_THRESHOLD, Profile
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.greetings import review
from voicemail_svc.check.menus import ask
from voicemail_svc.notify.notifier import call_fields
from voicemail_svc.prompts import Media, beep_item
from voicemail_svc.storage.messages import attachment_names, inline_audio, message_name
from voicemail_svc.storage.spool import StoredMessage

log = logging.getLogger(__name__)


async def _destination(call: CallControl, env: CheckEnv, source: Mailbox, profile: Profile) -> Mailbox | None:
    tries = 1
    while tries <= profile.max_login_attempts:
        digits = await ask(call, [call.prompt("vm-enter_forward_id")], profile=profile,
                           max_digits=profile.max_box_number_length)
        box = await env.box_by_number(digits) if digits else None
        if box is not None and box.id != source.id:
            return box
        await call.play(call.prompt("menu-invalid_entry"))
        tries += 1
    await call.play(call.prompt("vm-forward_abort"))
    return None


async def _prepend_choice(call: CallControl, profile: Profile) -> str:
    """``record``, ``as_is``, ``cancel``, or ``goodbye`` after four menus with no valid key.

    KAZOO repeats this menu without limit; the spec README gives it the main menu's
    limit (four invalid or empty tries, then ``vm-goodbye`` and MWI), which the
    caller (PLAY, then the check session) carries out.
    """
    for _ in range(MAIN_MENU_LOOPS):
        digit = await ask(call, [call.prompt("vm-message_forwarding")], profile=profile)
        if digit == FIXED_KEYS["prepend_record"]:
            return "record"
        if digit == FIXED_KEYS["prepend_as_is"]:
            return "as_is"
        if digit == FIXED_KEYS["prepend_cancel"]:
            return "cancel"
    return "goodbye"


async def _record_intro(call: CallControl, env: CheckEnv, dest: Mailbox) -> int:
    """Record and review an introduction; its length in ms."""
    dest_profile = await env.profile(dest, typed=True)
    while True:
        media: list[Media] = [] if dest_profile.skip_instructions else [call.prompt("vm-record_message")]
        media.append(beep_item())
        await call.play_many(media)
        name = f"{os.urandom(16).hex()}.{dest_profile.media_extension}"
        recorded = await call.record(name, time_limit_s=dest_profile.max_message_length_s,
                                     silence_threshold=SILENCE_THRESHOLD, silence_hits=SILENCE_HITS)
        if recorded.hangup:
            return recorded.length_ms
        choice = await review(call, dest_profile, recorded.file_path or name)
        if choice != "record":
            return recorded.length_ms


class ForwardRefused(Exception):
    """The message's audio cannot be copied; nothing was created."""


async def _audio_of(env: CheckEnv, message: Mapping[str, Any], attachment: str | None = None) -> Audio:
    """Where the message's audio (its first attachment, or ``attachment``) is; ``ForwardRefused``
    when it cannot be read (the resolver logs why, with the database, document and handler)."""
    modb = layout.modb_of_doc_id(env.account_id, message["_id"])
    audio = await env.deps.audio.resolve(modb, message["_id"], attachment)
    if isinstance(audio, Unresolved):
        handler = f" ({audio.handler})" if audio.handler else ""
        raise ForwardRefused(f"the audio of message {message['_id']} cannot be read: "
                             f"{audio.failure.value}{handler}")
    return audio


async def _read(env: CheckEnv, audio: Audio) -> bytes:
    return b"".join([chunk async for chunk in env.deps.audio.open(audio)])


async def copied_audio(env: CheckEnv, original: Mapping[str, Any], *, intro: bool) -> tuple[dict[str, Any], str]:
    """The attachment fields of the copy (``_attachments`` with inline data and/or
    ``pvt_attachments``) and the name of its audio; ``ForwardRefused`` when there is no audio
    to copy or it cannot be read."""
    if not attachment_names(original):
        raise ForwardRefused(f"message {original['_id']} has no audio")
    if intro:
        audio = await _audio_of(env, original)
        name = audio.requested.attachment
        return {"_attachments": inline_audio(name, await _read(env, audio), audio.content_type)}, name
    fields: dict[str, Any] = {}
    plain = original.get("_attachments")
    if isinstance(plain, Mapping) and plain:
        fields["_attachments"] = {}
        for name in plain:
            audio = await _audio_of(env, original, name)
            fields["_attachments"].update(inline_audio(name, await _read(env, audio), audio.content_type))
    handled = original.get("pvt_attachments")
    if isinstance(handled, Mapping) and handled:
        fields["pvt_attachments"] = dict(handled)
    return fields, attachment_names(original)[0]


class Forwarded(enum.Enum):
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"     # aborted, cancelled or failed: PLAY goes on (5.8 step 6)
    GOODBYE = "goodbye"                 # the prepend menu's loop limit: the session ends with vm-goodbye


async def forward_message(call: CallControl, env: CheckEnv, source: Mailbox, message: Mapping[str, Any], *,
                          profile: Profile) -> Forwarded:
    dest = await _destination(call, env, source, profile)
    if dest is None:
        return Forwarded.NOT_DELIVERED
    intro_ms = 0
    if profile.forward_type == "prepend_forward":
        choice = await _prepend_choice(call, profile)
        if choice == "goodbye":
            return Forwarded.GOODBYE
        if choice == "cancel":
            return Forwarded.NOT_DELIVERED
        if choice == "record":
            try:
                await _audio_of(env, message)          # the introduction is joined to it: it must be readable
            except ForwardRefused as exc:
                return await _refused(call, exc)
            intro_ms = await _record_intro(call, env, dest)
    try:
        await deliver(call, env, source, dest, message, intro_ms=intro_ms)
    except (Hangup, CommandFailed):
        raise
    except ForwardRefused as exc:
        return await _refused(call, exc)
    except Exception:
        log.exception("forwarding %s to box %s failed", message.get("_id"), dest.id)
        return Forwarded.NOT_DELIVERED
    return Forwarded.DELIVERED


async def _refused(call: CallControl, refusal: ForwardRefused) -> Forwarded:
    log.info("forward refused: %s", refusal)
    await call.play(call.prompt("vm-forward_abort"))
    return Forwarded.NOT_DELIVERED


async def deliver(call: CallControl, env: CheckEnv, source: Mailbox, dest: Mailbox, message: Mapping[str, Any], *,
                  intro_ms: int) -> dict:
    """5.8 step 5: the copy, its audio, ``vm-forward_confirmed``, then notification and MWI.

    The notification (``voicemail_new``, the destination's after-notify action,
    ``voicemail_saved``, MWI of the destination) runs in the service's background
    tasks: the caller does not wait for the notifier.
    """
    account_id = env.account_id
    original = await env.messages.get(account_id, message["_id"]) or dict(message)
    now = layout.now_gregorian()
    new_id = layout.modb_doc_id(now)
    realm = await env.realm()
    dest_profile = await env.profile(dest, typed=True)
    metadata = dict(original.get("metadata") or {})
    metadata.update({"media_id": new_id, "timestamp": now, "folder": "new", "to": f"{dest.number}@{realm}",
                     "to_user": dest.number, "to_realm": realm})
    history = list(original.get("history") or []) + [source.id]
    audio, audio_name = await copied_audio(env, original, intro=bool(intro_ms))     # before anything is written
    doc = {k: v for k, v in original.items() if k not in ("_id", "_rev", "_attachments", "pvt_attachments")}
    doc.update({"_id": new_id, "source_id": dest.id, "utc_seconds": now, "metadata": metadata, "history": history,
                "name": message_name(dest.number, now, dest_profile.timezone), **audio})
    if intro_ms:
        doc["forward_join_error"] = "the introduction could not be joined to the message"
    layout.stamp(doc, pvt_type="mailbox_message", db=layout.modb_at(account_id, now), now=now)
    doc["pvt_created"] = now
    stored = await env.messages.store_with_audio(account_id, doc, audio_name=audio_name)
    await call.play(call.prompt("vm-forward_confirmed"))
    length = int(metadata.get("length") or 0) + int(intro_ms)
    info = replace(env.call_info, to_user=dest.number)
    # voicemail_new waits for the notifier (up to notify_publisher_timeout_ms): in the
    # background, so the caller goes on with the next message instead of waiting in silence
    env.deps.background.spawn(env.deps.notifier.message_stored(StoredMessage(
        account_id=account_id, box_id=dest.id, message_id=stored["_id"], length_ms=length,
        call=call_fields(info), after_notify=dest_profile.after_notify,
        vm_delete_amqp=dest_profile.vm_delete_amqp, transcribe=False,
        notify_timeout_ms=dest_profile.notify_timeout_ms)), name=f"vm-forward-notify-{stored['_id']}")
    return stored
