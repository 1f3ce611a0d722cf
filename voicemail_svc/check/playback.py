"""PLAY: playing a folder's messages and the message menu (voicemail.md 5.6).

``Player.run()`` plays the folder's messages in listing order (newest first,
oldest first with ``oldest_message_first``) and acts on the message menu.
It keeps ``remaining`` (the messages still to play; the current message is
its head) and ``history`` (the messages passed, most recent last), and ends
with one ``PlayOutcome``:

* ``COMPLETE``: no message left, or ``return_main_menu``: back to MAIN;
* ``ENDED``: hangup, a failed command, or a callback (``result`` carries the
  ``continue_with_flow``);
* ``GOODBYE``: the loop limit of the message menu or of the prepend-forward
  menu (ours: KAZOO has none, spec README).

Keys are matched in 10.2's order: keep, forward, delete, return_main_menu,
replay, prev, next, rewind, fastforward, callback.  Folder changes are
written at once; MWI is published after each change (ours: KAZOO waits for
the session to leave the menus, so the lamp lags until then).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.messages.etf import ActionResult
from services.store import layout
from voicemail_svc.boxes.mailbox import Mailbox
from voicemail_svc.boxes.profile import FIXED_KEYS, MAIN_MENU_LOOPS, Profile
from voicemail_svc.call_control import ALL_KEYS, CallControl, CommandFailed, Hangup
from voicemail_svc.check.callback import callback
from voicemail_svc.check.env import CheckEnv
from voicemail_svc.check.forward import Forwarded, forward_message
from voicemail_svc.check.menus import ask
from voicemail_svc.prompts import Media, say_item
from voicemail_svc.storage.messages import folder_of, timestamp_of

log = logging.getLogger(__name__)


class PlayOutcome(enum.Enum):
    COMPLETE = "complete"
    ENDED = "ended"
    GOODBYE = "goodbye"


@dataclass(frozen=True)
class Played:
    kind: PlayOutcome
    result: ActionResult | None = None


def local_epoch(timestamp_gregorian: int, timezone: str) -> int:
    """5.6 step 3: the wall-clock time in ``timezone`` written as if it were UTC Unix seconds."""
    unix = int(timestamp_gregorian) - layout.GREGORIAN_OFFSET
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return unix
    offset = datetime.fromtimestamp(unix, dt_timezone.utc).astimezone(zone).utcoffset()
    return unix + int(offset.total_seconds()) if offset is not None else unix


class Player:
    def __init__(self, call: CallControl, env: CheckEnv, box: Mailbox, *, folder: str, profile: Profile) -> None:
        self.call = call
        self.env = env
        self.box = box
        self.folder = folder
        self.profile = profile
        self.remaining: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.count = 0
        self.invalid = 0

    # -- audio ------------------------------------------------------------------------------

    @property
    def ff_rw(self) -> bool:
        return self.profile.ff_rw_enabled

    def _play_terminators(self) -> list[str]:
        if not self.ff_rw:
            return list(ALL_KEYS)
        keys = self.profile.keys
        return [key for key in ALL_KEYS if key not in (keys.rewind, keys.fastforward)]

    async def message_audio(self, message: dict[str, Any]) -> list[Media]:
        """5.6 step 2: number, position, the message, envelope, message menu.

        The message plays from a fresh signed URL (media.md 6.5); audio that cannot be
        read is left out (one warning), and the rest still plays."""
        call = self.call
        position = self.count - len(self.remaining) + 1
        media: list[Media] = [call.prompt("vm-message_number"), say_item(call, position, "number")]
        url = await self.env.deps.message_audio.url_for(self.env.account_id, message)
        if url is not None:
            media.append({"Application-Name": "play", "Media-Name": url, "Terminators": self._play_terminators(),
                          "Endless-Playback": False})
        if not self.profile.skip_envelope:
            media += [call.prompt("vm-received"),
                      say_item(call, local_epoch(timestamp_of(message), self.profile.timezone), "current_date_time")]
        media.append(call.prompt("vm-message_menu"))
        return media

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> Played:
        listing = await self.env.listing(self.box)
        messages = [m for m in listing if folder_of(m) == self.folder]
        if self.profile.oldest_message_first:
            messages.reverse()
        self.remaining = messages
        self.count = len(messages)
        media: list[Media] | None = None
        while self.remaining:
            current = self.remaining[0]
            if media is None:
                media = await self.message_audio(current)
            try:
                digit = await ask(self.call, media, profile=self.profile, flush_on_digit=False)
            except (Hangup, CommandFailed):
                await self._flush_quietly()
                raise
            invalid_before = self.invalid
            media, outcome = await self.act(digit, current)
            if self.invalid == invalid_before:
                self.invalid = 0          # the limit counts invalid entries in a row
            if outcome is not None:
                return outcome
        return Played(PlayOutcome.COMPLETE)

    async def act(self, digit: str, current: dict[str, Any]) -> tuple[list[Media] | None, Played | None]:
        """One message-menu key; returns the audio to queue next (None: the new current's) and an outcome."""
        call, keys = self.call, self.profile.keys
        if digit == "":
            digit = None  # nothing pressed, or "#" alone: matches no function

        if digit == keys.keep:
            await call.flush()
            await call.play(call.prompt("vm-saved"))
            await self._move(current, "saved")
            self._advance(push=True)
            return None, None
        if digit == FIXED_KEYS["message_forward"]:
            await call.flush()
            forwarded = await forward_message(call, self.env, self.box, current, profile=self.profile)
            if forwarded is Forwarded.GOODBYE:
                return None, Played(PlayOutcome.GOODBYE)
            await self._move(current, "saved")
            self._advance(push=True)
            if not self.remaining:
                await call.play(call.prompt("vm-saved"))
                return None, Played(PlayOutcome.COMPLETE)
            return [call.prompt("vm-saved")] + await self.message_audio(self.remaining[0]), None
        if digit == keys.delete:
            await call.flush()
            await call.play(call.prompt("vm-deleted"))
            await self.env.delete_message(self.box, current, profile=self.profile)
            await self._after_change()
            self._advance(push=False)
            return None, None
        if digit == keys.return_main_menu:
            await call.flush()
            await call.play(call.prompt("vm-saved"))
            await self._move(current, "saved")
            return None, Played(PlayOutcome.COMPLETE)
        if digit == keys.replay:
            await call.flush()
            return await self.message_audio(current), None
        if digit == keys.prev:
            await call.flush()
            if self.history:
                self.remaining.insert(0, self.history.pop())
            return await self.message_audio(self.remaining[0]), None
        if digit == keys.next:
            await call.flush()
            if len(self.remaining) > 1:
                self._advance(push=True)
            return await self.message_audio(self.remaining[0]), None
        if self.ff_rw and digit in (keys.rewind, keys.fastforward):
            # rewind is what KAZOO meant and crashes on (spec README): a playseek back
            direction = "rewind" if digit == keys.rewind else "fastforward"
            if self.profile.seek_duration_ms > 0:
                await call.playseek(direction, self.profile.seek_duration_ms)
            return await self.message_audio(current), None
        if digit == FIXED_KEYS["message_callback"]:
            result = await callback(call, self.env, self.box, current)
            if result is not None:
                return None, Played(PlayOutcome.ENDED, result)
            return await self.message_audio(current), None

        self.invalid += 1
        if self.invalid >= MAIN_MENU_LOOPS:
            await call.flush()
            return None, Played(PlayOutcome.GOODBYE)
        await call.play(call.prompt("menu-invalid_entry"))
        return [call.prompt("vm-message_menu")], None

    # -- helpers ----------------------------------------------------------------------------

    def _advance(self, *, push: bool) -> None:
        current = self.remaining.pop(0)
        if push:
            self.history.append(current)
        self.invalid = 0

    async def _move(self, message: dict[str, Any], folder: str) -> None:
        updated = await self.env.set_folder(self.box, message, folder, profile=self.profile)
        if updated is not None:
            message.clear()
            message.update(updated)
        await self._after_change()

    async def _after_change(self) -> None:
        try:
            await self.env.publish_mwi(self.box)
        except Exception:
            log.exception("MWI after a folder change failed")

    async def _flush_quietly(self) -> None:
        try:
            await self.call.flush()
        except (Hangup, CommandFailed):
            pass
