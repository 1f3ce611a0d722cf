"""The first-login setup wizard (voicemail.md 5.4): a new PIN, then the unavailable greeting.

``run_wizard`` returns ``(WizardOutcome, box)``:

* ``DONE``: ``is_setup`` is now true and ``vm-setup_complete`` was played;
  MAIN follows;
* ``STOP``: the PIN was refused three times (after ``vm-goodbye``), or the
  caller hung up during a wizard prompt or the PIN entry;
* ``END``: the greeting was abandoned in review (``vm-deleted``): the module
  ends with ``continue``, ``is_setup`` stays false, the new PIN is kept.

It runs even when ``not_configurable`` is true.
"""

from __future__ import annotations

import enum

from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.boxes.profile import Profile
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup
from voicemail_svc.check.config_menu import PinOutcome, change_pin
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.greetings import RecordOutcome, record_greeting


class WizardOutcome(enum.Enum):
    DONE = "done"
    STOP = "stop"
    END = "end"


async def run_wizard(call: CallControl, env: CheckEnv, box: Mailbox, *,
                     profile: Profile) -> tuple[WizardOutcome, Mailbox]:
    try:
        await call.play(call.prompt("vm-setup_intro"))
        outcome, box = await change_pin(call, env, box, profile=profile)
        if outcome is PinOutcome.MAX_RETRY:
            await call.play(call.prompt("vm-goodbye"))
            return WizardOutcome.STOP, box
        await call.play(call.prompt("vm-setup_rec_greeting"))
    except (Hangup, CommandFailed):
        return WizardOutcome.STOP, box
    try:
        recorded, box = await record_greeting(call, env, box, profile=profile, kind="unavailable")
    except (Hangup, CommandFailed):
        return WizardOutcome.END, box
    if recorded is RecordOutcome.ABANDONED:
        return WizardOutcome.END, box
    box = await env.mailboxes.update(box, {"is_setup": True})
    try:
        await call.play(call.prompt("vm-setup_complete"))
    except (Hangup, CommandFailed):
        return WizardOutcome.STOP, box
    return WizardOutcome.DONE, box
