"""Media commands: play, tts, say, tones, and play_and_collect_digits (bus.md 3.4, 4.2, 8.1-8.3).

Their length is simulated (``gateway_sim/media.py``) and scaled by ``time_scale``;
terminator keys stop them, ``playstop`` stops every one, ``playseek`` moves a play.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from gateway_sim import media
from gateway_sim.channel.execution import Timed, is_true, number, terminators_of
from gateway_sim.lookup import Fetched, needs_fetch

log = logging.getLogger(__name__)


class Media(Timed):
    """play, tts, say, tones (and the playback part of play_and_collect_digits).

    A ``play`` whose name needs bytes (media.md 6.6) first fetches them through the
    gateway's :class:`~gateway_sim.lookup.MediaLookup` (media_req + GET, or one GET of a
    URL); the prompt starts when they are there.  A name recorded earlier on the call
    plays the recording.  A failure plays nothing and completes with ``FILE NOT FOUND``.
    """

    is_media = True

    def start(self) -> None:
        channel = self.channel
        config = channel.config
        command = self.command
        self.label = media.media_label(self.app, command)
        self.terminators = terminators_of(command)
        self.group = command.get("Group-ID") or None
        self.missing = False
        self.playing_started = False
        self.fetched: Fetched | None = None
        self._fetch: asyncio.Task | None = None
        self._buffered: str | None = None    # a terminator pressed while the bytes were being fetched
        if self.app == "tones":
            self.media_name = ""
            self._play(media.tones_seconds(command.get("Tones")))
            return
        self.media_name = name = str(command.get("Media-Name") or command.get("Text") or command.get("Say-Text")
                                     or "")
        if self.app in ("play", "play_and_collect_digits"):
            if self.label in config.missing_media or name in config.missing_media:
                self.fetched = Fetched(name, "configured", False, reason="configured as missing")
                self._play(0.0)
                return
            recorded = channel.recordings.recorded_on_call(name, channel.state.call_id)
            if recorded is not None:
                self.fetched = Fetched(name, "recording", True, size=recorded.size,
                                       seconds=recorded.length_ms / 1000.0, path=recorded.path)
                self._play(self._seconds(self.fetched.seconds))
                return
            lookup = getattr(channel, "media_lookup", None)
            if lookup is not None and needs_fetch(name):
                self._fetch = asyncio.get_running_loop().create_task(self._fetch_then_play(lookup),
                                                                     name=f"media-{channel.state.call_id}")
                return
        self._play(self._seconds(None))

    def _seconds(self, body_seconds: float | None) -> float:
        config = self.channel.config
        default = {"tts": config.tts_seconds, "say": config.say_seconds}.get(self.app, config.prompt_seconds)
        return media.media_seconds(self.label, self.media_name, default=default, overrides=config.media_seconds,
                                   body_seconds=body_seconds)

    async def _fetch_then_play(self, lookup) -> None:
        name = self.media_name
        try:
            fetched = await lookup.fetch(name, call_id=self.channel.state.call_id, command=self.command)
        except asyncio.CancelledError:
            raise
        except Exception as exc:   # never leave the queue waiting on a play
            log.exception("fetching media %s failed", name)
            fetched = Fetched(name, "media_req", False, reason=f"{type(exc).__name__}: {exc}")
        self._fetch = None
        if self.done:
            return
        self.fetched = fetched
        self._play(self._seconds(fetched.seconds) if fetched.ok else 0.0)
        if self._buffered is not None and not self.missing and not self.done:
            # the key was waiting in the channel: the playback stops as soon as it begins
            self.stop(f"terminator {self._buffered}")

    def _play(self, base: float | None) -> None:
        if self.fetched is not None and not self.fetched.ok:
            self.missing = True
            base = 0.0
        if not self.missing:
            if is_true(self.command.get("Endless-Playback")):
                base = None
            elif base is not None:
                base *= max(1, int(number(self.command.get("Loop-Count"), 1)))
        self.total = base
        self.playing_started = True
        self.announce_start()
        self._arm()

    def _cancel(self) -> None:
        super()._cancel()
        if self._fetch is not None:
            self._fetch.cancel()
            self._fetch = None

    def elapsed(self) -> float:
        if not self.playing_started:
            return self.position
        return super().elapsed()

    def natural_end(self) -> dict[str, Any]:
        self.announce_end(interrupted=False)
        return {"Application-Response": "FILE NOT FOUND" if self.missing else "FILE PLAYED"}

    def stop(self, reason: str) -> None:
        if self.done:
            return
        if not self.playing_started:
            # the playback was executing, still fetching its bytes: it ends before a sample is heard
            self.channel.transcript.add("prompt", f"{self.label} (stopped by {reason} while fetching its media)",
                                        application=self.app, group=self.group, label=self.label, ok=True)
        self.position = self.elapsed()
        self._cancel()
        self.announce_end(interrupted=True, reason=reason)
        self.finish(**{"Application-Response": "FILE PLAYED"})

    def on_digit(self, digit: str) -> None:
        if digit not in self.terminators or self.done:
            return
        if self.group:
            self.channel.drop_group(self.group)
        if self._fetch is not None:
            if self._buffered is None:
                self._buffered = digit
            return
        self.stop(f"terminator {digit}")

    def on_hangup(self) -> bool:
        self.position = self.elapsed()
        self.announce_end(interrupted=True, reason="hangup")
        return super().on_hangup()

    def announce_start(self) -> None:
        """The prompt begins: a transcript line, and the scripted caller hears it."""
        fetched = self.fetched
        transcript = self.channel.transcript
        if fetched is not None and fetched.via not in ("literal", "configured"):
            transcript.add("media", f"{self.label}: {fetched.describe()}", label=self.label, **fetched.to_json())
        suffix = ""
        if self.missing:
            suffix = f" (missing: FILE NOT FOUND: {fetched.reason})" if fetched is not None else \
                " (missing: FILE NOT FOUND)"
        transcript.add("prompt", self.label + suffix, application=self.app, group=self.group, label=self.label,
                       ok=not self.missing)
        self.channel.signal("media_start", self)

    def announce_end(self, *, interrupted: bool, reason: str | None = None) -> None:
        if not self.playing_started:
            return                  # stopped while its bytes were still being fetched: nothing was heard
        played = self.position if interrupted else (self.total or 0.0)
        heard = getattr(self.channel, "heard", None)
        if heard is not None:
            heard.append(Heard(self.app, self.label, self.media_name, self.fetched, played, self.command))
        self.channel.signal("media_end", (self, interrupted, reason))

    def seek(self, direction: str, ms: float) -> None:
        if self.done or self.total is None or not self.playing_started:
            return
        self._cancel()
        now = self.elapsed()
        delta = ms / 1000.0
        self.position = max(0.0, now - delta) if direction == "rewind" else min(self.total, now + delta)
        self._arm()


@dataclass(frozen=True)
class Heard:
    """One media the caller heard, for the audio written out (``gateway_sim.audio_out``)."""

    app: str
    label: str
    media_name: str
    fetched: Fetched | None
    seconds: float                 # simulated seconds played
    command: dict[str, Any]


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
