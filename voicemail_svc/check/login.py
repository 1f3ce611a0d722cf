"""LOGIN and BOX-ENTRY (voicemail.md 5.2, 5.3): which box, and may this caller enter it.

``Login(call, env, box=..., profile=...).run()`` walks the states below and
returns ``ENTERED`` (the caller may use ``login.box``, whose profile is
``login.profile``: MENU-DISPATCH follows) or ``REFUSED`` (``vm-abort`` or
``vm-no_access`` was played: check ends with ``continue``).  A hangup raises
``Hangup``.

::

    DECIDE ──> BOX_ENTRY ──> DECIDE          (5.2: a box number was typed)
      │  └──> PIN ──> DECIDE (wrong) | ENTERED
      ├──> ENTERED                            (the owner, when no PIN is needed)
      └──> ABORT | NO_ACCESS ──> REFUSED

``DECIDE`` applies the rules of 5.3 in order, each time with the current box
and the failed attempts so far: ``attempts_used_up``, no box yet (ask for it),
``owner_needs_no_pin``, ``box_without_pin``, else ask for the PIN.  Wrong box
numbers and wrong PINs of one call use up one budget, ``max_login_attempts``.

Beyond KAZOO: wrong PINs are also counted per box across calls
(``lockout.py``); PINs compare in constant time and may be stored hashed
(``pin.py``); with ``voicemail.conceal_box_numbers`` an unknown box number
is answered exactly like a wrong PIN (``vm-enter_pass``, then
``vm-fail_auth``).
"""

from __future__ import annotations

import asyncio
import enum
import logging

from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.boxes.profile import Profile
from voicemail_svc.call_control import CallControl
from voicemail_svc.check.pin import has_pin, pin_matches
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.menus import ask

log = logging.getLogger(__name__)


class LoginState(enum.Enum):
    DECIDE = "decide"
    BOX_ENTRY = "box_entry"
    PIN = "pin"
    ABORT = "abort"
    NO_ACCESS = "no_access"
    ENTERED = "entered"
    REFUSED = "refused"


DONE = (LoginState.ENTERED, LoginState.REFUSED)


def attempts_used_up(failed: int, profile: Profile) -> bool:
    """5.3: no more tries once ``max_login_attempts`` box numbers or PINs were wrong."""
    return failed >= profile.max_login_attempts


def owner_needs_no_pin(profile: Profile) -> bool:
    """5.3: the owner enters without a PIN while the box is not set up (even if one is required),
    or when neither the box nor ``force_require_pin`` requires one."""
    return not profile.is_setup or not profile.require_pin


def box_without_pin(box: Mailbox) -> bool:
    """5.3: a box without a PIN cannot be entered by anyone who needs one."""
    return not has_pin(box.doc)


class Login:
    def __init__(self, call: CallControl, env: CheckEnv, *, box: Mailbox | None, profile: Profile) -> None:
        self.call = call
        self.env = env
        self.box = box
        self.profile = profile            # of the current box; reloaded when a box number is typed
        self.failed_attempts = 0          # wrong box numbers and wrong PINs of this call (5.2, 5.3)
        self.concealed = False            # an unknown box number stands behind this PIN prompt
        self.states: list[LoginState] = []

    async def run(self) -> LoginState:
        """Walk the login states; ``ENTERED`` or ``REFUSED``."""
        handlers = {LoginState.DECIDE: self.decide, LoginState.BOX_ENTRY: self.box_entry, LoginState.PIN: self.pin,
                    LoginState.ABORT: self.abort, LoginState.NO_ACCESS: self.no_access}
        state = LoginState.DECIDE
        while state not in DONE:
            self.states.append(state)
            state = await handlers[state]()
        return state

    def is_owner(self) -> bool:
        return self.box is not None and self.box.is_owned_by(self.env.call_info.owner_id)

    async def decide(self) -> LoginState:
        """The rules of 5.3, in order."""
        if attempts_used_up(self.failed_attempts, self.profile):
            return LoginState.ABORT
        if self.box is None:
            return LoginState.PIN if self.concealed else LoginState.BOX_ENTRY
        if self.is_owner() and owner_needs_no_pin(self.profile):
            return LoginState.ENTERED
        if box_without_pin(self.box):
            return LoginState.NO_ACCESS
        return LoginState.PIN

    async def box_entry(self) -> LoginState:
        """5.2: ask for the box number; an unknown one costs an attempt."""
        call, profile = self.call, self.profile
        while True:
            if attempts_used_up(self.failed_attempts, profile):
                return LoginState.ABORT
            digits = await ask(call, [call.prompt("vm-enter_id")], profile=profile,
                               max_digits=profile.max_box_number_length)
            if digits:
                box = await self.env.box_by_number(digits)
                if box is not None:
                    self.box = box
                    self.profile = await self.env.profile(box, typed=True)
                    return LoginState.DECIDE
                if self.env.settings.conceal_box_numbers:
                    self.concealed = True
                    return LoginState.PIN
            await call.play(call.prompt("menu-invalid_entry"))
            self.failed_attempts += 1

    async def pin(self) -> LoginState:
        """5.3: ask for the PIN; a wrong one (or any, while the box is locked) costs an attempt."""
        call, profile, env = self.call, self.profile, self.env
        entered = await ask(call, [call.prompt("vm-enter_pass")], profile=profile, max_digits=profile.max_pin_length)
        box = self.box
        if box is not None and not self.concealed:
            locked = await env.guard.is_locked(env.account_db, box.id)
            matches = await asyncio.to_thread(pin_matches, box.doc, entered)
            if matches and not locked:
                await env.guard.record_success(env.account_db, box.id)
                return LoginState.ENTERED
            if not locked:
                await env.guard.record_failure(env.account_db, box.id)
            else:
                log.info("box %s is locked after repeated failed logins; refusing the PIN", box.id)
        await call.play(call.prompt("vm-fail_auth"))
        self.failed_attempts += 1
        # a concealed unknown box stays a box that refuses every PIN, so the caller hears
        # exactly what a wrong PIN for a real box gives (vm-enter_pass again, then vm-abort)
        return LoginState.DECIDE

    async def abort(self) -> LoginState:
        await self.call.play(self.call.prompt("vm-abort"))
        return LoginState.REFUSED

    async def no_access(self) -> LoginState:
        await self.call.play(self.call.prompt("vm-no_access"))
        return LoginState.REFUSED
