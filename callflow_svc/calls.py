"""The calls this instance holds: answered route_reqs waiting for their win, and running flows.

* ``watch``/``unwatch`` bind and unbind ``callevt`` ``call.*.<encoded Call-ID>``
  on the instance's queue once the call is won, before its first node runs.
  Before the win, the call's ``CHANNEL_DESTROY`` reaches us through the
  instance's ``call.CHANNEL_DESTROY.*`` queue (see ``listener.py``), which is
  bound before any route_resp goes out (callflow.md 3.2; docs/deviations.md);
* ``expect_win`` keeps a routed call until its route_win, its destroy, or the
  ``route_win_timeout``; ``take_win`` hands it over once;
* ``start`` runs a call's flow as a task owned here: its failure is logged,
  its end unbinds the call's events, ``drain`` waits for all at shutdown;
* ``deliver`` routes one event or action reply to the call it belongs to;
* a reaper (``start_reaper``) ends running calls that saw no event and sent no
  command for the configured idle time (``callflow`` ``session_idle_timeout``,
  seconds, default 3600; 0 turns it off): a gateway that vanished without
  ``CHANNEL_DESTROY`` must not leave the call here for ever (ours).
"""

from __future__ import annotations

from services.tasks import OwnedTasks, reap_idle_forever

import asyncio
import logging
import time
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Awaitable, Callable

from callflow_svc.call import Call
from callflow_svc.executor import Executor, ExecutorDeps
from services.bus import BusError
from services.exchanges import CALLEVT, call_events_binding
from services.logging import bind_call, call_context
from services.messages.spec import Message
from services.routing.lookup import Found

log = logging.getLogger(__name__)



@dataclass
class PendingWin:
    call: Call
    found: Found
    flow: Mapping[str, Any]
    fetch_id: str                       # the route_req's Msg-ID
    deadline: float = 0.0               # loop time after which its route_win no longer counts


def event_fetch_id(message: Message) -> str | None:
    """The fetch id of an event: top-level ``Fetch-ID``, else the CCV (KAZOO kz_call_event:fetch_id/1)."""
    top = message.get("Fetch-ID")
    if isinstance(top, str) and top:
        return top
    ccvs = message.get("Custom-Channel-Vars")
    value = ccvs.get("Fetch-ID") if isinstance(ccvs, Mapping) else None
    return value if isinstance(value, str) and value else None


