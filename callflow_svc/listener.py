"""callflow_svc's queues, their bindings, and the table from message to handler (bus.md 1.3).

* the instance queue ``callflow_route_<32 hex>`` (KAZOO's name, flags and
  arguments: non-durable, non-exclusive, auto-delete, x-max-length 100,
  x-message-ttl 60 s): ``callmgr`` ``route.req.audio.*`` and
  ``route.req.video.*``, ``targeted`` under its own name (route_win, action
  replies), and ``callevt`` ``call.*.<Call-ID>`` per call while it is ours;
* an exclusive, auto-delete queue on ``callevt`` ``call.CHANNEL_DESTROY.*``, so
  that a call destroyed between our route_resp and its route_win is seen without
  a bind round trip on the routing path (docs/deviations.md, callflow);
* an exclusive, auto-delete queue on ``configuration`` for the cache:
  callflow documents, and the account, device and user documents routing reads.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

from services.bus import unique_queue_name
from services.exchanges import CALLEVT, CALLMGR, CONFIGURATION, call_events_binding, doc_binding
from services.messages import catalogue
from services.messages.spec import Message
from services.store import layout

log = logging.getLogger(__name__)

DESTROY = "CHANNEL_DESTROY"
ROUTE_BINDINGS = ("route.req.audio.*", "route.req.video.*")
CACHE_DOC_TYPES = ("callflow", "account", "device", "user")
CALL_MESSAGES = tuple(catalogue.CALL_EVENTS.values()) + (
    catalogue.USURP_CONTROL, catalogue.DIALPLAN_ERROR, catalogue.ACTION_ACCEPTED, catalogue.ACTION_RESULT)

Handler = Callable[[Message], Awaitable[None]]


class CallflowListener:
    def __init__(self, bus, queue, *, route_req: Handler, route_win: Handler, calls, cache) -> None:
        self._bus = bus
        self.queue = queue                  # a ReplyQueue named callflow_route_<hex>, not yet started
        self._calls = calls
        self._cache = cache
        self._cache_queue = None
        self._destroy_queue = None
        self._stop_listening = None
        self.handlers: dict[tuple[str, str], Handler] = {
            (catalogue.ROUTE_REQ.category, catalogue.ROUTE_REQ.name): route_req,
            (catalogue.ROUTE_WIN.category, catalogue.ROUTE_WIN.name): route_win,
        }
        for spec in CALL_MESSAGES:
            self.handlers[(spec.category, spec.name)] = self._call_message
        self._specs = {(s.category, s.name): s for s in (catalogue.ROUTE_REQ, catalogue.ROUTE_WIN) + CALL_MESSAGES}

    async def start(self) -> None:
        self._stop_listening = self._bus.transport.on_reconnect(self._reconnected)
        self._cache_queue = await self._bus.consumer(unique_queue_name("callflow-cache"), exclusive=True,
                                                     auto_delete=True)
        for doc_type in CACHE_DOC_TYPES:
            await self._cache_queue.bind(CONFIGURATION, doc_binding(doc_type=doc_type))
        for name in ("doc_created", "doc_edited", "doc_deleted"):
            self._cache_queue.on(catalogue.DOC_CHANGES[name], self.on_doc_change)
        await self._cache_queue.start(exclusive=True)

        self._destroy_queue = await self._bus.consumer(unique_queue_name("callflow-destroy"), exclusive=True,
                                                       auto_delete=True, prefetch=256)
        await self._destroy_queue.bind(CALLEVT, call_events_binding("*", DESTROY))
        self._destroy_queue.on(catalogue.CALL_EVENTS[DESTROY], self._destroyed)
        await self._destroy_queue.start(exclusive=True)

        for key, handler in self.handlers.items():
            self.queue.on(self._specs[key], handler)
        await self.queue.start()
        for binding in ROUTE_BINDINGS:
            await self.queue.consumer.bind(CALLMGR, binding)
        log.info("callflow consuming %s (%s)", self.queue.name, ", ".join(ROUTE_BINDINGS))

    @property
    def running(self) -> bool:
        return all(q is not None and q.running for q in (self._cache_queue, self._destroy_queue)) and \
            self.queue.consumer.running

    async def stop_consuming(self, drain_timeout: float) -> bool:
        drained = await self.queue.consumer.stop(drain_timeout)
        for queue in (self._cache_queue, self._destroy_queue):
            if queue is not None:
                drained = await queue.stop(drain_timeout) and drained
        return drained

    async def close(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        await self.queue.close()

    # -- dispatch -------------------------------------------------------------------------------

    def _reconnected(self) -> None:
        """Document change events may have been missed while the connection was down."""
        log.warning("broker connection re-established; dropping the routing cache")
        self._cache.flush_all()

    async def _destroyed(self, message: Message) -> None:
        self._calls.deliver_destroy(message)

    async def _call_message(self, message: Message) -> None:
        self._calls.deliver(message)

    async def on_doc_change(self, message: Message) -> None:
        parts = layout.parse_account_db(message["Database"])
        if parts is None or parts[1] is not None:
            return
        account_id = parts[0]
        is_callflow = message.get("Type") == "callflow"
        self._cache.flush_account(account_id, doc_id=message["ID"], routing=is_callflow)
        log.info("%s %s in account %s: %s", message.spec.name, message["ID"], account_id,
                 "numbers and patterns flushed" if is_callflow else "document flushed")
