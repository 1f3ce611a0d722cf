"""Check (retrieve messages): the session as a state machine (voicemail.md 5).

The states are named in ``State``; each has one method returning the next
state.  PLAY, CONFIG and the setup wizard are sub-flows in their own modules
(``playback.py``, ``config_menu.py``, ``setup_wizard.py``); they return an
outcome that the state method here turns into the next state.

::

    LOGIN ──> BOX_ENTRY ──> LOGIN               (5.2: a typed box number)
      │  └──> PIN ──> LOGIN (wrong) | DISPATCH  (5.3 L5)
      ├──> DISPATCH ──> CONFIG (announcement-only) | MAIN
      └──> ABORT | NO_ACCESS ──> END
    MAIN ──> WIZARD (is_setup false) ──> MAIN | END
      ├──> PLAY ──> MAIN | EXIT
      ├──> CONFIG ──> MAIN | CONFIG | EXIT | END
      └──> GOODBYE | EXIT ──> END

Where KAZOO crashes or loops forever, this follows the spec README's fixes
(docs/deviations.md, "voicemail check"):  a lone ``#`` at the main menu is
the exit key when ``exit`` is ``#``; the config menu's loop limit and key 5
after a direct entry end with ``vm-goodbye``, MWI and ``continue``; the
message menu has the main menu's loop limit; rewind seeks back.

Beyond KAZOO: wrong PINs are counted per box across calls (``lockout.py``),
PINs compare in constant time and may be stored hashed (``pin.py``), and
with ``voicemail.conceal_box_numbers`` an unknown box number is answered
exactly like a wrong PIN (``vm-enter_pass``, then ``vm-fail_auth``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from services.messages.etf import ActionResult
from voicemail_svc import pin as pins
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup
from voicemail_svc.check_env import CheckEnv, build_env
from voicemail_svc.check_menus import ask, count_announcement
from voicemail_svc.mailbox import CallInfo, Mailbox
from voicemail_svc.profile import MAIN_MENU_LOOPS, Profile

log = logging.getLogger(__name__)

CONTINUE = ActionResult("continue")
STOP = ActionResult("stop")


class State(enum.Enum):
    LOGIN = "login"
    BOX_ENTRY = "box_entry"
    PIN = "pin"
    ABORT = "abort"
    NO_ACCESS = "no_access"
    DISPATCH = "dispatch"
    MAIN = "main"
    WIZARD = "wizard"
    PLAY_NEW = "play_new"
    PLAY_SAVED = "play_saved"
    CONFIG = "config"
    GOODBYE = "goodbye"
    EXIT = "exit"
    END = "end"


@dataclass
class CheckSession:
    """One check on one call; ``run()`` walks the states until END and returns the module result."""

    call: CallControl
    env: CheckEnv
    box: Mailbox | None
    profile: Profile                      # of the current box; reloaded when the box changes
    entry_box: Mailbox | None = None
    attempts: int = 1                     # A of 5.2/5.3: box numbers and PINs share it
    main_loops: int = 1                   # M of 5.5
    config_from_login: bool = False       # CONFIG entered straight from login (announcement-only box)
    pending_pin: str | None = None        # PIN typed in the PIN state
    concealed: bool = False               # an unknown box number stands behind this PIN prompt
    result: ActionResult = CONTINUE
    main_exited: bool = False             # MWI for the current box is due (5.5 exits)
    states: list[State] = field(default_factory=list)

    # -- the machine ------------------------------------------------------------------------

    async def run(self) -> ActionResult:
        handlers = {
            State.LOGIN: self.login, State.BOX_ENTRY: self.box_entry, State.PIN: self.pin,
            State.ABORT: self.abort, State.NO_ACCESS: self.no_access, State.DISPATCH: self.dispatch,
            State.MAIN: self.main, State.WIZARD: self.wizard, State.PLAY_NEW: self.play_new,
            State.PLAY_SAVED: self.play_saved, State.CONFIG: self.config, State.GOODBYE: self.goodbye,
            State.EXIT: self.exit,
        }
        state = State.LOGIN
        try:
            while state is not State.END:
                self.states.append(state)
                state = await handlers[state]()
        finally:
            await asyncio.shield(self._final_mwi())
        return self.result

    async def _final_mwi(self) -> None:
        """5.13 and 5.5: MWI for the entry box and for the box whose menu was left (once each)."""
        boxes = []
        if self.entry_box is not None:
            boxes.append(self.entry_box)
        if self.main_exited and self.box is not None and all(b.id != self.box.id for b in boxes):
            boxes.append(self.box)
        for box in boxes:
            try:
                await self.env.publish_mwi(box)
            except Exception:
                log.exception("publishing MWI for box %s failed", box.id)

    def is_owner(self) -> bool:
        return self.box is not None and self.box.is_owned_by(self.env.call_info.owner_id)

    # -- LOGIN (5.3) ----------------------------------------------------------------------------

    async def login(self) -> State:
        profile = self.profile
        if self.attempts > profile.max_login_attempts:
            return State.ABORT
        if self.box is None and not self.concealed:
            return State.BOX_ENTRY
        if self.box is not None and self.is_owner():
            if not self.box.flag("is_setup"):
                return State.DISPATCH                                  # L2
            if not (profile.force_require_pin or self.box.flag("require_pin")):
                return State.DISPATCH                                  # L3
        if self.box is not None and not pins.has_pin(self.box.doc):
            return State.NO_ACCESS                                     # L4
        return State.PIN                                               # L5

    async def box_entry(self) -> State:
        """5.2: ask for the box number; an unknown one costs an attempt."""
        call, profile = self.call, self.profile
        while True:
            if self.attempts > profile.max_login_attempts:
                return State.ABORT
            digits = await ask(call, [call.prompt("vm-enter_id")], profile=profile,
                               max_digits=profile.max_box_number_length)
            if digits:
                box = await self.env.box_by_number(digits)
                if box is not None:
                    self.box = box
                    self.profile = await self.env.profile(box, typed=True)
                    return State.LOGIN
                if self.env.settings.conceal_box_numbers:
                    self.concealed = True
                    return State.PIN
            await call.play(call.prompt("menu-invalid_entry"))
            self.attempts += 1

    async def pin(self) -> State:
        call, profile = self.call, self.profile
        entered = await ask(call, [call.prompt("vm-enter_pass")], profile=profile,
                            max_digits=profile.max_pin_length)
        box = self.box
        if box is not None and not self.concealed:
            locked = await self.env.guard.is_locked(self.env.account_db, box.id)
            matches = await asyncio.to_thread(pins.pin_matches, box.doc, entered)
            if matches and not locked:
                await self.env.guard.record_success(self.env.account_db, box.id)
                return State.DISPATCH
            if not locked:
                await self.env.guard.record_failure(self.env.account_db, box.id)
            else:
                log.info("box %s is locked after repeated failed logins; refusing the PIN", box.id)
        await call.play(call.prompt("vm-fail_auth"))
        self.attempts += 1
        # a concealed unknown box stays a box that refuses every PIN, so the caller hears
        # exactly what a wrong PIN for a real box gives (vm-enter_pass again, then vm-abort)
        return State.LOGIN

    async def abort(self) -> State:
        await self.call.play(self.call.prompt("vm-abort"))
        return State.END

    async def no_access(self) -> State:
        await self.call.play(self.call.prompt("vm-no_access"))
        return State.END

    async def dispatch(self) -> State:
        assert self.box is not None
        if self.box.flag("announcement_only"):
            self.config_from_login = True
            return State.CONFIG
        return State.MAIN

    # -- MAIN (5.5) --------------------------------------------------------------------------------

    async def main(self) -> State:
        assert self.box is not None
        if not self.box.flag("is_setup"):
            return State.WIZARD
        call, keys = self.call, self.profile.keys
        if self.main_loops > MAIN_MENU_LOOPS:
            return State.GOODBYE
        try:
            await call.flush()
            new, saved = await self.env.counts(self.box)
            not_configurable = self.box.flag("not_configurable")
            media = count_announcement(call, new, saved)
            media.append(call.prompt("vm-main_menu_not_configurable" if not_configurable else "vm-main_menu"))
            # no terminator: a lone "#" comes back as "#", so an exit key "#" works (spec README fix)
            digit = await ask(call, media, profile=self.profile, terminators=())
        except (Hangup, CommandFailed):
            self.main_exited = True
            raise
        if digit and digit == keys.exit:
            return State.EXIT
        if digit and digit == keys.hear_new:
            return State.PLAY_NEW
        if digit and digit == keys.hear_saved:
            return State.PLAY_SAVED
        if digit and digit == keys.configure and not not_configurable:
            self.config_from_login = False
            return State.CONFIG
        self.main_loops += 1
        return State.MAIN

    async def goodbye(self) -> State:
        self.main_exited = True
        await self.call.play(self.call.prompt("vm-goodbye"))
        return State.END

    async def exit(self) -> State:
        self.main_exited = True
        return State.END

    async def _play(self, folder: str) -> State:
        from voicemail_svc.playback import Player, PlayOutcome

        assert self.box is not None
        player = Player(self.call, self.env, self.box, folder=folder, profile=self.profile)
        try:
            outcome = await player.run()
        except Hangup:
            self.main_exited = True
            raise
        self.box = player.box
        if outcome.kind is PlayOutcome.COMPLETE:
            self.main_loops = 1
            return State.MAIN
        if outcome.kind is PlayOutcome.GOODBYE:
            return State.GOODBYE
        if outcome.result is not None:
            self.result = outcome.result
        self.main_exited = True
        return State.END

    async def play_new(self) -> State:
        return await self._play("new")

    async def play_saved(self) -> State:
        return await self._play("saved")

    # -- WIZARD (5.4) and CONFIG (5.10) -------------------------------------------------------------

    async def wizard(self) -> State:
        from voicemail_svc.setup_wizard import WizardOutcome, run_wizard

        assert self.box is not None
        outcome, box = await run_wizard(self.call, self.env, self.box, profile=self.profile)
        self.box = box
        if outcome is WizardOutcome.DONE:
            self.main_loops = 1
            return State.MAIN
        if outcome is WizardOutcome.STOP:
            self.result = STOP
        return State.END

    async def config(self) -> State:
        from voicemail_svc.config_menu import ConfigOutcome, run_config

        assert self.box is not None
        outcome, box = await run_config(self.call, self.env, self.box, profile=self.profile,
                                        from_login=self.config_from_login)
        self.box = box
        if outcome is ConfigOutcome.MAIN:
            self.main_loops = 1
            return State.MAIN
        if outcome is ConfigOutcome.GOODBYE:
            return State.GOODBYE
        if outcome is ConfigOutcome.STOP:
            self.result = STOP
            return State.END
        if outcome is ConfigOutcome.EXIT:
            self.main_exited = True
        return State.END


async def run_check(deps, call: CallControl, info: CallInfo, data: Mapping[str, Any], *,
                    box: Mailbox | None = None) -> ActionResult:
    """The ``check`` action (voicemail.md 5); the hand-over contract of ``session.py``.

    ``box=None``: answer, resolve the box (5.1), log in.  With a ``box`` (compose's
    login key, 4.1 R1/R2): the call is answered already; LOGIN starts with that
    box and a fresh attempt budget, and the end-of-check MWI is for it.
    """
    if isinstance(info, Mapping):
        info = CallInfo.from_call(info)
    env = await build_env(deps, info, data)
    if box is None:
        await call.answer()
        entry = await env.resolve_box(data)
    else:
        entry = box
    profile = await env.profile(entry)
    env.retention_days = profile.retention_days
    session = CheckSession(call, env, box=entry, profile=profile, entry_box=entry)
    try:
        return await session.run()
    except (Hangup, CommandFailed) as exc:
        log.info("check ended by %s", type(exc).__name__)
        return session.result
