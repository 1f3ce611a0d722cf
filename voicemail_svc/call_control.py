"""What a voicemail session may do to its call, and the bus implementation of it.

``CallControl`` is the one interface a session talks to (STYLE.md 3): answer,
play and queue media, beep, collect digits, record, flush, seek in the playing
message, upload a recording.  Nothing else reaches the call.
``BusCallControl`` implements it over the bus for one call, following the
waiting rules of bus.md 4.3 and the digit collection of 4.4:

* the call's events arrive in one ordered ``CallEvents`` stream that starts
  when the listener binds the call (before the first command);
* every wait takes events from the head of that stream and discards those it
  is not waiting for, so a key pressed while nothing waits reaches the next
  collection, and a key pressed during a blocking prompt is consumed;
* ``CHANNEL_DESTROY`` makes a wait fail with ``Hangup`` (``record`` keeps
  waiting a while for its ``RECORD_STOP``, as 4.3 says); once the destroy was
  seen every later call command fails at once with ``Hangup``.

The listener makes each call's control with a ``CallFactory`` (default
``bus_call``: a ``BusCallControl`` on a fresh ``CallEvents`` stream); the
benchmark passes its own to time events and commands.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
import os
import time
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any, Iterable, Protocol

from services.bus import RequestTimeout
from services.bus.rpc import ReplyQueue
from services.bus.transport import BusError
from services.messages import catalogue as m
from services.messages.spec import Message, MessageSpec

log = logging.getLogger(__name__)

ALL_KEYS: tuple[str, ...] = ("#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
BEEP: tuple[dict[str, Any], ...] = ({"Frequencies": ["440"], "Duration-ON": "500", "Duration-OFF": "100"},)
MARKER_GUARD_S = 24 * 3600.0          # bus.md 4.4 step 2: the wait while the marker noop is pending
RECORD_AFTER_DESTROY_S = 60.0         # bus.md 4.3 b_record


class Hangup(Exception):
    """The channel is gone (``CHANNEL_DESTROY``)."""


class CommandFailed(Exception):
    """The gateway reported an error for the command we waited for, or it did not complete in time."""


class StoreFailed(Exception):
    """Every ``send_http`` try failed (bus.md 3.12)."""


@dataclass(frozen=True)
class Timers:
    """``call_command`` defaults (bus.md 4.3, 4.4); in milliseconds unless named otherwise."""

    message_timeout_ms: int = 5000
    digit_timeout_ms: int = 3000
    interdigit_timeout_ms: int = 2000
    collect_timeout_ms: int = 5000
    store_file_tries: int = 5
    store_file_timeout_ms: int = 300000
    store_file_retry_delay_ms: int = 2000


@dataclass(frozen=True)
class RecordResult:
    length_ms: int
    terminator: str | None
    hangup: bool                  # the caller was gone when the recording stopped
    file_path: str | None
    silence_terminated: bool = False


# ---- the per-call event stream ----------------------------------------------------------

class CallEvents:
    """One call's events, in arrival order, from the moment the call was bound.

    One session reads it: ``next`` waits on a future of its own (and a timer for the deadline)
    rather than on a task per wait, since a session waits for every one of its call's events."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self._items: collections.deque[Message] = collections.deque()
        self._waiter: asyncio.Future | None = None
        self.destroyed = False          # a CHANNEL_DESTROY was delivered (consumed or not)

    def put(self, message: Message) -> None:
        if message.spec.name == "CHANNEL_DESTROY":
            self.destroyed = True
        self._items.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pending(self) -> int:
        return len(self._items)

    async def next(self, deadline: float | None) -> Message | None:
        """The next event, or ``None`` when the monotonic ``deadline`` passes first."""
        while not self._items:
            timer = None
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._waiter = None
                    return None
                timer = loop.call_later(remaining, _wake, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self._items.popleft()


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


# ---- the interface ------------------------------------------------------------------------

class CallControl(abc.ABC):
    """The call as a voicemail session sees it."""

    call_id: str
    account_id: str | None
    language: str

    def prompt(self, prompt_id: str) -> str:
        """``prompt://<account>/<id>/<lang>`` (bus.md 5.1); ``system_media`` without an account."""
        return f"prompt://{self.account_id or 'system_media'}/{prompt_id}/{self.language}"

    @abc.abstractmethod
    async def answer(self) -> None: ...

    @abc.abstractmethod
    async def play(self, media: str, *, terminators: Sequence[str] = ALL_KEYS) -> None:
        """Play one media and wait until it ended (b_play)."""

    @abc.abstractmethod
    async def play_many(self, media: Sequence[str | Mapping[str, Any]], *,
                        terminators: Sequence[str] = ALL_KEYS) -> None:
        """Play several media in order and wait until all ended."""

    @abc.abstractmethod
    async def queue_media(self, media: Sequence[str | Mapping[str, Any]], *,
                          terminators: Sequence[str] = ALL_KEYS) -> str:
        """Queue media behind a marker noop without waiting; returns the marker's id (for ``collect``)."""

    @abc.abstractmethod
    async def beep(self) -> None:
        """Play the beep (``tones``) and wait until it ended."""

    @abc.abstractmethod
    async def collect(self, max_digits: int, *, timeout_ms: int | None = None, interdigit_ms: int | None = None,
                      terminators: Iterable[str] = ("#",), marker: str | None = None,
                      flush_on_digit: bool = True) -> str: ...

    @abc.abstractmethod
    async def record(self, media_name: str, *, time_limit_s: int = 300, terminators: Sequence[str] = ALL_KEYS,
                     silence_threshold: int = 200, silence_hits: int = 5) -> RecordResult: ...

    @abc.abstractmethod
    async def flush(self) -> None:
        """Stop what plays and drop what is queued; wait until the gateway did (bus.md 4.3)."""

    @abc.abstractmethod
    async def playseek(self, direction: str, duration_ms: int) -> None:
        """Move in the playing media: ``direction`` ``rewind`` or ``fastforward`` (bus.md 3.4), at once."""

    @abc.abstractmethod
    async def store_file(self, file_name: str, url: str, *, method: str = "put") -> None:
        """Have the gateway upload a recorded file to ``url`` (``send_http``); ``StoreFailed`` when it cannot."""

    @property
    @abc.abstractmethod
    def hung_up(self) -> bool: ...


# ---- over the bus -------------------------------------------------------------------------

class CommandPublisher(Protocol):
    """Where a call's commands go: the service's ``Bus`` (or a wrapper of it that watches them)."""

    async def publish(self, spec: MessageSpec, fields: Mapping[str, Any], *, to: str | None = None,
                      server_id: str | None = None) -> dict[str, Any]: ...


def _is_complete(event: Message, application: str) -> bool:
    return event.spec.name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application-Name") == application


def _request(event: Message) -> Mapping[str, Any]:
    request = event.get("Request")
    return request if isinstance(request, Mapping) else {}


def _is_error_for(event: Message, application: str, msg_id: str | None = None) -> bool:
    if event.spec.key != "error.dialplan":
        return False
    request = _request(event)
    if request.get("Application-Name") != application:
        return False
    return msg_id is None or request.get("Msg-ID", event.msg_id) == msg_id


def _deadline(ms: float | None) -> float | None:
    return None if ms is None else time.monotonic() + ms / 1000.0


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


class BusCallControl(CallControl):
    """One call driven over the bus: commands to ``Control-Queue``, waits on the call's event stream."""

    def __init__(self, bus: CommandPublisher, call: Mapping[str, Any], events: CallEvents, replies: ReplyQueue, *,
                 timers: Timers | None = None) -> None:
        self._bus = bus
        self._replies = replies          # the service's ReplyQueue: our Server-ID, send_http replies
        self.events = events             # the listener puts the call's events here
        self.timers = timers or Timers()
        self.call_id: str = call["Call-ID"]
        self.control_queue: str = call["Control-Queue"]
        self.account_id = call.get("Account-ID") or None
        self.language = str(call.get("Language") or "en-us").lower()
        self.switch_node: str | None = call.get("Switch-Nodename") or None
        self._destroy_seen = False

    @property
    def hung_up(self) -> bool:
        return self._destroy_seen

    # -- sending -------------------------------------------------------------------------

    async def _send(self, application: str, fields: Mapping[str, Any] | None = None, *,
                    insert_at: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"Call-ID": self.call_id, "Application-Name": application, **(fields or {})}
        if insert_at is not None:
            body["Insert-At"] = insert_at
        return await self._bus.publish(m.COMMANDS[application], body, to=self.control_queue,
                                       server_id=self._replies.name)

    def _check_alive(self) -> None:
        if self._destroy_seen:
            raise Hangup(self.call_id)

    async def _next(self, deadline: float | None) -> Message | None:
        event = await self.events.next(deadline)
        if event is not None and event.spec.name == "CHANNEL_DESTROY":
            self._destroy_seen = True
        return event

    async def _wait_complete(self, application: str, *, response: str | None = None,
                             error_msg_id: str | None = None, timeout_ms: float | None = None) -> Message:
        """Consume events until ``application`` completes (with ``response`` if given)."""
        deadline = _deadline(timeout_ms)
        while True:
            event = await self._next(deadline)
            if event is None:
                raise CommandFailed(f"{application} did not complete within {timeout_ms} ms")
            if event.spec.name == "CHANNEL_DESTROY":
                raise Hangup(self.call_id)
            if _is_error_for(event, application, error_msg_id):
                raise CommandFailed(f"{application}: {event.get('Error-Message')}")
            if _is_complete(event, application) and (response is None
                                                     or event.get("Application-Response") == response):
                return event

    def _media_command(self, item: str | Mapping[str, Any], terminators: Sequence[str]) -> dict[str, Any]:
        if isinstance(item, Mapping):
            command = dict(item)
        else:
            command = {"Application-Name": "play", "Media-Name": item, "Terminators": list(terminators),
                       "Endless-Playback": False}
        command.setdefault("Call-ID", self.call_id)
        return command

    # -- helpers of bus.md 4.3 -----------------------------------------------------------

    async def answer(self) -> None:
        self._check_alive()
        await self._send("answer")
        await self._wait_complete("answer", timeout_ms=self.timers.message_timeout_ms)

    async def queue_media(self, media: Sequence[str | Mapping[str, Any]], *,
                          terminators: Sequence[str] = ALL_KEYS) -> str:
        self._check_alive()
        marker = os.urandom(16).hex()
        # marker first, media after it in reverse order: the gateway runs a tail queue reversed (4.1)
        commands = [{"Application-Name": "noop", "Call-ID": self.call_id, "Msg-ID": marker}]
        commands += [self._media_command(item, terminators) for item in reversed(list(media))]
        await self._send("queue", {"Commands": commands})
        return marker

    async def play_many(self, media: Sequence[str | Mapping[str, Any]], *,
                        terminators: Sequence[str] = ALL_KEYS) -> None:
        marker = await self.queue_media(media, terminators=terminators)
        await self._wait_complete("noop", response=marker, error_msg_id=marker)

    async def play(self, media: str, *, terminators: Sequence[str] = ALL_KEYS) -> None:
        await self.play_many([media], terminators=terminators)

    async def beep(self) -> None:
        self._check_alive()
        await self._send("tones", {"Tones": [dict(t) for t in BEEP]})
        await self._wait_complete("tones")

    async def flush(self) -> None:
        self._check_alive()
        sent = await self._send("noop", insert_at="flush")
        await self._wait_complete("noop", response=sent["Msg-ID"], error_msg_id=sent["Msg-ID"])

    async def playseek(self, direction: str, duration_ms: int) -> None:
        self._check_alive()
        await self._send("playseek", {"Direction": direction, "Duration": int(duration_ms)}, insert_at="now")

    # -- digits (bus.md 4.4) ----------------------------------------------------------------

    async def collect(self, max_digits: int, *, timeout_ms: int | None = None, interdigit_ms: int | None = None,
                      terminators: Iterable[str] = ("#",), marker: str | None = None,
                      flush_on_digit: bool = True) -> str:
        self._check_alive()
        first_ms = self.timers.digit_timeout_ms if timeout_ms is None else timeout_ms
        inter_ms = self.timers.interdigit_timeout_ms if interdigit_ms is None else interdigit_ms
        terminators = frozenset(terminators)
        digits = ""
        wait_ms: float = MARKER_GUARD_S * 1000 if marker is not None else first_ms
        deadline = _deadline(wait_ms)
        while True:
            event = await self._next(deadline)
            if event is None:
                return digits
            name = event.spec.name
            if name == "CHANNEL_DESTROY":
                raise Hangup(self.call_id)
            if marker is not None and event.spec.key == "error.dialplan" and _request(event).get("Msg-ID") == marker:
                raise CommandFailed(f"marker noop failed: {event.get('Error-Message')}")
            if _is_complete(event, "noop"):
                if marker is None or event.get("Application-Response") == marker:
                    if not digits:
                        wait_ms = first_ms
                        deadline = _deadline(wait_ms)
                else:
                    deadline = _deadline(wait_ms)
                continue
            if name == "DTMF":
                digit = str(event.get("DTMF-Digit", ""))
                if not digits and flush_on_digit:
                    await self._send("noop", insert_at="flush")
                if digit in terminators:
                    return digits
                digits += digit
                if len(digits) >= max_digits:
                    return digits
                wait_ms = inter_ms
                deadline = _deadline(wait_ms)

    # -- recording (b_record) ---------------------------------------------------------------

    async def record(self, media_name: str, *, time_limit_s: int = 300, terminators: Sequence[str] = ALL_KEYS,
                     silence_threshold: int = 200, silence_hits: int = 5) -> RecordResult:
        self._check_alive()
        await self._send("record", {"Media-Name": media_name, "Terminators": list(terminators),
                                    "Time-Limit": str(time_limit_s), "Silence-Threshold": str(silence_threshold),
                                    "Silence-Hits": str(silence_hits)})
        started = False
        deadline: float | None = None
        destroyed = False
        while True:
            event = await self._next(deadline)
            if event is None:
                raise Hangup(self.call_id)       # destroyed and no RECORD_STOP within the grace time
            name = event.spec.name
            if name == "CHANNEL_DESTROY":
                if not started:
                    raise Hangup(self.call_id)
                destroyed = True
                deadline = time.monotonic() + RECORD_AFTER_DESTROY_S
                continue
            if _is_error_for(event, "record"):
                raise CommandFailed(f"record: {event.get('Error-Message')}")
            if name == "RECORD_START":
                started = True
                continue
            if name == "RECORD_STOP" and started and self._recording_is(event, media_name):
                recording = event.get("Recording") if isinstance(event.get("Recording"), Mapping) else {}
                path = recording.get("File-Path") or event.get("Application-Response")
                length = event.get("Length", recording.get("File-MilliSeconds"))
                return RecordResult(
                    length_ms=_int(length), terminator=event.get("Terminator") or None,
                    hangup=destroyed or event.get("Channel-Answer-State") != "answered",
                    file_path=path, silence_terminated=event.get("Silence-Terminated") in (True, "true"))

    @staticmethod
    def _recording_is(event: Message, media_name: str) -> bool:
        recording = event.get("Recording") if isinstance(event.get("Recording"), Mapping) else {}
        path = recording.get("File-Path") or event.get("Application-Response") or ""
        return os.path.basename(str(path)) == os.path.basename(media_name)

    # -- storage (store_file, bus.md 3.12 / 5.3) ----------------------------------------------

    async def store_file(self, file_name: str, url: str, *, method: str = "put") -> None:
        fields: dict[str, Any] = {"Command": "send_http",
                                  "Args": {"File-Name": file_name, "Url": url, "Http-Method": method}}
        if self.switch_node:
            fields["FreeSWITCH-Node"] = self.switch_node
        tries = max(1, self.timers.store_file_tries)
        last = "no reply"
        for attempt in range(1, tries + 1):
            try:
                reply = await self._replies.request(m.SWITCH_COMMAND, fields,
                                                    timeout=self.timers.store_file_timeout_ms / 1000.0)
            except RequestTimeout:
                last = "no reply"
            except BusError as exc:
                last = f"bus error: {exc}"
            else:
                if reply.get("Result") == "success":
                    return
                last = str(reply.get("Error") or reply.get("Result"))
            log.warning("storing %s: try %d of %d failed (%s)", file_name, attempt, tries, last)
            if attempt < tries:
                await asyncio.sleep(self.timers.store_file_retry_delay_ms / 1000.0)
        raise StoreFailed(f"storing {file_name} failed after {tries} tries: {last}")


# ---- one call's control, made by the listener ---------------------------------------------------

class CallFactory(Protocol):
    """Makes the control of one call; ``events`` is the stream the listener feeds with the call's events."""

    def __call__(self, bus: CommandPublisher, call: Mapping[str, Any], replies: ReplyQueue, *,
                 timers: Timers) -> BusCallControl: ...


def bus_call(bus: CommandPublisher, call: Mapping[str, Any], replies: ReplyQueue, *, timers: Timers) -> BusCallControl:
    """The default ``CallFactory``: a ``BusCallControl`` on a new, empty event stream."""
    return BusCallControl(bus, call, CallEvents(call["Call-ID"]), replies, timers=timers)
