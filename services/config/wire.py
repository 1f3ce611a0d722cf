"""sysconf replies whose ``Value`` is the empty string (config.md 2.4, CFG-013).

config.md answers a stored ``""`` with ``"Value": ""`` (ours; KAZOO sends
nothing), while the shared message schemas treat an empty required value as
missing (bus.md 2.3's general rule).  config.md is authoritative on sysconf,
so the config code carries that one case across the schema check: the reply
is validated with a stand-in value and sent with ``""``; receivers in the
config client and the operator tool validate it the same way.
"""

from __future__ import annotations

from typing import Any, Mapping

from services.messages import catalogue

_STAND_IN = "\u0000empty"
REPLY_KEYS = frozenset(("sysconf.get_resp", "sysconf.set_resp"))


def _stand_in(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**body, "Value": _STAND_IN}


async def publish_reply(bus, spec_key: str, fields: dict[str, Any], *, to: str) -> dict[str, Any]:
    """Publish a get_resp/set_resp, allowing ``"Value": ""``."""
    spec = catalogue.get(spec_key)
    if fields.get("Value") != "":
        return await bus.publish(spec, fields, to=to)
    body = bus.publisher.build(spec, _stand_in(fields))
    body["Value"] = ""
    await bus.publisher.send(spec, body, to=to)
    return body


class ReplyValidator:
    """A validator for reply queues that accepts ``"Value": ""`` in sysconf replies; otherwise the same."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def validate(self, spec, body: Mapping[str, Any]) -> None:
        if spec.key in REPLY_KEYS and isinstance(body, Mapping) and body.get("Value") == "":
            body = _stand_in(body)
        self._inner.validate(spec, body)

    def parse(self, body: Mapping[str, Any], *, headers: Mapping[str, Any] | None = None, routing_key: str = ""):
        from services.messages.spec import Message
        spec = self._inner.identify(body)
        self.validate(spec, body)
        return Message(spec, body, headers=headers, routing_key=routing_key)


async def reply_queue(bus, prefix: str):
    """A started reply queue on ``bus`` whose validator is :class:`ReplyValidator`; the caller closes it."""
    from services.bus.rpc import ReplyQueue
    queue = ReplyQueue(bus.transport, ReplyValidator(bus.validator), bus.publisher, prefix=prefix,
                       metrics=bus.metrics)
    await queue.start()
    return queue
