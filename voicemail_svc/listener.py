"""Take voicemail actions off the bus and run each as a session (bus.md 3.8.7).

* ``voicemail_actions`` is shared by every instance (competing consumers) and
  bound to ``kapps`` ``callflow.action.voicemail``;
* an action that fails validation but still names its Call-ID, Msg-ID and
  Server-ID is answered with ``continue`` (the executor waits for a result);
* a valid action: make the call's control (``call_factory``, by default a
  ``BusCallControl`` on a new event stream), register its event stream, bind
  ``call.*.<encoded Call-ID>`` on this process's event queue, publish
  action.accepted, then run the session as a task owned here -- the handler
  returns at once, so the action is acked;
* when the session ends (normally, by hangup, by a failure or by
  cancellation) exactly one action.result goes back, then the binding is
  dropped;
* a session whose call sent no event for ``idle_timeout_s`` (``callflow``
  ``voicemail.session_idle_timeout``, seconds, default 1800; 0 turns it off)
  is presumed abandoned -- the gateway vanished without ``CHANNEL_DESTROY`` --
  and cancelled by the reaper; its result is ``stop`` (ours).
"""

from __future__ import annotations

from services.tasks import reap_idle_forever

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, Awaitable, Callable

from services.bus import Bus, unique_queue_name
from services.exchanges import CALLEVT, KAPPS, call_events_binding, callflow_action_key
from services.logging import bind_call
from services.messages import catalogue as m
from services.messages.errors import InvalidMessage
from services.messages.etf import ActionResult, encode_result_or_continue
from services.messages.spec import Message
from voicemail_svc.call_control import BusCallControl, CallControl, CallEvents, CallFactory, Hangup, Timers, bus_call

log = logging.getLogger(__name__)

ACTIONS_QUEUE = "voicemail_actions"
CONTINUE = ActionResult("continue")
REAPED = ActionResult("stop")
SESSION_IDLE_TIMEOUT_S = 1800        # longer than any quiet stretch of a live session (a 500 s recording)

SessionRunner = Callable[[CallControl, Mapping[str, Any], Mapping[str, Any]], Awaitable[ActionResult]]


def invalid_reason(message: Message) -> str | None:
    """Why a schema-valid action.execute still cannot run, or ``None``."""
    call = message.get("Call")
    if not isinstance(call, Mapping):
        return "Call is not an object"
    if not isinstance(call.get("Control-Queue"), str) or not call.get("Control-Queue"):
        return "Call has no Control-Queue"
    if call.get("Call-ID") not in (None, "", message.call_id):
        return "Call.Call-ID differs from Call-ID"
    data = message.get("Data", {})
    if not isinstance(data, Mapping):
        return "Data is not an object"
    if not message.server_id:
        return "no Server-ID"
    return None


