"""record, and the uploads that store a recording: store, store_vm (bus.md 4.2, 5.4, 8.4, 8.5).

A recording is a WAV file of the simulated length; the scripted caller speaks into it
(``Record.speak``), and silence, the time limit, a terminator or the hangup end it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from gateway_sim import media
from gateway_sim.channel.execution import Execution, number, terminators_of

log = logging.getLogger(__name__)


class Record(Execution):
    """record: RECORD_START, the caller's speech, RECORD_STOP, completion (bus.md 4.2, 8.4)."""

    breakable = True

    def start(self) -> None:
        channel = self.channel
        config = channel.config
        command = self.command
        loop = asyncio.get_running_loop()
        self.path = str(media.recording_path(channel.recordings.directory, str(command.get("Media-Name"))))
        # gateway defaults when a key is missing: 20 s, threshold 500, 5 s of silence (bus.md 3.4)
        self.time_limit = number(command.get("Time-Limit"), 20.0) or 20.0
        self.hits = number(command.get("Silence-Hits"), 5.0)
        self.terminators = terminators_of(command)
        self.started = loop.time()
        self.speech_ms = 0             # speech the caller finished saying (simulated ms)
        self.speaking_since: float | None = None
        self.planned = False           # True while the caller's own plan stops the recording
        self._silence: asyncio.TimerHandle | None = None
        self._speech: asyncio.TimerHandle | None = None
        self._limit = loop.call_later(config.scaled(self.time_limit), self._time_limit)
        channel.emit_event("RECORD_START", **{
            "Application-Name": "record", "Application-Response": self.path,
            "Recording": {"File-Path": self.path}})
        channel.transcript.add("record", f"recording started: {self.path}", path=self.path)
        self._arm_silence()
        channel.signal("record_start", self)

    # -- timers
    def _arm_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
        self._silence = asyncio.get_running_loop().call_later(self.channel.config.scaled(self.hits),
                                                               self._silence_reached)

    def _cancel(self) -> None:
        for handle in (self._silence, self._speech, self._limit):
            if handle is not None:
                handle.cancel()
        self._silence = self._speech = self._limit = None

    def _measured_ms(self) -> int:
        scale = self.channel.config.time_scale
        real = asyncio.get_running_loop().time() - self.started
        return int(round(real / scale * 1000)) if scale > 0 else 0

    def _speech_so_far_ms(self) -> int:
        speech = self.speech_ms
        if self.speaking_since is not None:
            scale = self.channel.config.time_scale
            real = asyncio.get_running_loop().time() - self.speaking_since
            speech += int(round(real / scale * 1000)) if scale > 0 else 0
        return speech

    # -- the caller
    def speak(self, seconds: float, then: Callable[["Record"], None] | None = None) -> None:
        """The caller speaks for ``seconds`` (simulated), then ``then(self)`` runs (press a key, hang
        up); without ``then`` the caller falls silent and Silence-Hits ends the recording."""
        if self.done:
            return
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None
        loop = asyncio.get_running_loop()
        self.speaking_since = loop.time()
        self._speech = loop.call_later(self.channel.config.scaled(seconds), self._speech_done, seconds, then)

    def _speech_done(self, seconds: float, then: Callable[["Record"], None] | None) -> None:
        self._speech = None
        self.speaking_since = None
        self.speech_ms += int(round(seconds * 1000))
        if then is None:
            self._arm_silence()
            return
        self.planned = True
        try:
            then(self)
        finally:
            self.planned = False
        if not self.done:
            self._arm_silence()

    def _length_now(self) -> int:
        if self.planned:
            return min(self.speech_ms, int(self.time_limit * 1000))
        return min(max(self._measured_ms(), self._speech_so_far_ms()), int(self.time_limit * 1000))

    # -- ways to end
    def _silence_reached(self) -> None:
        self._silence = None
        length = min(self.speech_ms + int(round(self.hits * 1000)), int(self.time_limit * 1000))
        self._stop(length=length, cause="success-silence", silence=True)

    def _time_limit(self) -> None:
        self._limit = None
        self._stop(length=int(self.time_limit * 1000), cause="success-maxtime")

    def on_digit(self, digit: str) -> None:
        if digit in self.terminators and not self.done:
            self._stop(length=self._length_now(), cause="success-terminator", terminator=digit)

    def stop(self, reason: str) -> None:
        if not self.done:
            self._stop(length=self._length_now(), cause=f"success-{reason}")

    def on_hangup(self) -> bool:
        # bus.md 8.4: RECORD_STOP with Channel-Answer-State hangup, no completion, then CHANNEL_DESTROY
        if not self.done:
            self._stop(length=self._length_now(), cause="hangup", complete=False)
        return False

    def _stop(self, *, length: int, cause: str, terminator: str | None = None, silence: bool = False,
              complete: bool = True) -> None:
        channel = self.channel
        self._cancel()
        speech = min(length, self._speech_so_far_ms())
        self.speaking_since = None
        size = media.write_wav(self.path, speech_ms=speech, total_ms=length, sample_rate=channel.config.sample_rate)
        channel.recording_done(media.RecordingInfo(path=self.path, media_name=str(self.command.get("Media-Name")),
                                                   length_ms=length, size=size, call_id=channel.state.call_id))
        fields: dict[str, Any] = {
            "Application-Name": "record", "Application-Response": self.path,
            "Length": str(length), "Silence-Terminated": silence,
            "Recording": {"File-Path": self.path, "File-MilliSeconds": length, "File-Seconds": length // 1000,
                          "File-Size": size, "Completion-Cause": cause},
        }
        if terminator:
            fields["Terminator"] = terminator
        channel.emit_event("RECORD_STOP", **fields)
        how = f"terminator {terminator}" if terminator else ("silence" if silence else cause)
        channel.transcript.add("record", f"recording stopped: {length} ms ({how})", path=self.path, length_ms=length,
                               terminator=terminator, silence_terminated=silence, size=size)
        if complete:
            self.finish(**{"Application-Response": self.path})
        else:
            self.done = True
            channel.finished(self)


class Upload(Execution):
    """store / store_vm: upload a recording, then CHANNEL_EXECUTE_COMPLETE success|failure (bus.md 5.4)."""

    def start(self) -> None:
        channel = self.channel
        command = self.command
        name = str(command.get("Media-Name"))
        url = str(command.get("Media-Transfer-Destination"))
        method = str(command.get("Media-Transfer-Method") or "put")
        self.path = channel.recordings.path_for(name)
        channel.upload_started()
        self._task = asyncio.get_running_loop().create_task(self._run(name, url, method))

    async def _run(self, name: str, url: str, method: str) -> None:
        channel = self.channel
        try:
            if self.path is None:
                outcome = media.UploadOutcome(False, error=f"no recording named {name}")
            else:
                outcome = await channel.uploader(self.path, url, method, name, self.command.get("Additional-Headers"))
            channel.transcript.add("upload", f"{self.app} {name} -> {url}: "
                                   + ("success" if outcome.ok else f"failure ({outcome.error})"),
                                   url=url, status=outcome.status, ok=outcome.ok)
            fields: dict[str, Any] = {"Application-Response": "success" if outcome.ok else "failure"}
            if self.app == "store":
                fields["Application-Data"] = str(self.path or name)
            self.finish(**fields)
        except Exception:
            log.exception("%s of %s failed", self.app, name)
            self.finish(**{"Application-Response": "failure"})
        finally:
            channel.upload_finished()

    def on_hangup(self) -> bool:
        return False   # uploads carry on after the hangup (bus.md 8.5)
