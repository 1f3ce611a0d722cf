"""One call's command queue, executed the way KAZOO's gateway does (bus.md 4.1, 4.2, 8).

The state machine is synchronous: a command arrives (``receive``), a key is
pressed (``press``), a timer fires, an upload finishes -- each runs to the end
without awaiting, so the order of what it emits is the order things happen.
Everything the call publishes goes through one ``Outbox`` that publishes in
that order (bus.md 3.5 ordering rules).  Media, sleeps and recordings are
``loop.call_later`` timers, scaled by ``GatewayConfig.time_scale``.

Model (bus.md 4.1): a FIFO queue ``Q`` of pending commands, at most one
*current* command, and any number of ``now`` commands running beside it.

* ``now``: executed at once, beside the current one; its completion never
  advances ``Q``; a ``queue`` is expanded in list order; a ``noop`` then applies
  its ``Filter-Applications`` to the head of ``Q`` (4.1.1);
* ``flush``: stop all media, a running record and a sleep (8.2); empty ``Q``
  without events; put the command in (a ``queue`` reversed); start the head at
  once without waiting for the stopped command, which still reports its own
  completion first;
* ``head``: to the front (a ``queue`` keeps list order);
* ``tail`` (default): to the back (a ``queue`` reversed).

``break``, ``playstop`` and ``playseek`` are always ``now``.  ``break`` also
empties ``Q`` (8.2); ``playstop`` only stops media.

After ``CHANNEL_DESTROY`` (4.1.3, 8.5) the current command and every queued or
later command get a dialplan error ``DOWN`` -- except ``hangup``, ``record``,
``presence`` and the storage uploads ``store``/``store_vm``, which still run.
Commands are accepted for ``post_hangup_linger`` seconds after the last one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping

from services.messages import catalogue as m
from services.messages.errors import InvalidMessage
from services.messages.spec import DEFAULT_HEADERS, OPTIONAL_DEFAULT_HEADERS, MessageSpec
from services.store.layout import unix_to_gregorian

from gateway_sim import media
from gateway_sim.config import GatewayConfig
from gateway_sim.transcript import Transcript

log = logging.getLogger(__name__)

ALL_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
MEDIA_APPS = frozenset(("play", "tts", "say", "tones"))
NOW_ONLY = frozenset(("break", "playstop", "playseek"))
# bus.md 8.5: what still runs (or is silently taken) after CHANNEL_DESTROY
POST_HANGUP_UPLOADS = frozenset(("store", "store_vm"))
POST_HANGUP_SILENT = frozenset(("hangup", "record", "presence"))
# what the media server calls the application (Raw-Application-Name)
RAW_APPLICATION = {"play": "playback", "tones": "playback", "tts": "speak", "say": "say", "record": "record",
                   "noop": "noop", "sleep": "sleep", "answer": "answer", "store": "store", "store_vm": "store_vm",
                   "play_and_collect_digits": "play_and_get_digits"}
# keys of a queue message copied into each element that lacks them (bus.md 3.4)
_INHERITED = tuple(dict.fromkeys(DEFAULT_HEADERS + OPTIONAL_DEFAULT_HEADERS + ("Call-ID",)))
# keys left out of a dialplan error's Request (the failing command without its envelope)
_ENVELOPE = frozenset(("Event-Category", "Event-Name", "App-Name", "App-Version", "Node", "Server-ID"))

# SIP response of common hangup causes (Hangup-Code of CHANNEL_DESTROY); others are left out
HANGUP_CODES = {"NORMAL_CLEARING": "sip:200", "USER_BUSY": "sip:486", "CALL_REJECTED": "sip:603",
                "NO_ANSWER": "sip:480", "NO_USER_RESPONSE": "sip:408", "UNALLOCATED_NUMBER": "sip:404",
                "NORMAL_TEMPORARY_FAILURE": "sip:503", "ORIGINATOR_CANCEL": "sip:487"}

EVENT_APP_NAME = "freeswitch"
EVENT_APP_VERSION = "1.0"

_last_stamp = 0


def event_msg_id() -> str:
    """KAZOO's event Msg-ID is the event's microsecond timestamp; ours is made unique per process."""
    global _last_stamp
    stamp = max(time.time_ns() // 1000, _last_stamp + 1)
    _last_stamp = stamp
    return str(stamp)


def terminators_of(command: Mapping[str, Any]) -> frozenset[str]:
    """A media command's terminator keys; absent, ``""``, ``"none"`` or ``[]`` mean none (bus.md 8.1)."""
    raw = command.get("Terminators")
    if isinstance(raw, str):
        return frozenset(raw) & frozenset(ALL_KEYS) if raw not in ("", "none") else frozenset()
    if isinstance(raw, list):
        return frozenset(k for k in raw if k in ALL_KEYS)
    return frozenset()