class Calls:
    def __init__(self, consumer, deps: ExecutorDeps, *,
                 prepare: Callable[[Call], Awaitable[None]] | None = None) -> None:
        self._consumer = consumer          # the instance queue's consumer (bind/unbind)
        self.deps = deps
        self._prepare = prepare
        self.pending: dict[str, PendingWin] = {}
        self.running: dict[str, Executor] = {}
        self._watched: set[str] = set()
        self._sweep: asyncio.TimerHandle | None = None     # the next expiry of pending wins
        self._tasks = OwnedTasks("call task")
        self._reaper: asyncio.Task | None = None
        self.reaped = 0

    # -- event bindings ---------------------------------------------------------------------

    async def watch(self, call_id: str) -> None:
        if call_id in self._watched:
            return
        self._watched.add(call_id)
        await self._consumer.bind(CALLEVT, call_events_binding(call_id))

    async def unwatch(self, call_id: str) -> None:
        if call_id not in self._watched or call_id in self.pending or call_id in self.running:
            return
        self._watched.discard(call_id)
        try:
            await self._consumer.unbind(CALLEVT, call_events_binding(call_id))
        except (BusError, Exception) as exc:  # the connection may be gone; the queue dies with it
            log.debug("unbinding events of %s: %s", call_id, exc)

    # -- waiting for the win -------------------------------------------------------------------

    def expect_win(self, pending: PendingWin, timeout_s: float) -> None:
        """Hold a routed call until its route_win, for ``timeout_s``.

        One timer serves every pending call, not one each: ``pending`` keeps insertion order, which
        is deadline order while the timeout stays the same, and the sweep forgets expired calls from
        the front.  A win is checked against its own deadline when it arrives, so a call behind a
        longer-lived one (the timeout was shortened) is never taken late, only forgotten late."""
        loop = asyncio.get_running_loop()
        call_id = pending.call.call_id
        pending.deadline = loop.time() + timeout_s
        self.pending.pop(call_id, None)          # a repeated route_req: the newest one counts, at the back
        self.pending[call_id] = pending
        if self._sweep is None:
            # the sweep serves every pending call: it must not log under the call that armed it
            self._sweep = loop.call_at(pending.deadline, self._sweep_expired, context=call_context())

    def _sweep_expired(self) -> None:
        self._sweep = None
        now = asyncio.get_running_loop().time()
        while self.pending:
            call_id, pending = next(iter(self.pending.items()))
            if pending.deadline > now:
                self._sweep = asyncio.get_running_loop().call_at(pending.deadline, self._sweep_expired)
                return
            del self.pending[call_id]
            self._forget(call_id)

    def _forget(self, call_id: str) -> None:
        with bind_call(call_id):
            log.info("no route_win for %s in time; forgetting the call", call_id)
            if call_id in self._watched:
                self._tasks.spawn(self.unwatch(call_id), name=f"unwatch-{call_id}",
                                  context=call_context(call_id))

    def take_win(self, call_id: str) -> PendingWin | None:
        pending = self.pending.pop(call_id, None)
        if pending is not None and pending.deadline <= asyncio.get_running_loop().time():
            self._forget(call_id)               # expired, and the sweep has not come round to it yet
            return None
        return pending

    # -- running ----------------------------------------------------------------------------

    def start(self, call: Call, flow: Mapping[str, Any]) -> Executor:
        executor = Executor(call, flow, self.deps)
        self.running[call.call_id] = executor
        # the flow outlives the route_win that starts it: its lines carry its Call-ID, not that Msg-ID
        self._tasks.spawn(self._run(executor), name=f"call-{call.call_id}", context=call_context(call.call_id))
        return executor

    async def _run(self, executor: Executor) -> None:
        call_id = executor.call.call_id
        with bind_call(call_id, None):
            try:
                await self.watch(call_id)
                if self._prepare is not None:
                    await self._prepare(executor.call)
                await executor.run()
            finally:
                self.running.pop(call_id, None)
                await self.unwatch(call_id)
                log.info("call %s: flow ended (%d command(s) sent)", call_id, executor.commands_sent)

    # -- abandoned calls ---------------------------------------------------------------------

    def start_reaper(self, idle_timeout_s: Callable[[], Awaitable[float]]) -> None:
        """Check running calls every quarter of the idle timeout (at most every 30 s)."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(reap_idle_forever(idle_timeout_s, self.reap_idle),
                                               name="callflow-reaper", context=call_context())

    def reap_idle(self, idle_s: float) -> int:
        """End every running call idle for more than ``idle_s`` seconds; returns how many."""
        now = time.monotonic()
        count = 0
        for call_id, executor in list(self.running.items()):
            if not executor.reaped and now - executor.last_activity > idle_s:
                with bind_call(call_id, None):
                    log.warning("call %s: no event for %.0f s; presumed abandoned, ending it", call_id,
                                now - executor.last_activity)
                executor.reap()
                self.reaped += 1
                count += 1
        return count

    async def stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None

    # -- events -------------------------------------------------------------------------------

    def deliver_destroy(self, message: Message) -> None:
        """A ``CHANNEL_DESTROY`` from the instance-wide destroy queue: only calls we hold care."""
        if message.call_id in self.pending or message.call_id in self.running:
            self.deliver(message)

    def deliver(self, message: Message) -> None:
        call_id = message.call_id
        if not call_id:
            return
        executor = self.running.get(call_id)
        if executor is not None:
            executor.deliver(message)
            return
        pending = self.pending.get(call_id)
        if pending is not None and message.spec.name in ("CHANNEL_DESTROY", "CHANNEL_DISCONNECTED"):
            if event_fetch_id(message) == pending.fetch_id:
                log.info("call %s destroyed before its route_win; nothing will run", call_id)
                self.take_win(call_id)
                if call_id in self._watched:
                    self._tasks.spawn(self.unwatch(call_id), name=f"unwatch-{call_id}")

    # -- shutdown -------------------------------------------------------------------------------

    async def drain(self, timeout: float) -> bool:
        await self.stop_reaper()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self.pending.clear()
        return await self._tasks.drain(timeout)
