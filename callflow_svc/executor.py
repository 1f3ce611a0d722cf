"""Running a flow for one call (callflow.md 3.4-3.6).

The executor alone moves through the flow: it launches a node, lets the
node's action run, and applies the outcome the action returns (``Continue``,
``Branch``, ``Stop``, ...).  An action talks to the call through an
``ActionContext``: it sends commands and reads the call's events as one
ordered stream that starts when the action starts (bus.md 4.3).

Events reach the executor through ``deliver`` (called by the listener, in
arrival order).  ``CHANNEL_DESTROY`` marks the call destroyed and is passed to
the running action; a ``usurp_control`` with another Fetch-ID ends the call at
once, without hangup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Awaitable, Callable

from callflow_svc import outcomes as o
from callflow_svc.call import Call
from callflow_svc.config import CallflowConfig
from services.bus import Bus
from services.messages import catalogue
from services.messages.spec import Message
from services.routing import Lookup

log = logging.getLogger(__name__)

HANGUP_EVENTS = frozenset(("CHANNEL_DESTROY", "CHANNEL_DISCONNECTED"))

Action = Callable[["ActionContext"], Awaitable[o.Outcome]]


@dataclass(frozen=True)
class ExecutorDeps:
    """What every call's executor shares: the bus, lookups, config and the action table."""

    bus: Bus
    lookup: Lookup
    config: CallflowConfig
    local_actions: Mapping[str, Action]
    remote_action: Action
    remote_modules: frozenset[str]
    server_id: str


def children_of(node: Mapping[str, Any]) -> Mapping[str, Any]:
    children = node.get("children") if isinstance(node, Mapping) else None
    return children if isinstance(children, Mapping) else {}


def data_of(node: Mapping[str, Any]) -> dict[str, Any]:
    data = node.get("data") if isinstance(node, Mapping) else None
    return dict(data) if isinstance(data, Mapping) else {}


def is_true(value: Any) -> bool:
    return value is True or value == "true"