def is_true(value: Any) -> bool:
    return value is True or value == "true"


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


# ---- the call ------------------------------------------------------------------------

@dataclass
class CallState:
    """What the simulated channel knows about itself."""

    call_id: str
    fetch_id: str
    ccvs: dict[str, Any] = field(default_factory=dict)
    cavs: dict[str, Any] = field(default_factory=dict)
    caller_id_name: str = ""
    caller_id_number: str = ""
    from_: str = ""
    to: str = ""
    request: str = ""
    direction: str = "inbound"
    answered: bool = False
    destroyed: bool = False
    created: float = field(default_factory=time.monotonic)
    answered_at: float | None = None
    destroyed_at: float | None = None
    hangup_cause: str | None = None
    hung_up_by: str | None = None
    recordings: list[str] = field(default_factory=list)

    def common(self) -> dict[str, Any]:
        """Fields every call event carries (bus.md 3.5)."""
        if self.destroyed:
            state, call_state, answer_state = "DESTROY", "HANGUP", "hangup"
        elif self.answered:
            state, call_state, answer_state = "EXECUTE", "ACTIVE", "answered"
        else:
            state, call_state, answer_state = "EXECUTE", "RINGING", "ringing"
        fields: dict[str, Any] = {
            "Call-ID": self.call_id,
            "Timestamp": unix_to_gregorian(time.time()),
            "Custom-Channel-Vars": dict(self.ccvs),
            "Call-Direction": self.direction,
            "Caller-ID-Name": self.caller_id_name,
            "Caller-ID-Number": self.caller_id_number,
            "Channel-State": state,
            "Channel-Call-State": call_state,
            "Channel-Answer-State": answer_state,
            "From": self.from_,
            "To": self.to,
            "Request": self.request,
        }
        if self.cavs:
            fields["Custom-Application-Vars"] = dict(self.cavs)
        return fields


class Outbox:
    """Publishes one call's messages one after the other, in the order they were put."""

    def __init__(self, publish: Callable[..., Awaitable[Any]], *, name: str = "") -> None:
        self._publish = publish
        self._queue: asyncio.Queue[tuple[MessageSpec, dict[str, Any], str | None] | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"outbox-{name}")
        self.published = 0
        self.failed = 0

    def put(self, spec: MessageSpec, fields: dict[str, Any], to: str | None = None) -> None:
        """Queue one message; ``to`` names the destination of point-to-point messages."""
        self._queue.put_nowait((spec, fields, to))

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                spec, fields, to = item
                try:
                    await self._publish(spec, fields, to)
                    self.published += 1
                except Exception:
                    self.failed += 1
                    log.exception("publishing %s failed", spec.key)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        self._queue.put_nowait(None)
        await self._task


# ---- pending commands ----------------------------------------------------------------

@dataclass
class Pending:
    """A command waiting in Q (or running); ``error`` set when it failed validation."""

    command: dict[str, Any]
    error: str | None = None

    @property
    def app(self) -> str:
        name = self.command.get("Application-Name")
        return name if isinstance(name, str) else ""

    @property
    def msg_id(self) -> str:
        return str(self.command.get("Msg-ID", ""))


# ---- executions ----------------------------------------------------------------------

class Execution:
    """One command being carried out."""

    breakable = False      # stopped by flush and break (bus.md 8.2)
    is_media = False       # stopped by playstop

    def __init__(self, control: "CallControl", pending: Pending) -> None:
        self.control = control
        self.pending = pending
        self.command = pending.command
        self.app = pending.app
        self.done = False

    # -- lifecycle
    def start(self) -> None:
        raise NotImplementedError

    def stop(self, reason: str) -> None:
        """Interrupted by flush, break or playstop."""

    def on_digit(self, digit: str) -> None:
        """A key was pressed while this runs."""

    def on_hangup(self) -> bool:
        """The channel is gone; returns True when this command must get a DOWN error."""
        self._cancel()
        self.done = True
        return True

    def _cancel(self) -> None:
        pass

    def finish(self, event: bool = True, **fields: Any) -> None:
        """Report the completion (bus.md 4.2) and let the queue move on."""
        if self.done:
            return
        self.done = True
        self._cancel()
        if event:
            self.control.complete(self, **fields)
        self.control._done(self)


