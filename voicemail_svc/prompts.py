"""Prompt and media items the voicemail module queues (voicemail.md 0.4, 4.3, 10.1; bus.md 5.1).

Items are what ``CallControl.queue_media`` / ``play_many`` take: a media name
(``prompt://...``, ``/<account>/<media id>``) or a command object (``say``).

API (stable)::

    prompt(call, "vm-saved")                      # prompt://<account>/vm-saved/<lang>
    say(call, "3456", "name_spelled")             # a say command object for a queue
    account_media(account_id, media_id)           # /<account>/<media id>
    greeting(call, box=box, profile=profile, request_user="3456")   # 4.3, a list of items
"""

from __future__ import annotations

from typing import Any, Mapping

from voicemail_svc.call_control import CallControl
from voicemail_svc.mailbox import Mailbox
from voicemail_svc.profile import Profile

Item = str | Mapping[str, Any]

GREETING_INTRO = "vm-greeting_intro"
RECORD_MESSAGE = "vm-record_message"


def prompt(call: CallControl, prompt_id: str) -> str:
    return call.prompt(prompt_id)


def say(call: CallControl, text: str, type_: str, method: str = "pronounced") -> dict[str, Any]:
    return {"Application-Name": "say", "Say-Text": text, "Type": type_, "Method": method,
            "Language": call.language}


def account_media(account_id: str, media_id: str) -> str:
    """The media path of an account media document (KAZOO ``kz_media_util:media_path/2``)."""
    if media_id.startswith(("/", "http://", "https://", "prompt://", "tts://")):
        return media_id
    return f"/{account_id}/{media_id}"


def greeting(call: CallControl, *, box: Mailbox, profile: Profile, request_user: str) -> list[Item]:
    """The greeting of 4.3 (the recorded name is never part of it)."""
    if profile.skip_greeting:
        return []
    temporary = box.media("temporary_unavailable")
    if temporary:
        return [account_media(box.account_id, temporary)]
    unavailable = box.media("unavailable")
    if not unavailable:
        if profile.use_person_not_available:
            return [prompt(call, "vm-person_not_available")]
        return [prompt(call, "vm-person"), say(call, box.number or request_user, "name_spelled"),
                prompt(call, "vm-not_available")]
    return [account_media(box.account_id, unavailable)]
