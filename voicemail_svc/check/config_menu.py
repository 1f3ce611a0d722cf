"""CONFIG menu and CHANGE-PIN (voicemail.md 5.10, 5.9.1).

``run_config`` returns ``(ConfigOutcome, box)``:

* ``MAIN``: ``return_main_menu``, or key 5 when CONFIG was entered from MAIN;
* ``GOODBYE``: the selection limit, key 5 when CONFIG was entered straight
  from login, or an unknown key in the announcement-only menu (KAZOO crashes
  on all three; spec README: ``vm-goodbye``, MWI, ``continue``);
* ``STOP``: a hangup while changing the PIN, or on entering the menu;
* ``EXIT``: a hangup or error at the menu prompt (MWI, ``continue``);
* ``END``: a greeting review abandoned (``vm-deleted`` was played).

Keys are matched in 10.2's order: record_unavailable, record_name, set_pin,
4, 5, return_main_menu, 6.
"""

from __future__ import annotations

import enum
import logging

from voicemail_svc.boxes.mailbox import Mailbox, box_problem, with_defaults
from voicemail_svc.boxes.profile import CONFIG_MENU_SELECTIONS, FIXED_KEYS, NEW_PIN_TRIES, Profile
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup
from voicemail_svc.check.pin import PIN_HASH_FIELD, new_pin_problem, with_new_pin
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.greetings import RecordOutcome, record_greeting
from voicemail_svc.check.menus import ask

log = logging.getLogger(__name__)


class ConfigOutcome(enum.Enum):
    MAIN = "main"
    GOODBYE = "goodbye"
    STOP = "stop"
    EXIT = "exit"
    END = "end"


class PinOutcome(enum.Enum):
    SET = "set"
    MAX_RETRY = "max_retry"


async def change_pin(call: CallControl, env: CheckEnv, box: Mailbox, *, profile: Profile) -> tuple[PinOutcome, Mailbox]:
    """5.9.1; a hangup raises ``Hangup``."""
    tries = 1
    while True:
        first = await ask(call, [call.prompt("vm-enter_new_pin")], profile=profile, max_digits=profile.max_pin_length)
        second = await ask(call, [call.prompt("vm-enter_new_pin_confirm")], profile=profile,
                           max_digits=profile.max_pin_length)
        problem = new_pin_problem(first, second)
        if problem is None:
            candidate = with_defaults(with_new_pin(box.doc, first, hashing=env.settings.pin_hashing))
            problem = box_problem(candidate)
            if problem is None:
                changes = {k: v for k, v in candidate.items() if box.doc.get(k) != v}
                if PIN_HASH_FIELD in box.doc and PIN_HASH_FIELD not in candidate:
                    changes[PIN_HASH_FIELD] = None
                if "pin" in box.doc and "pin" not in candidate:
                    changes["pin"] = None
                box = await env.mailboxes.update(box, changes)
                await call.play(call.prompt("vm-pin_set"))
                return PinOutcome.SET, box
        log.info("new PIN refused: %s", problem)
        if tries >= NEW_PIN_TRIES:
            return PinOutcome.MAX_RETRY, box
        await call.play(call.prompt("vm-pin_invalid"))
        tries += 1


async def run_config(call: CallControl, env: CheckEnv, box: Mailbox, *, profile: Profile,
                     from_login: bool) -> tuple[ConfigOutcome, Mailbox]:
    keys = profile.keys
    selections = 1
    while True:
        profile = profile.with_box(box)        # the box may have been saved by the last selection
        if selections > CONFIG_MENU_SELECTIONS:
            return ConfigOutcome.GOODBYE, box
        try:
            await call.flush()
        except (Hangup, CommandFailed):
            return ConfigOutcome.STOP, box
        announcement = profile.announcement_only
        try:
            digit = await ask(call, [call.prompt("vm-settings_menu_announcement_on" if announcement
                                                 else "vm-settings_menu")], profile=profile)
        except (Hangup, CommandFailed):
            return ConfigOutcome.EXIT, box
        if not digit:
            selections += 1
            continue
        if digit in (keys.record_unavailable, keys.record_name, FIXED_KEYS["config_record_temporary"]):
            kind = ("unavailable" if digit == keys.record_unavailable else
                    "name" if digit == keys.record_name else "temporary")
            try:
                outcome, box = await record_greeting(call, env, box, profile=profile, kind=kind)
            except (Hangup, CommandFailed):
                return ConfigOutcome.END, box
            if outcome is RecordOutcome.ABANDONED:
                return ConfigOutcome.END, box
            selections = 1
            continue
        if digit == keys.set_pin:
            try:
                _, box = await change_pin(call, env, box, profile=profile)
            except Hangup:
                return ConfigOutcome.STOP, box
            selections = 1
            continue
        if digit == FIXED_KEYS["config_delete_temporary"]:
            if box.media("temporary_unavailable"):
                media = dict(box.doc.get("media") or {})
                media["temporary_unavailable"] = None
                box = await env.mailboxes.update(box, {"media": media})
                await call.play(call.prompt("vm-saved"))
            return (ConfigOutcome.GOODBYE if from_login else ConfigOutcome.MAIN), box
        if digit == keys.return_main_menu:
            return ConfigOutcome.MAIN, box
        if digit == FIXED_KEYS["config_toggle_announcement"]:
            candidate = with_defaults(box.doc)
            candidate["announcement_only"] = not announcement
            problem = box_problem(candidate)
            if problem is None:
                box = await env.mailboxes.update(box, {k: v for k, v in candidate.items() if box.doc.get(k) != v})
                await call.play(call.prompt("vm-saved"))
            else:
                log.info("announcement toggle refused: %s", problem)
            selections = 1
            continue
        if announcement:
            # KAZOO's announcement-mode menu has no clause for other keys and crashes;
            # the spec README ends it like the loop limit (vm-goodbye, MWI, continue)
            log.info("unknown key %r in the announcement-only config menu: goodbye", digit)
            return ConfigOutcome.GOODBYE, box
        selections += 1