class Immediate(Execution):
    """noop, answer, set, hangup, invalid commands: finished as soon as started."""

    def start(self) -> None:
        control = self.control
        app = self.app
        if self.pending.error is not None:
            control.dialplan_error(self.pending, self.pending.error, kind="invalid")
            self.finish(event=False)
        elif app == "noop":
            self.finish(**{"Application-Response": self.pending.msg_id})
        elif app == "answer":
            control.answer()
            self.finish()
        elif app == "set":
            control.set_vars(self.command)
            self.finish(event=False)
        elif app == "hangup":
            self.done = True
            if is_true(self.command.get("Other-Leg-Only")):
                control.transcript.add("command", "hangup of the other leg: there is none; ignored")
                control._done(self)
                return
            cause = self.command.get("Hangup-Cause") or "NORMAL_CLEARING"
            control.hangup(str(cause), by="app", origin=self)
        else:  # a command nobody here knows how to run (nested queue handled by CallControl)
            control.dialplan_error(self.pending, f"application {app!r} is not supported", kind="invalid")
            self.finish(event=False)


class Timed(Execution):
    """Something that takes (simulated) time: a timer plus its position."""

    breakable = True

    def __init__(self, control: "CallControl", pending: Pending) -> None:
        super().__init__(control, pending)
        self._handle: asyncio.TimerHandle | None = None
        self.total: float | None = 0.0     # simulated seconds; None = endless
        self.position = 0.0                # simulated seconds played before the current timer
        self._since = 0.0                  # loop time the current timer started

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._since = loop.time()
        if self.total is None:
            return
        remaining = max(0.0, self.total - self.position)
        self._handle = loop.call_later(self.control.config.scaled(remaining), self._ended)

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def elapsed(self) -> float:
        """Simulated seconds played so far."""
        if self.done:
            return self.position
        scale = self.control.config.time_scale
        real = asyncio.get_running_loop().time() - self._since
        return self.position + (real / scale if scale > 0 else 0.0)

    def _ended(self) -> None:
        self._handle = None
        self.finish(**self.natural_end())

    def natural_end(self) -> dict[str, Any]:
        return {}


class Sleep(Timed):
    def start(self) -> None:
        self.total = _number(self.command.get("Time"), 50.0) / 1000.0
        self._arm()

    def stop(self, reason: str) -> None:
        self.finish()


class Media(Timed):
    """play, tts, say, tones (and the playback part of play_and_collect_digits)."""

    is_media = True

    def start(self) -> None:
        control = self.control
        config = control.config
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
                base *= max(1, int(_number(command.get("Loop-Count"), 1)))
        self.total = base
        control.media_started(self)
        self._arm()

    def natural_end(self) -> dict[str, Any]:
        self.control.media_ended(self, interrupted=False)
        return {"Application-Response": "FILE NOT FOUND" if self.missing else "FILE PLAYED"}

    def stop(self, reason: str) -> None:
        if self.done:
            return
        self.position = self.elapsed()
        self._cancel()
        self.control.media_ended(self, interrupted=True, reason=reason)
        self.finish(**{"Application-Response": "FILE PLAYED"})

    def on_digit(self, digit: str) -> None:
        if digit not in self.terminators or self.done:
            return
        if self.group:
            self.control.drop_group(self.group)
        self.stop(f"terminator {digit}")

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
        self.tries = max(1, int(_number(self.command.get("Media-Tries"), 1)))
        self.minimum = int(_number(self.command.get("Minimum-Digits"), 1))
        self.maximum = max(1, int(_number(self.command.get("Maximum-Digits"), 1)))
        self.timeout = _number(self.command.get("Timeout"), 3000) / 1000.0
        self.playing = True
        super().start()

    def natural_end(self) -> dict[str, Any]:
        # the prompt ended: wait for digits instead of completing
        self.control.media_ended(self, interrupted=False)
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
        self._handle = asyncio.get_running_loop().call_later(self.control.config.scaled(self.timeout), self._ended)

    def on_digit(self, digit: str) -> None:
        if self.done:
            return
        if self.playing:
            self.position = self.elapsed()
            self._cancel()
            self.control.media_ended(self, interrupted=True, reason=f"digit {digit}")
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
        self.control.media_started(self)
        self._arm()

    def stop(self, reason: str) -> None:
        if self.done:
            return
        self._cancel()
        if self.playing:
            self.control.media_ended(self, interrupted=True, reason=reason)
        self.finish(**{"Application-Response": self.digits})