class ActionContext:
    """One action's view of the call: its data, commands out, events in."""

    def __init__(self, executor: "Executor", node: Mapping[str, Any]) -> None:
        self._executor = executor
        self.node = node
        self.module = node.get("module", "")
        self.data = data_of(node)
        self.call: Call = executor.call
        self.deps = executor.deps
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()

    @property
    def root_flow(self) -> Mapping[str, Any]:
        return self._executor.root_flow

    @property
    def destroyed(self) -> bool:
        return self._executor.destroyed

    async def command(self, application: str, **fields: Any) -> dict[str, Any]:
        """Send one call command to the call's control queue; returns the body sent."""
        return await self._executor.command(application, fields)

    async def next_event(self, timeout: float | None = None) -> Message:
        if timeout is None:
            return await self.inbox.get()
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def wait_for(self, wanted: Callable[[Message], bool], timeout: float | None = None) -> Message:
        """The first event ``wanted`` accepts; events before it are consumed and dropped.
        ``asyncio.TimeoutError`` after ``timeout`` seconds (counted over the whole wait)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            message = await self.next_event(remaining)
            if wanted(message):
                return message


class Executor:
    def __init__(self, call: Call, flow: Mapping[str, Any], deps: ExecutorDeps) -> None:
        self.call = call
        self.root_flow = flow
        self.deps = deps
        self.destroyed = False
        self.ended = False
        self._usurped = asyncio.Event()
        self._context: ActionContext | None = None
        self.commands_sent = 0
        self.hangup_sent = False            # a hangup of this channel went out (an action's or ours)
        self.last_activity = time.monotonic()   # last event delivered or command sent (the reaper reads it)
        self.reaped = False

    def reap(self) -> None:
        """End an abandoned call (no event for too long): the running action is cancelled, a hangup
        is sent (harmless if the channel is gone) and the flow ends."""
        self.reaped = True
        self._usurped.set()

    # -- events in ------------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """One message of this call, in arrival order (no awaiting here)."""
        self.last_activity = time.monotonic()
        if message.spec is catalogue.USURP_CONTROL:
            if message.get("Fetch-ID") != self.call.fetch_id:
                log.info("control of the call taken by fetch %s; ending without hangup", message.get("Fetch-ID"))
                self._usurped.set()
            return
        if message.spec.category == "call_event" and message.spec.name in HANGUP_EVENTS:
            if self.destroyed:
                return                      # the same destroy through the instance-wide destroy queue
            self.destroyed = True
        if self._context is not None:
            self._context.inbox.put_nowait(message)

    # -- commands out -----------------------------------------------------------------------

    async def command(self, application: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        body = {"Call-ID": self.call.call_id, **fields}
        if self.call.fields.get("Account-ID"):
            body.setdefault("Account-ID", self.call.account_id)
        sent = await self.deps.bus.publish(catalogue.COMMANDS[application], body, to=self.call.control_queue,
                                           server_id=self.deps.server_id)
        self.commands_sent += 1
        self.last_activity = time.monotonic()
        if application == "hangup" and not is_true(fields.get("Other-Leg-Only")):
            self.hangup_sent = True
        return sent

    async def hangup(self, cause: str | None = None) -> None:
        """A queued hangup: no Insert-At, so it runs after pending media (callflow.md 3.4).

        Nothing when the channel is already gone or already got its hangup (the ``hangup``
        module's own): a second one only makes the gateway log "hangup after hangup"."""
        if self.destroyed or self.hangup_sent:
            return
        await self.command("hangup", {"Hangup-Cause": cause} if cause else {})

    # -- the flow ----------------------------------------------------------------------------

    async def run(self) -> None:
        node: Mapping[str, Any] = self.root_flow
        stack: list[Mapping[str, Any]] = []
        budget = await self.deps.config.max_branch_count()
        while True:
            if self.reaped:
                return await self._end_with_hangup()
            if self.destroyed or self._usurped.is_set():
                return self._end()
            outcome = await self._launch(node)
            if self.reaped:
                return await self._end_with_hangup()
            if isinstance(outcome, (o.Transfer, o.Usurped)) or self.destroyed:
                return self._end()
            if isinstance(outcome, o.Continue):
                children = children_of(node)
                child = children.get(outcome.key)
                if child is None and outcome.key != o.DEFAULT_CHILD:
                    child = children.get(o.DEFAULT_CHILD)
                if child is not None:
                    node = child if isinstance(child, Mapping) else {}
                    continue
                outcome = o.Stop()
            if isinstance(outcome, o.Branch):
                if budget <= 0:
                    log.warning("branch budget exhausted; ending the call")
                    return await self._end_with_hangup()
                budget -= 1
                back = children_of(node).get(o.DEFAULT_CHILD)
                if isinstance(back, Mapping) and back:
                    stack.append(back)
                node = outcome.flow
                continue
            if isinstance(outcome, o.ContinueWithFlow):
                node = outcome.flow
                continue
            if isinstance(outcome, o.Stop):
                if stack:
                    node = stack.pop()
                    continue
                if outcome.cause:
                    await self.hangup(outcome.cause)
                    return self._end()
                return await self._end_with_hangup()
            return await self._end_with_hangup()        # HardStop (and anything unforeseen)

    async def _launch(self, node: Mapping[str, Any]) -> o.Outcome:
        if not isinstance(node, Mapping) or not node:
            return o.Stop()
        module = node.get("module")
        if is_true(data_of(node).get("skip_module")):
            log.info("skipping module %s", module)
            return o.Continue()
        if is_true(node.get("remote_execution")) or module in self.deps.remote_modules:
            action = self.deps.remote_action
        else:
            action = self.deps.local_actions.get(module) if isinstance(module, str) else None
        if action is None:
            log.info("module %r is not implemented here; skipping it", module)
            return o.Continue()
        context = ActionContext(self, node)
        self._context = context
        self.call.kvs["cf_old_action"] = self.call.kvs.get("cf_last_action")
        self.call.kvs["cf_last_action"] = module
        task = asyncio.create_task(action(context), name=f"cf-{module}-{self.call.call_id}")
        usurp = asyncio.create_task(self._usurped.wait())
        try:
            await asyncio.wait({task, usurp}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            usurp.cancel()
            self._context = None
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return o.Usurped()
        if task.cancelled():
            return o.Usurped()
        exc = task.exception()
        if exc is not None:
            log.error("module %s failed; continuing with '_'", module, exc_info=exc)
            return o.Continue()
        return task.result()

    async def _end_with_hangup(self) -> None:
        await self.hangup()
        self._end()

    def _end(self) -> None:
        self.ended = True
