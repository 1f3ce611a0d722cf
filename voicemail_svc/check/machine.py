"""Check (retrieve messages): the session as a state machine (voicemail.md 5).

The states are named in ``State``; each has one method returning the next
state.  LOGIN, PLAY, CONFIG and the setup wizard are sub-flows in modules of
their own (``login.py``, ``playback.py``, ``config_menu.py``,
``setup_wizard.py``); each returns an outcome that the state method here
turns into the next state.

::

    LOGIN ──> DISPATCH ──> CONFIG (announcement-only) | MAIN      (5.2, 5.3)
      └──> END                                                    (vm-abort, vm-no_access)
    MAIN ──> WIZARD (not set up) ──> MAIN | END
      ├──> PLAY_NEW | PLAY_SAVED ──> MAIN | GOODBYE | END
      ├──> CONFIG ──> MAIN | GOODBYE | END
      └──> GOODBYE | EXIT ──> END

The box and its profile change together (``use_box``): after a box number is
typed, and whenever a sub-flow saved the box from the phone.

Where KAZOO crashes or loops forever, this follows the spec README's fixes
(docs/deviations.md, "voicemail check"):  a lone ``#`` at the main menu is
the exit key when ``exit`` is ``#``; the config menu's loop limit and key 5
after a direct entry end with ``vm-goodbye``, MWI and ``continue``; the
message menu has the main menu's loop limit; rewind seeks back.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from services.messages.etf import ActionResult
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox
from voicemail_svc.boxes.profile import MAIN_MENU_LOOPS, Profile
from voicemail_svc.call_control import CallControl, CommandFailed, Hangup
from voicemail_svc.check.config_menu import ConfigOutcome, run_config
from voicemail_svc.check.env import CheckEnv, build_env
from voicemail_svc.check.login import Login, LoginState
from voicemail_svc.check.menus import ask, count_announcement
from voicemail_svc.check.playback import Player, PlayOutcome
from voicemail_svc.check.setup_wizard import WizardOutcome, run_wizard
from voicemail_svc.deps import Deps

log = logging.getLogger(__name__)

CONTINUE = ActionResult("continue")
STOP = ActionResult("stop")


class State(enum.Enum):
    LOGIN = "login"
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
    profile: Profile                      # of the current box (``use_box``)
    entry_box: Mailbox | None = None
    main_menu_loops: int = 1              # main menus heard in a row without a valid choice (5.5)
    config_from_login: bool = False       # CONFIG entered straight from login (announcement-only box)
    result: ActionResult = CONTINUE
    main_exited: bool = False             # MWI for the current box is due (5.5 exits)
    states: list[State] = field(default_factory=list)
    login_flow: Login | None = None       # the login sub-flow, once entered (its states, its attempts)

    # -- the machine ------------------------------------------------------------------------

    async def run(self) -> ActionResult:
        """Walk the states until END; a hangup or a failed command ends the session with ``result``."""
        handlers = {
            State.LOGIN: self.login, State.DISPATCH: self.dispatch, State.MAIN: self.main,
            State.WIZARD: self.wizard, State.PLAY_NEW: self.play_new, State.PLAY_SAVED: self.play_saved,
            State.CONFIG: self.config, State.GOODBYE: self.goodbye, State.EXIT: self.exit,
        }
        state = State.LOGIN
        try:
            while state is not State.END:
                self.states.append(state)
                state = await handlers[state]()
        except (Hangup, CommandFailed) as exc:
            log.info("check ended by %s in state %s", type(exc).__name__, state.value)
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

    def use_box(self, box: Mailbox) -> None:
        """The box after a sub-flow (maybe saved from the phone): its flags in the profile too."""
        self.box = box
        self.profile = self.profile.with_box(box)

    def back_to_main(self) -> State:
        self.main_menu_loops = 1
        return State.MAIN

    # -- LOGIN (5.2, 5.3) and MENU-DISPATCH --------------------------------------------------------

    async def login(self) -> State:
        login = self.login_flow = Login(self.call, self.env, box=self.box, profile=self.profile)
        outcome = await login.run()
        self.box, self.profile = login.box, login.profile
        return State.DISPATCH if outcome is LoginState.ENTERED else State.END

    async def dispatch(self) -> State:
        if self.profile.announcement_only:
            self.config_from_login = True
            return State.CONFIG
        return State.MAIN

    # -- MAIN (5.5) --------------------------------------------------------------------------------

    async def main(self) -> State:
        assert self.box is not None
        if not self.profile.is_setup:
            return State.WIZARD
        call, keys = self.call, self.profile.keys
        if self.main_menu_loops > MAIN_MENU_LOOPS:
            return State.GOODBYE
        not_configurable = self.profile.not_configurable
        try:
            await call.flush()
            new, saved = await self.env.counts(self.box)
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
        self.main_menu_loops += 1
        return State.MAIN

    async def goodbye(self) -> State:
        self.main_exited = True
        await self.call.play(self.call.prompt("vm-goodbye"))
        return State.END

    async def exit(self) -> State:
        self.main_exited = True
        return State.END

    # -- PLAY (5.6) ------------------------------------------------------------------------------------

    async def _play(self, folder: str) -> State:
        assert self.box is not None
        player = Player(self.call, self.env, self.box, folder=folder, profile=self.profile)
        try:
            outcome = await player.run()
        except Hangup:
            self.main_exited = True
            raise
        if outcome.kind is PlayOutcome.COMPLETE:
            return self.back_to_main()
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
        assert self.box is not None
        outcome, box = await run_wizard(self.call, self.env, self.box, profile=self.profile)
        self.use_box(box)
        if outcome is WizardOutcome.DONE:
            return self.back_to_main()
        if outcome is WizardOutcome.STOP:
            self.result = STOP
        return State.END

    async def config(self) -> State:
        assert self.box is not None
        outcome, box = await run_config(self.call, self.env, self.box, profile=self.profile,
                                        from_login=self.config_from_login)
        self.use_box(box)
        if outcome is ConfigOutcome.MAIN:
            return self.back_to_main()
        if outcome is ConfigOutcome.GOODBYE:
            return State.GOODBYE
        if outcome is ConfigOutcome.STOP:
            self.result = STOP
            return State.END
        if outcome is ConfigOutcome.EXIT:
            self.main_exited = True
        return State.END


async def run_check(deps: Deps, call: CallControl, info: CallInfo, data: Mapping[str, Any], *,
                    box: Mailbox | None = None) -> ActionResult:
    """The ``check`` action (voicemail.md 5); ``deps.check``, the hand-over of compose (deps.py).

    ``box=None``: answer, resolve the box (5.1), log in.  With a ``box`` (compose's
    login key, the entry rules of 4.1): the call is answered already; LOGIN starts
    with that box and a fresh attempt budget, and the end-of-check MWI is for it.
    """
    session = await open_check(deps, call, info, data, box=box)
    return await session.run()


async def open_check(deps: Deps, call: CallControl, info: CallInfo, data: Mapping[str, Any], *,
                     box: Mailbox | None) -> CheckSession:
    """The session ``run_check`` runs: its environment, entry box and profile (answered when ``box`` is None)."""
    env = await build_env(deps, info, data)
    if box is None:
        await call.answer()
        entry = await env.resolve_box(data)
    else:
        entry = box
    profile = await env.profile(entry)
    env.retention_days = profile.retention_days
    return CheckSession(call, env, box=entry, profile=profile, entry_box=entry)
