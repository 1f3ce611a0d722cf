"""What a caller hears before the beep: greeting selection (voicemail.md 4.3).

``greeting(call, box=box, profile=profile, request_user="3456")`` is the list of
items of 4.3: nothing with ``skip_greeting``; else the temporary greeting, else
the unavailable greeting, else ``vm-person_not_available`` (with
``use_person_not_available``) or ``vm-person``, the box number spelled, and
``vm-not_available``.  The recorded name is never part of it.
"""

from __future__ import annotations

from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.boxes.profile import Profile
from voicemail_svc.call_control import CallControl
from voicemail_svc.prompts import Media, account_media, say_item

GREETING_INTRO = "vm-greeting_intro"
RECORD_MESSAGE = "vm-record_message"


def greeting(call: CallControl, *, box: Mailbox, profile: Profile, request_user: str) -> list[Media]:
    """The greeting of 4.3 (the recorded name is never part of it)."""
    if profile.skip_greeting:
        return []
    temporary = box.media("temporary_unavailable")
    if temporary:
        return [account_media(box.account_id, temporary)]
    unavailable = box.media("unavailable")
    if not unavailable:
        if profile.use_person_not_available:
            return [call.prompt("vm-person_not_available")]
        return [call.prompt("vm-person"), say_item(call, box.number or request_user, "name_spelled"),
                call.prompt("vm-not_available")]
    return [account_media(box.account_id, unavailable)]
