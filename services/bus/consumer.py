"""Consume one queue with one ack policy.

Every delivery is decoded, identified and validated here, once.  Then:

* invalid input (not JSON, wrong content type, missing default header,
  schema failure, unknown message) -> rejected without requeue, one log line
  saying why, counted in ``kzvoice_messages_rejected_total{reason}``;
* a valid message with a handler -> the handler runs with the Call-ID and
  Msg-ID bound to its log lines; acked when it returns; rejected without
  requeue (and logged with its traceback) if it raises, so a poison message
  cannot loop;
* a valid message nobody handles here -> acked and logged at debug.

``stop()`` cancels the consumer and waits for handlers in flight, which is how
SIGTERM drains a service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping

from services.bus import codec
from services.exchanges import Exchange
from services.bus.transport import Delivery, Transport
from services.logging import call_id_var, msg_id_var
from services.messages.errors import InvalidMessage
from services.messages.spec import Message, MessageSpec

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]
# Called with the decoded body (None if it did not decode) and the error,
# before an invalid message is rejected; lets a service answer what it must
# (e.g. an invalid action.execute still gets a ``continue`` result).
InvalidHook = Callable[[Mapping[str, Any] | None, InvalidMessage], Awaitable[None]]


class Consumer:
    def __init__(self, transport: Transport, validator, queue: str, *, metrics=None,
                 prefetch: int = 64, on_invalid: InvalidHook | None = None,
                 on_stop: Callable[["Consumer"], None] | None = None) -> None:
        self._transport = transport
        self._validator = validator
        self.queue = queue
        self._metrics = metrics
        self._prefetch = prefetch
        self._on_invalid = on_invalid
        self._on_stop = on_stop
        self._handlers: dict[str, Handler] = {}
        self._default: Handler | None = None
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # metric children per message kind: prometheus' labels() takes a lock and builds a key on every call
        self._consumed: dict[str, Any] = {}
        self._handle_seconds = metrics.handle_seconds.labels(queue) if metrics is not None else None

    def on(self, spec: MessageSpec, handler: Handler) -> "Consumer":
        self._handlers[spec.key] = handler
        return self

    def on_any(self, handler: Handler) -> "Consumer":
        """Handle every valid message that has no handler of its own."""
        self._default = handler
        return self

    @property
    def handled(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def bind(self, exchange: Exchange, routing_key: str) -> None:
        await self._transport.declare_exchange(exchange)
        await self._transport.bind(self.queue, exchange, routing_key)

    async def unbind(self, exchange: Exchange, routing_key: str) -> None:
        await self._transport.unbind(self.queue, exchange, routing_key)

    async def start(self, *, exclusive: bool = False) -> None:
        if self._tag is None:
            self._tag = await self._transport.consume(self.queue, self._on_delivery, prefetch=self._prefetch,
                                                      exclusive=exclusive)

    @property
    def running(self) -> bool:
        return self._tag is not None

    async def stop(self, drain_timeout: float = 10.0) -> bool:
        """Stop taking messages and wait for handlers in flight; False if they outlived the timeout."""
        if self._on_stop is not None:
            self._on_stop(self)
            self._on_stop = None
        if self._tag is not None:
            tag, self._tag = self._tag, None
            try:
                await self._transport.cancel(tag)
            except Exception as exc:  # the connection may already be gone; nothing more to cancel
                log.debug("cancel of %s on %s failed: %s", tag, self.queue, exc)
        try:
            await asyncio.wait_for(self._idle.wait(), drain_timeout)
            return True
        except asyncio.TimeoutError:
            log.warning("%d handler(s) on %s still running after %.1fs", self._in_flight, self.queue, drain_timeout)
            return False

    def _reject_count(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.rejected.labels(self.queue, reason).inc()

    async def _on_delivery(self, delivery: Delivery) -> None:
        # Log lines of a delivery name its own message only: the task it runs in may have been
        # started under another call (the in-memory broker delivers from the publisher's task).
        call_token = call_id_var.set(None)
        msg_token = msg_id_var.set(None)
        try:
            body: dict[str, Any] | None = None
            try:
                body = codec.decode(delivery.body, content_type=delivery.content_type,
                                    content_encoding=delivery.content_encoding)
                spec = self._validator.identify(body)
                self._validator.validate(spec, body)
                message = Message(spec, body, headers=delivery.headers, routing_key=delivery.routing_key)
            except InvalidMessage as exc:
                self._reject_count(exc.reason)
                log.warning("dropped message on %s (key %s): %s: %s", self.queue, delivery.routing_key,
                            exc.reason, exc.detail)
                if self._on_invalid is not None:
                    try:
                        await self._on_invalid(body, exc)
                    except Exception:
                        log.exception("answering an invalid message on %s failed", self.queue)
                await delivery.reject(requeue=False)
                return

            handler = self._handlers.get(message.spec.key) or self._default
            if handler is None:
                log.debug("no handler for %s on %s; acked", message.spec.key, self.queue)
                await delivery.ack()
                return

            self._in_flight += 1
            self._idle.clear()
            started = time.perf_counter()
            # the Call-ID and Msg-ID on the handler's log lines (reset below)
            call_id_var.set(message.call_id)
            msg_id_var.set(message.msg_id or None)
            try:
                try:
                    await handler(message)
                except asyncio.CancelledError:
                    await delivery.reject(requeue=False)
                    raise
                except Exception:
                    log.exception("handler for %s on %s failed; message dropped", message.spec.key, self.queue)
                    if self._metrics is not None:
                        self._metrics.handler_errors.labels(self.queue, message.spec.key).inc()
                    await delivery.reject(requeue=False)
                    return
                await delivery.ack()
                if self._metrics is not None:
                    key = message.spec.key
                    counter = self._consumed.get(key)
                    if counter is None:
                        counter = self._consumed[key] = self._metrics.consumed.labels(self.queue, key)
                    counter.inc()
                    self._handle_seconds.observe(time.perf_counter() - started)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()
        finally:
            msg_id_var.reset(msg_token)
            call_id_var.reset(call_token)