class VoicemailListener:
    def __init__(self, bus: Bus, run_session: SessionRunner, *, timers: Timers | None = None,
                 queue: str = ACTIONS_QUEUE,
                 idle_timeout_s: Callable[[], Awaitable[float]] | None = None,
                 call_factory: CallFactory = bus_call) -> None:
        self.bus = bus
        self._call_factory = call_factory
        self._idle_timeout_s = idle_timeout_s
        self._run_session = run_session
        self.timers = timers or Timers()
        self.queue_name = queue
        self.actions = None
        self.events = None
        self.replies = None
        self.streams: dict[str, CallEvents] = {}
        self.sessions: dict[str, asyncio.Task] = {}
        self.results_sent = 0
        self.activity: dict[str, float] = {}     # call id -> when its last event arrived (monotonic)
        self._reaped: set[str] = set()
        self.reaped = 0
        self._reaper: asyncio.Task | None = None

    async def start(self) -> None:
        bus = self.bus
        self.replies = await bus.reply_queue("voicemail")
        self.events = await bus.consumer(unique_queue_name("voicemail_events"), exclusive=True, prefetch=256)
        self.events.on_any(self._on_event)
        await self.events.start()
        self.actions = await bus.consumer(self.queue_name, exclusive=False, auto_delete=True,
                                          on_invalid=self._on_invalid_action)
        await self.actions.bind(KAPPS, callflow_action_key("voicemail"))
        self.actions.on(m.ACTION_EXECUTE, self._on_action)
        await self.actions.start()
        self._reaper = asyncio.get_running_loop().create_task(reap_idle_forever(self._idle_limit, self.reap_idle),
                                                               name="voicemail-reaper")

    @property
    def running(self) -> bool:
        return all(c is not None and c.running for c in (self.actions, self.events)) and \
            self.replies is not None and self.replies.consumer.running

    # -- events ------------------------------------------------------------------------------

    async def _on_event(self, message: Message) -> None:
        # no await before put(): events keep their arrival order
        stream = self.streams.get(message.call_id or "")
        if stream is not None:
            stream.put(message)
            self.activity[stream.call_id] = time.monotonic()

    # -- actions -----------------------------------------------------------------------------

    async def _on_invalid_action(self, body: Mapping[str, Any] | None, exc: InvalidMessage) -> None:
        if not isinstance(body, Mapping) or body.get("Event-Category") != "callflow" \
                or body.get("Event-Name") != "action.execute":
            return
        fields = {k: body.get(k) for k in ("Call-ID", "Msg-ID", "Server-ID")}
        if not all(isinstance(v, str) and v for v in fields.values()):
            log.warning("invalid action without Call-ID, Msg-ID and Server-ID: no result can be sent")
            return
        with bind_call(fields["Call-ID"], fields["Msg-ID"]):
            await self._send_result(fields["Server-ID"], fields["Msg-ID"], fields["Call-ID"], CONTINUE)

    async def _on_action(self, message: Message) -> None:
        call_id, msg_id, server_id = message.call_id, message.msg_id, message.server_id
        reason = invalid_reason(message)
        if reason is not None:
            log.warning("invalid voicemail action: %s; answering continue", reason)
            if server_id and call_id and msg_id:
                await self._send_result(server_id, msg_id, call_id, CONTINUE)
            return
        if call_id in self.sessions:
            log.warning("a voicemail session already runs on this call; answering continue")
            await self._send_result(server_id, msg_id, call_id, CONTINUE)
            return
        call_info = dict(message["Call"])
        call_info["Call-ID"] = call_id
        data = dict(message.get("Data") or {})
        call = self._call_factory(self.bus, call_info, self.replies, timers=self.timers)
        self.streams[call_id] = call.events
        self.activity[call_id] = time.monotonic()
        try:
            await self.events.bind(CALLEVT, call_events_binding(call_id))
            await self.bus.publish(m.ACTION_ACCEPTED, {"Msg-ID": msg_id, "Call-ID": call_id}, to=server_id)
        except Exception:
            self.streams.pop(call_id, None)
            self.activity.pop(call_id, None)
            await self._unbind(call_id)
            raise
        task = asyncio.get_running_loop().create_task(
            self._session(call, data, call_info, server_id=server_id, msg_id=msg_id),
            name=f"voicemail-{call_id}")
        self.sessions[call_id] = task
        self._count_sessions()
        task.add_done_callback(lambda t: self._session_done(call_id, t))
        log.info("voicemail action %r taken", data.get("action") or "compose")

    def _session_done(self, call_id: str, task: asyncio.Task) -> None:
        if self.sessions.get(call_id) is task:
            del self.sessions[call_id]
            self._count_sessions()
        if not task.cancelled() and task.exception() is not None:
            log.error("voicemail session task of %s failed", call_id, exc_info=task.exception())

    async def _session(self, call: BusCallControl, data: Mapping[str, Any], call_info: Mapping[str, Any], *,
                       server_id: str, msg_id: str) -> None:
        call_id = call.call_id
        result = CONTINUE
        with bind_call(call_id, msg_id):
            try:
                result = await self._run_session(call, data, call_info)
            except Hangup:
                log.info("caller hung up during the voicemail session")
            except asyncio.CancelledError:
                if call_id not in self._reaped:
                    log.warning("voicemail session cancelled (drain timeout); answering continue")
                    raise
                log.warning("voicemail session reaped: no call event for too long; answering stop")
                result = REAPED
            except Exception:
                log.exception("voicemail session failed; answering continue")
            finally:
                try:
                    await asyncio.shield(self._finish(call_id, server_id, msg_id, result))
                except Exception:
                    log.exception("sending the voicemail result failed")

    def _count_sessions(self) -> None:
        """``kzvoice_voicemail_active_sessions``: the sessions running in this process."""
        metrics = getattr(self.bus, "metrics", None)
        if metrics is not None:
            metrics.active_sessions.set(len(self.sessions))

    async def _finish(self, call_id: str, server_id: str, msg_id: str, result: ActionResult) -> None:
        try:
            await self._send_result(server_id, msg_id, call_id, result)
        finally:
            self.streams.pop(call_id, None)
            self.activity.pop(call_id, None)
            self._reaped.discard(call_id)
            await self._unbind(call_id)

    async def _send_result(self, server_id: str, msg_id: str, call_id: str, result: ActionResult) -> None:
        text, kind = encode_result_or_continue(result)
        await self.bus.publish(m.ACTION_RESULT, {"Msg-ID": msg_id, "Call-ID": call_id, "Result": text},
                               to=server_id)
        self.results_sent += 1
        log.info("voicemail result %s sent", kind)

    async def _unbind(self, call_id: str) -> None:
        try:
            await self.events.unbind(CALLEVT, call_events_binding(call_id))
        except Exception as exc:  # the connection may be gone; the queue dies with it
            log.debug("unbinding events of %s: %s", call_id, exc)

    # -- abandoned sessions ----------------------------------------------------------------------

    async def _idle_limit(self) -> float:
        if self._idle_timeout_s is None:
            return float(SESSION_IDLE_TIMEOUT_S)
        try:
            return float(await self._idle_timeout_s())
        except Exception as exc:
            log.debug("reaper: no idle timeout (%s); using the default", exc)
            return float(SESSION_IDLE_TIMEOUT_S)

    def reap_idle(self, idle_s: float) -> int:
        """Cancel every session whose call was silent for more than ``idle_s`` seconds."""
        now = time.monotonic()
        count = 0
        for call_id, task in list(self.sessions.items()):
            last = self.activity.get(call_id, now)
            if call_id in self._reaped or task.done() or now - last <= idle_s:
                continue
            with bind_call(call_id, None):
                log.warning("voicemail session of %s: no call event for %.0f s; presumed abandoned", call_id,
                            now - last)
            self._reaped.add(call_id)
            self.reaped += 1
            task.cancel()
            count += 1
        return count

    # -- stopping ----------------------------------------------------------------------------

    async def stop(self, drain_timeout: float, *, close: bool = True) -> bool:
        """Stop taking actions; let running sessions end within ``drain_timeout``; cancel the rest.

        With ``close=False`` the event queue and the reply queue stay open (work that outlives its
        session, such as a message upload, still needs the replies) until ``close()``."""
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None
        if self.actions is not None:
            await self.actions.stop(drain_timeout)
        drained = True
        tasks = list(self.sessions.values())
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=drain_timeout)
            if pending:
                drained = False
                log.warning("%d voicemail session(s) still running after %.1fs; cancelling", len(pending),
                            drain_timeout)
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=5.0)
        if close:
            await self.close()
        return drained

    async def close(self) -> None:
        """Close the event queue and the reply queue (after ``stop``)."""
        if self.events is not None:
            await self.events.stop(1.0)
        if self.replies is not None:
            await self.replies.close()