class Record(Execution):
    """record: RECORD_START, the caller's speech, RECORD_STOP, completion (bus.md 4.2, 8.4)."""

    breakable = True

    def start(self) -> None:
        control = self.control
        config = control.config
        command = self.command
        loop = asyncio.get_running_loop()
        self.path = str(media.recording_path(control.recordings.directory, str(command.get("Media-Name"))))
        # gateway defaults when a key is missing: 20 s, threshold 500, 5 s of silence (bus.md 3.4)
        self.time_limit = _number(command.get("Time-Limit"), 20.0) or 20.0
        self.hits = _number(command.get("Silence-Hits"), 5.0)
        self.terminators = terminators_of(command)
        self.started = loop.time()
        self.speech_ms = 0             # speech the caller finished saying (simulated ms)
        self.speaking_since: float | None = None
        self.planned = False           # True while the caller's own plan stops the recording
        self._silence: asyncio.TimerHandle | None = None
        self._speech: asyncio.TimerHandle | None = None
        self._limit = loop.call_later(config.scaled(self.time_limit), self._time_limit)
        control.emit_event("RECORD_START", **{
            "Application-Name": "record", "Application-Response": self.path,
            "Recording": {"File-Path": self.path}})
        control.transcript.add("record", f"recording started: {self.path}", path=self.path)
        self._arm_silence()
        control.signal("record_start", self)

    # -- timers
    def _arm_silence(self) -> None:
        if self._silence is not None:
            self._silence.cancel()
        self._silence = asyncio.get_running_loop().call_later(self.control.config.scaled(self.hits),
                                                               self._silence_reached)

    def _cancel(self) -> None:
        for handle in (self._silence, self._speech, self._limit):
            if handle is not None:
                handle.cancel()
        self._silence = self._speech = self._limit = None

    def _measured_ms(self) -> int:
        scale = self.control.config.time_scale
        real = asyncio.get_running_loop().time() - self.started
        return int(round(real / scale * 1000)) if scale > 0 else 0

    def _speech_so_far_ms(self) -> int:
        speech = self.speech_ms
        if self.speaking_since is not None:
            scale = self.control.config.time_scale
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
        self._speech = loop.call_later(self.control.config.scaled(seconds), self._speech_done, seconds, then)

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
        control = self.control
        self._cancel()
        speech = min(length, self._speech_so_far_ms())
        self.speaking_since = None
        size = media.write_wav(self.path, speech_ms=speech, total_ms=length, sample_rate=control.config.sample_rate)
        control.recording_done(media.RecordingInfo(path=self.path, media_name=str(self.command.get("Media-Name")),
                                                   length_ms=length, size=size, call_id=control.state.call_id))
        fields: dict[str, Any] = {
            "Application-Name": "record", "Application-Response": self.path,
            "Length": str(length), "Silence-Terminated": silence,
            "Recording": {"File-Path": self.path, "File-MilliSeconds": length, "File-Seconds": length // 1000,
                          "File-Size": size, "Completion-Cause": cause},
        }
        if terminator:
            fields["Terminator"] = terminator
        control.emit_event("RECORD_STOP", **fields)
        how = f"terminator {terminator}" if terminator else ("silence" if silence else cause)
        control.transcript.add("record", f"recording stopped: {length} ms ({how})", path=self.path, length_ms=length,
                               terminator=terminator, silence_terminated=silence, size=size)
        if complete:
            self.finish(**{"Application-Response": self.path})
        else:
            self.done = True
            control._done(self)


