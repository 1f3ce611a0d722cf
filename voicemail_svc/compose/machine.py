"""Compose: leave a message (voicemail.md 4), as a state machine.

The states are named in ``State``; each has one coroutine in ``Compose`` that
does its part of the call and returns the next state, or the module result
(``ActionResult``) to end.

    ENTRY     answer, resolve the box (5.1), profile, counts; the entry rules of 4.1
    GREET     intro, greeting (greeting.py), instructions; one key (4.2)
    ANNOUNCE  announcement-only box, caller not the owner (4.4)
    FULL      full box: voicemail_full, greeting, vm-mailbox_full (4.5)
    RECORD    beep and record (4.6)
    REVIEW    the record-review menu (4.7)
    CHECK     hand over to check with this box (``deps.check``, deps.py)

Saving (4.8) is ``save.save_message``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections.abc import Mapping
from typing import Any, Awaitable, Callable

from services.messages.etf import ActionResult
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox
from voicemail_svc.boxes.profile import (ANNOUNCE_WAIT_MS, REVIEW_LOOPS, SILENCE_HITS, SILENCE_THRESHOLD, Keys,
                                         Profile, load_profile)
from voicemail_svc.call_control import ALL_KEYS, CallControl, CommandFailed, Hangup
from voicemail_svc.compose.greeting import GREETING_INTRO, RECORD_MESSAGE, greeting
from voicemail_svc.compose.save import Recording, save_message
from voicemail_svc.deps import Deps
from voicemail_svc.prompts import Media

log = logging.getLogger(__name__)

CONTINUE = ActionResult("continue")


class State(enum.Enum):
    ENTRY = "entry"
    GREET = "greet"
    ANNOUNCE = "announce"
    FULL = "full"
    RECORD = "record"
    REVIEW = "review"
    CHECK = "check"


Step = State | ActionResult


async def run_compose(deps: Deps, call: CallControl, info: CallInfo, data: Mapping[str, Any]) -> ActionResult:
    return await Compose(deps, call, info, data).run()


class Compose:
    def __init__(self, deps: Deps, call: CallControl, info: CallInfo, data: Mapping[str, Any]) -> None:
        self.deps = deps
        self.call = call
        self.info = info
        self.data = data
        self.box: Mailbox | None = None
        self.profile: Profile = Profile()
        self.recording: Recording | None = None
        self.message_count = 0                # new + saved at entry (the full-box check)
        self.states: dict[State, Callable[[], Awaitable[Step]]] = {
            State.ENTRY: self.entry,
            State.GREET: self.greet,
            State.ANNOUNCE: self.announce,
            State.FULL: self.full,
            State.RECORD: self.record,
            State.REVIEW: self.review,
            State.CHECK: self.check,
        }
        self.trail: list[State] = []          # the states visited, in order (tests, logs)

    async def run(self) -> ActionResult:
        step: Step = State.ENTRY
        while isinstance(step, State):
            self.trail.append(step)
            try:
                step = await self.states[step]()
            except Hangup:
                log.info("caller hung up in compose state %s", step.value)
                return CONTINUE
            except CommandFailed as exc:
                log.warning("compose state %s: %s; continuing", step.value, exc)
                return CONTINUE
        log.debug("compose went through %s", " -> ".join(s.value for s in self.trail))
        return step

    # -- helpers -------------------------------------------------------------------------------

    def prompt(self, prompt_id: str) -> str:
        return self.call.prompt(prompt_id)

    @property
    def keys(self) -> Keys:
        return self.profile.keys

    async def operator_flow(self) -> Mapping[str, Any] | None:
        """The operator callflow's flow (4.2): ``operator_number``, else ``callflow.operator_key``."""
        number = self.profile.operator_number
        try:
            doc = await self.deps.find_callflow(self.info.account_id, number)
        except Exception:
            log.exception("operator callflow lookup for %s failed", number)
            return None
        flow = doc.get("flow") if doc else None
        return flow if isinstance(flow, Mapping) else None

    async def queue_quietly(self, items: list) -> None:
        """Queue prompts the caller may or may not still hear (the call may be gone)."""
        try:
            await self.call.queue_media(items)
        except (Hangup, CommandFailed):
            pass
        except Exception as exc:
            log.info("queueing %s failed: %s", items, exc)

    # -- ENTRY (4.1) ---------------------------------------------------------------------------

    async def entry(self) -> Step:
        await self.call.answer()
        deps = self.deps
        self.box = await deps.mailboxes.resolve(self.info, self.data)
        if self.box is None:
            log.info("compose: no box found")
            await self.call.play(self.prompt("vm-not_available_no_voicemail"))
            return CONTINUE
        self.profile = await load_profile(deps.config, box=self.box, data=self.data,
                                          account_id=self.info.account_id, mailboxes=deps.mailboxes)
        is_owner = self.box.is_owned_by(self.info.owner_id)
        if is_owner and self.profile.check_if_owner:
            return State.CHECK
        if is_owner and self.profile.announcement_only:
            return State.CHECK
        if self.profile.announcement_only:
            return State.ANNOUNCE
        if self.profile.max_message_count > 0:
            counts = await deps.messages.counts(self.info.account_id, self.box.id,
                                                retention_days=self.profile.retention_days)
            self.message_count = counts.total
            if counts.total >= self.profile.max_message_count:
                return State.FULL
        return State.GREET

    def greeting(self) -> list[Media]:
        assert self.box is not None
        return greeting(self.call, box=self.box, profile=self.profile, request_user=self.info.request_user)

    # -- GREET (4.2) -----------------------------------------------------------------------------

    async def greet(self) -> Step:
        items: list = []
        if self.profile.play_greeting_intro:
            items.append(self.prompt(GREETING_INTRO))
        items += self.greeting()
        if not self.profile.skip_instructions:
            items.append(self.prompt(RECORD_MESSAGE))
        marker = await self.call.queue_media(items)
        try:
            # no waiting once the audio ended; call_command.application_timeout guards the audio itself
            key = await asyncio.wait_for(
                self.call.collect(1, timeout_ms=0, terminators=(), marker=marker, flush_on_digit=True),
                self.profile.application_timeout_ms / 1000.0)
        except asyncio.TimeoutError:
            key = ""
        except CommandFailed as exc:
            log.info("greeting failed: %s", exc)
            return CONTINUE
        keys = self.keys
        if key == "":
            return State.RECORD
        if key == keys.login:
            return State.CHECK
        if key == keys.operator:
            flow = await self.operator_flow()
            return ActionResult("continue_with_flow", dict(flow)) if flow is not None else State.RECORD
        if keys.continue_ is not None and key == keys.continue_:
            return CONTINUE
        return State.RECORD

    # -- ANNOUNCE (4.4) --------------------------------------------------------------------------

    async def announce(self) -> Step:
        marker = await self.call.queue_media(self.greeting())
        try:
            key = await asyncio.wait_for(
                self.call.collect(1, timeout_ms=0, terminators=(), marker=marker, flush_on_digit=False),
                ANNOUNCE_WAIT_MS / 1000.0)
        except (asyncio.TimeoutError, CommandFailed):
            return CONTINUE
        if key == "":
            return CONTINUE
        await self.call.flush()
        if key == self.keys.login:
            return State.CHECK
        return CONTINUE                     # the continue key, or any other key (KAZOO crashes: continue)

    # -- FULL (4.5) -------------------------------------------------------------------------------

    async def full(self) -> Step:
        assert self.box is not None
        await self.deps.notifier.voicemail_full(account_id=self.info.account_id, box_id=self.box.id,
                                                max_count=self.profile.max_message_count,
                                                count=self.message_count,
                                                account_db=self.info.account_db)
        groups: list[list] = []
        if self.profile.play_greeting_intro:
            groups.append([self.prompt(GREETING_INTRO)])
        greeting = self.greeting()
        if greeting:
            groups.append(greeting)
        groups.append([self.prompt("vm-mailbox_full")])
        markers = [await self.call.queue_media(group) for group in groups]
        try:
            key = await asyncio.wait_for(
                self.call.collect(1, timeout_ms=0, terminators=(), marker=markers[0], flush_on_digit=False),
                ANNOUNCE_WAIT_MS / 1000.0)
        except (asyncio.TimeoutError, CommandFailed):
            return CONTINUE
        if key and key == self.keys.login:
            return State.CHECK
        return CONTINUE

    # -- RECORD (4.6) -----------------------------------------------------------------------------

    async def record(self) -> Step:
        name = f"{os.urandom(16).hex()}.{self.profile.media_extension}"
        try:
            await self.call.beep()
            result = await self.call.record(name, time_limit_s=self.profile.max_message_length_s,
                                            terminators=ALL_KEYS, silence_threshold=SILENCE_THRESHOLD,
                                            silence_hits=SILENCE_HITS)
        except CommandFailed as exc:
            log.info("recording failed: %s; nothing saved", exc)
            return CONTINUE
        self.recording = Recording(name, result)
        if result.hangup:
            await self.save()
            return CONTINUE
        return State.REVIEW

    # -- REVIEW (4.7) -----------------------------------------------------------------------------

    async def review(self) -> Step:
        keys = self.keys
        tries = 1
        outcome = "no_selection"
        operator: Mapping[str, Any] | None = None
        while tries <= REVIEW_LOOPS:
            try:
                marker = await self.call.queue_media([self.prompt("vm-review_recording")])
                key = await self.call.collect(1, timeout_ms=self.profile.collect_timeout_ms,
                                              interdigit_ms=self.profile.interdigit_ms, terminators=("#",),
                                              marker=marker)
            except (Hangup, CommandFailed):
                break
            if key == "":
                tries += 1
            elif key == keys.listen:
                try:
                    await self.call.play(self.recorded_media())
                except (Hangup, CommandFailed):
                    break
                tries = 1
            elif key == keys.record:
                return State.RECORD
            elif key == keys.save:
                outcome = "save"
                break
            elif key == keys.operator:
                operator = await self.operator_flow()
                if operator is not None:
                    outcome = "branch"
                    break
                tries += 1
            else:
                tries += 1
        if outcome == "branch":
            assert operator is not None
            await self.save()
            await self.queue_quietly([self.prompt("vm-saved")])
            return ActionResult("continue_with_flow", dict(operator))
        self.deps.background.spawn(self.save(), name=f"vm-save-{self.info.call_id}")
        await self.queue_quietly([self.prompt("vm-saved"), self.prompt("vm-thank_you")])
        return CONTINUE

    def recorded_media(self) -> str:
        assert self.recording is not None
        return self.recording.result.file_path or f"/tmp/{self.recording.name}"

    # -- CHECK --------------------------------------------------------------------------------------

    async def check(self) -> Step:
        return await self.deps.check(self.deps, self.call, self.info, self.data, box=self.box)

    # -- SAVE (4.8) ----------------------------------------------------------------------------------

    async def save(self) -> str:
        """Store the recording (4.8, save.py); ``dropped``, ``upload_failed``, ``stored`` or ``spooled``."""
        assert self.box is not None and self.recording is not None
        return await save_message(self.deps, self.call, self.info, box=self.box, profile=self.profile,
                                  recording=self.recording)
