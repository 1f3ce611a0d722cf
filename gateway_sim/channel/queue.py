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
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable

from gateway_sim import media
from gateway_sim.channel.describe import describe_command, describe_event
from gateway_sim.channel.execution import Execution, Immediate, Pending, Sleep, Uploader, number
from gateway_sim.channel.playback import Collect, Heard, Media
from gateway_sim.channel.recording import Record, Upload
from gateway_sim.channel.state import EVENT_APP_NAME, EVENT_APP_VERSION, HANGUP_CODES, CallState, event_msg_id
from gateway_sim.config import GatewayConfig
from gateway_sim.lookup import MediaLookup
from gateway_sim.transcript import Transcript
from services.messages import catalogue as m
from services.messages.errors import InvalidMessage
from services.messages.spec import DEFAULT_HEADERS, OPTIONAL_DEFAULT_HEADERS, MessageSpec

log = logging.getLogger(__name__)

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

_EXECUTIONS: dict[str, type[Execution]] = {
    "play": Media, "tts": Media, "say": Media, "tones": Media, "sleep": Sleep, "record": Record,
    "store": Upload, "store_vm": Upload, "play_and_collect_digits": Collect,
}

Signal = Callable[[str, Any], None]


class CommandQueue:
    """The gateway side of one call: its command queue and everything it emits (the ``Channel``
    its running commands use)."""

    def __init__(self, state: CallState, *, config: GatewayConfig, emit: Callable[[MessageSpec, dict], None],
                 parse: Callable[[dict], Any], recordings: media.Recordings,
                 uploader: Uploader, transcript: Transcript, media_lookup: MediaLookup | None = None) -> None:
        self.state = state
        self.config = config
        self._emit = emit
        self._parse = parse
        self.recordings = recordings
        self.uploader = uploader
        self.transcript = transcript
        # media.md 6.6: where plays get their bytes; None plays every name by its configured length
        self.media_lookup = media_lookup
        self.heard: list[Heard] = []                 # media the caller heard, in order
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
        self.transcript.add("event", describe_event(name, body))
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
        self.transcript.add("command", describe_command(command, insert_at), application=app or None,
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

    def finished(self, execution: Execution) -> None:
        """``execution`` completed (or was dropped): the queue moves on."""
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
                duration = number(pending.command.get("Duration"), 0.0)
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
        state.hangup_cause = cause
        state.hung_up_by = by
        interrupted: list[Execution] = []
        for execution in self._running():
            if execution is origin or execution.done:
                continue
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

    # -- end of the call's command process ----------------------------------------------

    def _rearm_linger(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self._linger_over = False
        self._linger = asyncio.get_running_loop().call_later(self.config.post_hangup_linger, self._linger_done)

    def _linger_done(self) -> None:
        self._linger = None
        self._linger_over = True
        self._maybe_closed()

    def upload_started(self) -> None:
        self.pending_uploads += 1

    def upload_finished(self) -> None:
        self.pending_uploads -= 1
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