class Store(Execution):
    """store / store_vm: upload a recording, then CHANNEL_EXECUTE_COMPLETE success|failure (bus.md 5.4)."""

    def start(self) -> None:
        control = self.control
        command = self.command
        name = str(command.get("Media-Name"))
        url = str(command.get("Media-Transfer-Destination"))
        method = str(command.get("Media-Transfer-Method") or "put")
        self.path = control.recordings.path_for(name)
        control.pending_uploads += 1
        self._task = asyncio.get_running_loop().create_task(self._run(name, url, method))

    async def _run(self, name: str, url: str, method: str) -> None:
        control = self.control
        try:
            if self.path is None:
                outcome = media.UploadOutcome(False, error=f"no recording named {name}")
            else:
                outcome = await control.uploader(self.path, url, method, name, self.command.get("Additional-Headers"))
            control.transcript.add("upload", f"{self.app} {name} -> {url}: "
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
            control.pending_uploads -= 1
            control._maybe_closed()

    def on_hangup(self) -> bool:
        return False   # uploads carry on after the hangup (bus.md 8.5)


_EXECUTIONS: dict[str, type[Execution]] = {
    "play": Media, "tts": Media, "say": Media, "tones": Media, "sleep": Sleep, "record": Record,
    "store": Store, "store_vm": Store, "play_and_collect_digits": Collect,
}


# ---- the control ---------------------------------------------------------------------

Signal = Callable[[str, Any], None]


class CallControl:
    """The gateway side of one call: its command queue and everything it emits."""

    def __init__(self, state: CallState, *, config: GatewayConfig, emit: Callable[[MessageSpec, dict], None],
                 parse: Callable[[dict], Any], recordings: media.Recordings,
                 uploader: Callable[..., Awaitable[media.UploadOutcome]], transcript: Transcript) -> None:
        self.state = state
        self.config = config
        self._emit = emit
        self._parse = parse
        self.recordings = recordings
        self.uploader = uploader
        self.transcript = transcript
        self.queue: deque[Pending] = deque()
        self.current: Execution | None = None
        self.parallel: list[Execution] = []
        self.listeners: list[Signal] = []
        self.events: list[dict[str, Any]] = []       # everything emitted, in order (for results and tests)
        self.pending_uploads = 0
        self.closed = asyncio.get_running_loop().create_future()
        self._advancing = False
        self._linger: asyncio.TimerHandle | None = None
        self._linger_over = False

    # -- emitting ------------------------------------------------------------------------

    def emit_event(self, name: str, **fields: Any) -> dict[str, Any]:
        body = self.state.common()
        body.update(fields)
        body.update({"App-Name": EVENT_APP_NAME, "App-Version": EVENT_APP_VERSION, "Node": self.config.node,
                     "Msg-ID": event_msg_id()})
        self._emit(m.CALL_EVENTS[name], body)
        self.events.append({"Event-Name": name, **body})
        self.transcript.add("event", _describe_event(name, body))
        self.signal("event", body | {"Event-Name": name})
        return body

    def complete(self, execution: Execution, **fields: Any) -> None:
        """CHANNEL_EXECUTE_COMPLETE of one command, with KAZOO's application name (bus.md 3.5)."""
        command = execution.command
        body = {"Application-Name": execution.app,
                "Raw-Application-Name": RAW_APPLICATION.get(execution.app, execution.app),
                "Application-UUID": execution.pending.msg_id}
        data = command.get("Media-Name") or command.get("Text") or command.get("Say-Text")
        if data:
            body["Raw-Application-Data"] = str(data)
        body.update(fields)
        self.emit_event("CHANNEL_EXECUTE_COMPLETE", **body)

    def dialplan_error(self, pending: Pending, message: str, *, kind: str) -> None:
        """``error``/``dialplan`` for a command that cannot run (bus.md 3.6)."""
        request = {k: v for k, v in pending.command.items() if k not in _ENVELOPE}
        down = kind == "DOWN"
        body: dict[str, Any] = {
            "Msg-ID": pending.msg_id or event_msg_id(),
            "Call-ID": self.state.call_id,
            "Error-Message": message,
            "Dialplan-Error": kind,
            "Channel-State": "DOWN" if down else self.state.common()["Channel-State"],
            "Channel-Call-State": "DOWN" if down else self.state.common()["Channel-Call-State"],
            "Custom-Channel-Vars": dict(self.state.ccvs),
            "Request": request,
            "App-Name": EVENT_APP_NAME, "App-Version": EVENT_APP_VERSION, "Node": self.config.node,
        }
        self._emit(m.DIALPLAN_ERROR, body)
        self.events.append({"Event-Name": "dialplan", **body})
        self.transcript.add("error", f"dialplan error for {pending.app or '(no application)'}: {message}",
                            msg_id=pending.msg_id)
        self.signal("error", body)

    def signal(self, kind: str, data: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception:
                log.exception("listener failed on %s", kind)

    # -- receiving -----------------------------------------------------------------------

    def receive(self, command: Mapping[str, Any]) -> None:
        """A validated call command arrived."""
        self._accept(Pending(dict(command)))

    def receive_invalid(self, body: Mapping[str, Any] | None, detail: str) -> None:
        """A command that failed validation (unknown application, missing field, ...)."""
        if not isinstance(body, Mapping):
            self.transcript.add("error", f"undecodable message dropped: {detail}")
            return
        self._accept(Pending(dict(body), error=detail))

    def _accept(self, pending: Pending) -> None:
        command = pending.command
        app = pending.app
        insert_at = command.get("Insert-At") or "tail"
        if insert_at not in ("head", "tail", "flush", "now"):
            insert_at = "tail"
        if app in NOW_ONLY:
            insert_at = "now"
        self.transcript.add("command", _describe_command(command, insert_at), application=app or None,
                            msg_id=pending.msg_id, insert_at=insert_at)
        self.signal("command", command)
        if self.state.destroyed:
            self._rearm_linger()
            for item in self._expand(pending, list_order=True):
                self._post_hangup(item)
            return
        if insert_at == "now":
            for item in self._expand(pending, list_order=True):
                self._run_now(item)
        elif insert_at == "flush":
            self._flush(pending)
        elif insert_at == "head":
            self.queue.extendleft(reversed(self._expand(pending, list_order=True)))
        else:
            self.queue.extend(self._expand(pending, list_order=False))
        self._advance()

    def _expand(self, pending: Pending, *, list_order: bool) -> list[Pending]:
        """A ``queue`` becomes its elements, completed with the queue's envelope (bus.md 3.4),
        in list order (now, head) or reversed (tail, flush) (bus.md 4.1)."""
        if pending.app != "queue" or pending.error is not None:
            return [pending]
        defaults = {k: pending.command[k] for k in _INHERITED if k in pending.command}
        items: list[Pending] = []
        for element in pending.command.get("Commands") or []:
            if not isinstance(element, Mapping) or not element or not element.get("Application-Name"):
                continue
            full = {**defaults, **element}
            full.pop("Insert-At", None)
            try:
                self._parse(full)
                items.append(Pending(full))
            except InvalidMessage as exc:
                items.append(Pending(full, error=exc.detail))
        return items if list_order else list(reversed(items))

    # -- running -------------------------------------------------------------------------

    def _make(self, pending: Pending) -> Execution:
        if pending.error is not None:
            return Immediate(self, pending)
        return _EXECUTIONS.get(pending.app, Immediate)(self, pending)

    def _advance(self) -> None:
        if self._advancing:
            return
        self._advancing = True
        try:
            while self.current is None and self.queue and not self.state.destroyed:
                pending = self.queue.popleft()
                if pending.app == "queue" and pending.error is None:
                    # a queue element that is itself a queue: its elements run next, as if queued
                    self.queue.extendleft(reversed(self._expand(pending, list_order=False)))
                    continue
                execution = self._make(pending)
                self.current = execution
                execution.start()
        finally:
            self._advancing = False

    def _done(self, execution: Execution) -> None:
        if execution is self.current:
            self.current = None
            self._advance()
        elif execution in self.parallel:
            self.parallel.remove(execution)
        self._maybe_closed()

    def _run_now(self, pending: Pending) -> None:
        app = pending.app
        if pending.error is None:
            if app == "break":
                self._break()
                return
            if app == "playstop":
                for execution in self._running():
                    if execution.is_media:
                        execution.stop("playstop")
                return
            if app == "playseek":
                direction = str(pending.command.get("Direction"))
                duration = _number(pending.command.get("Duration"), 0.0)
                for execution in self._running():
                    if isinstance(execution, Media) and not isinstance(execution, Collect):
                        execution.seek(direction, duration)
                return
        execution = self._make(pending)
        self.parallel.append(execution)
        execution.start()
        if app == "noop" and pending.error is None:
            self._filter(pending.command.get("Filter-Applications"))

    def _running(self) -> list[Execution]:
        return ([self.current] if self.current is not None else []) + list(self.parallel)

    def _flush(self, pending: Pending) -> None:
        dropped = len(self.queue)
        self.queue.clear()
        if dropped:
            self.transcript.add("command", f"flush discarded {dropped} queued command(s)")
        for execution in list(self.parallel):
            if execution.breakable:
                execution.stop("flush")
        self.queue.extend(self._expand(pending, list_order=False))
        old, self.current = self.current, None
        if old is not None:
            # force advance: the old command finishes on its own; its completion no longer moves Q
            self.parallel.append(old)
            if old.breakable:
                old.stop("flush")

    def _break(self) -> None:
        dropped = len(self.queue)
        self.queue.clear()
        if dropped:
            self.transcript.add("command", f"break discarded {dropped} queued command(s)")
        for execution in self._running():
            if execution.breakable:
                execution.stop("break")

    def _filter(self, members: Any) -> None:
        """Filter-Applications of a ``now`` noop (bus.md 4.1.1)."""
        if not isinstance(members, list):
            return
        removed = 0
        for member in members:
            while self.queue and _filter_matches(member, self.queue[0].command):
                self.queue.popleft()
                removed += 1
        if removed:
            self.transcript.add("command", f"noop filter removed {removed} queued command(s)")

    def drop_group(self, group: str) -> None:
        """A terminator stopped a member of Group-ID ``group``: its queued members go, without events."""
        before = len(self.queue)
        self.queue = deque(p for p in self.queue if p.command.get("Group-ID") != group)
        if before != len(self.queue):
            self.transcript.add("command", f"terminator dropped {before - len(self.queue)} queued command(s) "
                                           f"of group {group}")

    # -- channel actions -----------------------------------------------------------------

    def answer(self) -> None:
        if self.state.answered or self.state.destroyed:
            return
        self.state.answered = True
        self.state.answered_at = time.monotonic()
        self.emit_event("CHANNEL_ANSWER")
        self.signal("answer", None)

    def set_vars(self, command: Mapping[str, Any]) -> None:
        for key in ("Custom-Channel-Vars", "Custom-Call-Vars"):
            values = command.get(key)
            if isinstance(values, Mapping):
                self.state.ccvs.update(values)
        cavs = command.get("Custom-Application-Vars")
        if isinstance(cavs, Mapping):
            self.state.cavs.update(cavs)

    def press(self, digit: str) -> None:
        """The caller presses one key: a DTMF event, then terminators act (bus.md 3.5, 8.3)."""
        if self.state.destroyed:
            return
        self.transcript.add("digits", f"caller pressed {digit}", digit=digit)
        self.emit_event("DTMF", **{"DTMF-Digit": digit, "DTMF-Duration": self.config.dtmf_duration_ms})
        for execution in self._running():
            if not execution.done:
                execution.on_digit(digit)

    def recording(self) -> Record | None:
        for execution in self._running():
            if isinstance(execution, Record) and not execution.done:
                return execution
        return None

    def media_started(self, execution: Media) -> None:
        self.transcript.add("prompt", execution.label + (" (missing: FILE NOT FOUND)" if execution.missing else ""),
                            application=execution.app, group=execution.group)
        self.signal("media_start", execution)

    def media_ended(self, execution: Media, *, interrupted: bool, reason: str | None = None) -> None:
        self.signal("media_end", (execution, interrupted, reason))

    def recording_done(self, info: media.RecordingInfo) -> None:
        self.recordings.add(info)
        self.state.recordings.append(info.path)
        self.signal("recording", info)

    def hangup(self, cause: str = "NORMAL_CLEARING", *, by: str = "caller", origin: Execution | None = None) -> None:
        """The channel goes away: RECORD_STOP of a running record, CHANNEL_DESTROY, then DOWN errors
        for the interrupted command and everything queued (bus.md 4.1.3, 8.4, 8.5)."""
        state = self.state
        if state.destroyed:
            return
        state.destroyed = True
        state.destroyed_at = time.monotonic()
        state.hangup_cause = cause
        state.hung_up_by = by
        interrupted: list[Execution] = []
        for execution in self._running():
            if execution is origin or execution.done:
                continue
            if isinstance(execution, Media):
                self.media_ended(execution, interrupted=True, reason="hangup")
            if execution.on_hangup():
                interrupted.append(execution)
        self.current = None
        self.parallel = [e for e in self.parallel if not e.done]
        now = time.monotonic()
        duration = int(now - state.created)
        billing = int(now - state.answered_at) if state.answered_at else 0
        self.emit_event("CHANNEL_DESTROY", **{
            "Hangup-Cause": cause,
            "Hangup-Code": HANGUP_CODES.get(cause),
            "Disposition": "ANSWER" if state.answered else "NO ANSWER",
            "Duration-Seconds": str(duration), "Billing-Seconds": str(billing),
            "Ringing-Seconds": str(max(0, duration - billing)),
            "Media-Recordings": list(state.recordings)})
        self.transcript.add("result", f"hangup {cause} by {by}", cause=cause, by=by)
        for execution in interrupted:
            self.dialplan_error(execution.pending, _down_message(execution.app), kind="DOWN")
        while self.queue:
            self._post_hangup(self.queue.popleft())
        self.signal("destroy", state)
        self._rearm_linger()

    def _post_hangup(self, pending: Pending) -> None:
        app = pending.app
        if pending.error is None and app in POST_HANGUP_UPLOADS:
            execution = self._make(pending)
            self.parallel.append(execution)
            execution.start()
        elif app in POST_HANGUP_SILENT and (pending.error is None or app == "presence"):
            self.transcript.add("command", f"{app} after hangup: nothing to do")
        else:
            self.dialplan_error(pending, _down_message(app or "(none)"), kind="DOWN")

    # -- end of the control process ------------------------------------------------------

    def _rearm_linger(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self._linger_over = False
        self._linger = asyncio.get_running_loop().call_later(self.config.post_hangup_linger, self._linger_done)

    def _linger_done(self) -> None:
        self._linger = None
        self._linger_over = True
        self._maybe_closed()

    def _maybe_closed(self) -> None:
        if self._linger_over and self.pending_uploads == 0 and not self.closed.done():
            self.closed.set_result(None)

    def shutdown(self) -> None:
        """Stop every timer (gateway stopping)."""
        for execution in self._running():
            execution._cancel()
        if self._linger is not None:
            self._linger.cancel()
        if not self.closed.done():
            self.closed.set_result(None)


def _down_message(app: str) -> str:
    return f"DOWN: the channel is gone; {app} not executed"


def _filter_matches(member: Any, command: Mapping[str, Any]) -> bool:
    if isinstance(member, str):
        return command.get("Application-Name") == member
    if isinstance(member, Mapping):
        if member.get("Application-Name") != command.get("Application-Name"):
            return False
        fields = member.get("Fields")
        if isinstance(fields, Mapping):
            return all(command.get(k) == v for k, v in fields.items())
        if "Group-ID" in member:
            return command.get("Group-ID") == member.get("Group-ID")
        return True
    return False


def _describe_command(command: Mapping[str, Any], insert_at: str) -> str:
    app = command.get("Application-Name") or "(no application)"
    if app == "queue":
        names = [c.get("Application-Name", "?") for c in command.get("Commands") or [] if isinstance(c, Mapping)]
        return f"queue [{', '.join(map(str, names))}] ({insert_at})"
    detail = ""
    if app in ("play", "record", "store", "store_vm", "play_and_collect_digits"):
        detail = " " + media.prompt_id(str(command.get("Media-Name", "")))
    elif app == "tts":
        detail = f" {command.get('Text', '')!r}"
    elif app == "say":
        detail = f" {command.get('Say-Text', '')!r} ({command.get('Type', '')})"
    elif app == "hangup" and command.get("Hangup-Cause"):
        detail = f" {command['Hangup-Cause']}"
    elif app == "sleep":
        detail = f" {command.get('Time', '')} ms"
    elif app == "noop" and command.get("Filter-Applications"):
        detail = " with filter"
    return f"{app}{detail} ({insert_at})"


def _describe_event(name: str, body: Mapping[str, Any]) -> str:
    if name == "CHANNEL_EXECUTE_COMPLETE":
        response = body.get("Application-Response")
        return f"{name} {body.get('Application-Name')}" + (f" ({response})" if response else "")
    if name == "DTMF":
        return f"DTMF {body.get('DTMF-Digit')}"
    if name == "RECORD_STOP":
        return f"RECORD_STOP {body.get('Length')} ms"
    if name == "CHANNEL_DESTROY":
        return f"CHANNEL_DESTROY {body.get('Hangup-Cause')}"
    return name


def running_apps(control: CallControl) -> Iterable[str]:
    """Applications running now (for diagnostics)."""
    return [e.app for e in control._running()]

