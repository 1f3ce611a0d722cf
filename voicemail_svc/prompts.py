"""Media items a session queues or plays (voicemail.md 0.4, 10.1; bus.md 5.1), shared by compose and check.

An item is what ``CallControl.queue_media`` / ``play_many`` take: a media name
(``prompt://...`` from ``call.prompt(id)``, ``/<account>/<media id>``) or a
command object (``say``, ``tones``).

API (stable)::

    say_item(call, 3, "messages")                 # a say command object, in the call's language
    beep_item()                                   # the beep as a tones command object
    account_media(account_id, media_id)           # /<account>/<media id>
"""

from __future__ import annotations

from typing import Any

from voicemail_svc.call_control import BEEP, CallControl

Media = str | dict[str, Any]


def say_item(call: CallControl, text: str | int, type_: str) -> dict[str, Any]:
    """``say`` of ``text`` as ``type_`` (``messages``, ``number``, ``name_spelled``, ...), pronounced."""
    return {"Application-Name": "say", "Say-Text": str(text), "Type": type_, "Method": "pronounced",
            "Language": call.language}


def beep_item() -> dict[str, Any]:
    """The beep before a recording, as an item of a queue (``CallControl.beep`` plays it alone)."""
    return {"Application-Name": "tones", "Tones": [dict(t) for t in BEEP]}


def account_media(account_id: str, media_id: str) -> str:
    """The media path of an account media document (KAZOO ``kz_media_util:media_path/2``)."""
    if media_id.startswith(("/", "http://", "https://", "prompt://", "tts://")):
        return media_id
    return f"/{account_id}/{media_id}"
