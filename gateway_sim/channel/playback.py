"""Media commands: play, tts, say, tones, and play_and_collect_digits (bus.md 3.4, 4.2, 8.1-8.3).

Their length is simulated (``gateway_sim/media.py``) and scaled by ``time_scale``;
terminator keys stop them, ``playstop`` stops every one, ``playseek`` moves a play.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from gateway_sim import media
from gateway_sim.channel.execution import Timed, is_true, number, terminators_of


class Media(Timed):
    """play, tts, say, tones (and the playback part of play_and_collect_digits)."""

    is_media = True

    def start(self) -> None:
        channel = self.channel
        config = channel.config
        command = self.command
        self.label = media.media_label(self.app, command)
        self.terminators = terminators_of(command)
        self.group = command.get("Group-ID") or None
        self.missing = False
        if self.app == "tones":
            base: float | None = media.tones_seconds(command.get("Tones"))
        else:
            media_name = str(command.get("Media-Name") or command.get("Text") or command.get("Say-Text") or "")
            default = {"tts": config.tts_seconds, "say": config.say_seconds}.get(self.app, config.prompt_seconds)
            base = media.media_seconds(self.label, media_name, default=default, overrides=config.media_seconds)
            if self.app == "play" and (self.label in config.missing_media or media_name in config.missing_media):
                self.missing = True
                base = 0.0
        if not self.missing:
            if is_true(command.get("Endless-Playback")):
                base = None
            elif base is not None:
                base *= max(1, int(number(command.get("Loop-Count"), 1)))
        self.total = base
        self.announce_start()
        self._arm()

    def natural_end(self) -> dict[str, Any]:
        self.announce_end(interrupted=False)
        return {"Application-Response": "FILE NOT FOUND" if self.missing else "FILE PLAYED"}

    def stop(self, reason: str) -> None:
        if self.done:
            return
        self.position = self.elapsed()
        self._cancel()
        self.announce_end(interrupted=True, reason=reason)
        self.finish(**{"Application-Response": "FILE PLAYED"})

    def on_digit(self, digit: str) -> None:
        if digit not in self.terminators or self.done:
            return
        if self.group:
            self.channel.drop_group(self.group)
        self.stop(f"terminator {digit}")

    def on_hangup(self) -> bool:
        self.announce_end(interrupted=True, reason="hangup")
        return super().on_hangup()

    def announce_start(self) -> None:
        """The prompt begins: a transcript line, and the scripted caller hears it."""
        self.channel.transcript.add("prompt", self.label + (" (missing: FILE NOT FOUND)" if self.missing else ""),
                                    application=self.app, group=self.group)
        self.channel.signal("media_start", self)

    def announce_end(self, *, interrupted: bool, reason: str | None = None) -> None:
        self.channel.signal("media_end", (self, interrupted, reason))

    def seek(self, direction: str, ms: float) -> None:
        if self.done or self.total is None:
            return
        self._cancel()
        now = self.elapsed()
        delta = ms / 1000.0
        self.position = max(0.0, now - delta) if direction == "rewind" else min(self.total, now + delta)
        self._arm()


class Collect(Media):
    """play_and_collect_digits: gateway-side collection (bus.md 3.4; not used by our services)."""

    def start(self) -> None:
        self.digits = ""
        self.tries = max(1, int(number(self.command.get("Media-Tries"), 1)))
        self.minimum = int(number(self.command.get("Minimum-Digits"), 1))
        self.maximum = max(1, int(number(self.command.get("Maximum-Digits"), 1)))
        self.timeout = number(self.command.get("Timeout"), 3000) / 1000.0
        self.playing = True
        super().start()

    def natural_end(self) -> dict[str, Any]:
        # the prompt ended: wait for digits instead of completing
        self.announce_end(interrupted=False)
        self.playing = False
        self._wait()
        return {}

    def _ended(self) -> None:
        self._handle = None
        if self.playing:
            self.natural_end()
        else:
            self._give_up()

    def _wait(self) -> None:
        self._cancel()
        self._handle = asyncio.get_running_loop().call_later(self.channel.config.scaled(self.timeout), self._ended)

    def on_digit(self, digit: str) -> None:
        if self.done:
            return
        if self.playing:
            self.position = self.elapsed()
            self._cancel()
            self.announce_end(interrupted=True, reason=f"digit {digit}")
            self.playing = False
        if digit in self.terminators:
            self._check()
            return
        self.digits += digit
        if len(self.digits) >= self.maximum:
            self._check()
        else:
            self._wait()

    def _check(self) -> None:
        regex = str(self.command.get("Digits-Regex") or "")
        try:
            matches = not regex or re.fullmatch(regex, self.digits) is not None
        except re.error:
            matches = True
        if len(self.digits) >= self.minimum and matches:
            self.finish(**{"Application-Response": self.digits})
        else:
            self._give_up()

    def _give_up(self) -> None:
        self.tries -= 1
        if self.tries <= 0:
            self.finish(**{"Application-Response": self.digits if len(self.digits) >= self.minimum else ""})
            return
        self.digits = ""
        self.position = 0.0
        self.playing = True
        self.announce_start()
        self._arm()

    def stop(self, reason: str) -> None:
        if self.done:
            return
        self._cancel()
        if self.playing:
            self.announce_end(interrupted=True, reason=reason)
        self.finish(**{"Application-Response": self.digits})
