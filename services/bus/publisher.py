"""Build, validate and publish declared messages (bus.md 2.2-2.5, 1.5).

``Publisher.publish(spec, fields, to=...)`` fills the default envelope (a fresh
``Msg-ID`` too, except for a reply whose declaration requires ``Msg-ID``: it must
carry its request's, and raises ``InvalidMessage`` without it), strips
empty values the way KAZOO does, validates the result against our schema (an
invalid outgoing message is a bug and raises), and publishes it on the spec's
exchange with the spec's routing key.  Point-to-point messages name their
destination with ``to``; a ``pid://`` address is split here.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from services.bus import codec
from services.exchanges import split_address
from services.bus.transport import Transport
from services.messages.errors import InvalidMessage
from services.messages.spec import MessageSpec

log = logging.getLogger(__name__)

_KEEP_EMPTY = frozenset(("Server-ID", "Msg-ID"))


def new_msg_id() -> str:
    """32 random lower-case hex characters, as KAZOO fills a missing Msg-ID."""
    return os.urandom(16).hex()


def strip_empty(value: Any, *, keep: tuple[str, ...] = (), top: bool = True) -> Any:
    """Drop keys whose value is ``None`` or ``""`` (recursively); ``[]``, ``{}``, 0 and false stay.

    Top-level keys named in ``keep`` (a spec's data fields) are left exactly as given."""
    if not top:
        return _strip_nested(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in keep:
                out[k] = v
            elif v is not None and v != "":
                # only containers are walked: a scalar is kept as it is, without a call per value
                out[k] = _strip_nested(v) if isinstance(v, (dict, list)) else v
            elif k in _KEEP_EMPTY and v is not None:
                out[k] = v
        return out
    if isinstance(value, list):
        return [_strip_nested(v) for v in value]
    return value


def _strip_nested(value: Any) -> Any:
    """``strip_empty`` below the top level (no ``keep``, no kept empty envelope keys)."""
    if isinstance(value, dict):
        return {k: (_strip_nested(v) if isinstance(v, (dict, list)) else v)
                for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [_strip_nested(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


class Publisher:
    def __init__(self, transport: Transport, validator, *, app_name: str, app_version: str, node: str,
                 server_id: str | None = None, metrics=None) -> None:
        self._transport = transport
        self._validator = validator
        self.app_name = app_name
        self.app_version = app_version
        self.node = node
        self.server_id = server_id
        self._metrics = metrics
        self._published: dict[str, Any] = {}     # spec key -> its counter (labels() takes a lock each call)

    def build(self, spec: MessageSpec, fields: Mapping[str, Any], *, server_id: str | None = None) -> dict[str, Any]:
        """The message body as it goes on the wire, validated."""
        body: dict[str, Any] = {
            "Event-Category": spec.category,
            "Event-Name": spec.name,
            "App-Name": self.app_name,
            "App-Version": self.app_version,
            "Node": self.node,
        }
        body.update(spec.values)
        sid = server_id or self.server_id
        if sid:
            body["Server-ID"] = sid
        body.update(fields)
        if not body.get("Msg-ID"):
            if "Msg-ID" in spec.required:
                # a reply is matched to its request by Msg-ID: a fresh one would be ignored by the requester
                raise InvalidMessage(f"{spec.key} must carry the Msg-ID of the request it answers",
                                     reason="missing_msg_id")
            body["Msg-ID"] = new_msg_id()
        body = strip_empty(body, keep=spec.data_fields)
        self._validator.validate(spec, body)
        return body

    async def publish(self, spec: MessageSpec, fields: Mapping[str, Any], *, to: str | None = None,
                      server_id: str | None = None, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Publish and return the body that was sent (its Msg-ID correlates replies).

        ``headers`` are AMQP headers of ours beside the body (e.g. services.config.propagation's
        stamp); KAZOO reads only the body."""
        body = self.build(spec, fields, server_id=server_id)
        await self.send(spec, body, to=to, headers=headers)
        return body

    async def send(self, spec: MessageSpec, body: Mapping[str, Any], *, to: str | None = None,
                   headers: Mapping[str, Any] | None = None) -> None:
        """Publish an already built body."""
        headers = dict(headers) if headers else {}
        destination = None
        if to is not None:
            destination, pid = split_address(to)
            if pid:
                headers["Deliver-To-PID"] = pid
        routing_key = spec.routing_key(body, destination)
        if spec.call_event and body.get("Call-ID"):
            headers["call-id"] = body["Call-ID"]
        await self._transport.publish(spec.exchange, routing_key, codec.encode(body), headers=headers or None,
                                      mandatory=spec.mandatory, wait_for_confirm=spec.wait_for_confirm)
        if self._metrics is not None:
            counter = self._published.get(spec.key)
            if counter is None:
                counter = self._published[spec.key] = self._metrics.published.labels(spec.key)
            counter.inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("published %s on %s key %s", spec.key, spec.exchange.name, routing_key)
