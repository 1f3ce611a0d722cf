"""How a message is declared, and the typed object a consumer receives.

A ``MessageSpec`` says everything kzvoice knows about one KAZOO message:
category and name, the exchange and how its routing key is built, the keys it
requires and allows, fixed values, and the schema file that validates it.
Publishers build from it, consumers bind and validate from it, and the contract
test compares it with KAZOO's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

from services.exchanges import Exchange

# Default headers every message carries (bus.md 2.2).
DEFAULT_HEADERS = ("Event-Category", "Event-Name", "App-Name", "App-Version", "Msg-ID")
OPTIONAL_DEFAULT_HEADERS = (
    "Node", "Server-ID", "Account-ID", "Call-ID", "Access-Group", "Defer-Response",
    "Destination-Server", "Geo-Location", "Log-ID", "Server-Queue-ID", "Raw-Headers",
    "Request-From-PID", "Reply-To-PID", "AMQP-Broker", "AMQP-Broker-Zone", "Deliver-To-PID",
)

# A routing-key builder gets the message body and, for point-to-point
# messages, the destination address (already stripped of ``pid://``).
RoutingKey = Callable[[Mapping[str, Any], "str | None"], str]


def to_destination(body: Mapping[str, Any], destination: str | None) -> str:
    """Routing key of point-to-point messages: the destination queue name."""
    if not destination:
        raise ValueError("this message is point-to-point: give a destination queue")
    return destination


@dataclass(frozen=True)
class MessageSpec:
    key: str                       # unique id in the catalogue, e.g. "route.req", "command.play"
    category: str                  # Event-Category
    name: str                      # Event-Name
    exchange: Exchange
    routing_key: RoutingKey
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)   # fixed values (besides EC/EN)
    schema: str = ""               # file under schemas/messages/
    kazoo_schema: str | None = None  # KAZOO's schema of the same message, for the contract test
    mandatory: bool = False        # AMQP mandatory flag (action.execute, doc_type_update)
    call_event: bool = False       # publish with the ``call-id`` AMQP header
    # publish() returns once the broker confirmed the message (True), or once it is queued on the
    # channel, with the confirm awaited in the background and the message sent again if the
    # connection is lost first (False: call commands and media replies, whose sender is a call
    # waiting on the line; KAZOO itself publishes without confirms)
    wait_for_confirm: bool = True
    # top-level fields that are data, not envelope: sent exactly as given, so an
    # empty string or null survives (a sysconf ``Value``, config.md 2.4 and 4.4)
    data_fields: tuple[str, ...] = ()
    description: str = ""

    @property
    def targeted(self) -> bool:
        return self.routing_key is to_destination

    def selector(self) -> tuple[str, str, str | None]:
        """What a consumer dispatches on: (category, name, Application-Name or None)."""
        return (self.category, self.name, self.values.get("Application-Name"))


class Message(Mapping[str, Any]):
    """A validated incoming (or built outgoing) message: read-only mapping plus accessors."""

    __slots__ = ("spec", "_body", "headers", "routing_key")

    def __init__(self, spec: MessageSpec, body: Mapping[str, Any], *,
                 headers: Mapping[str, Any] | None = None, routing_key: str = "") -> None:
        self.spec = spec
        self._body = body
        self.headers = MappingProxyType(dict(headers or {}))
        self.routing_key = routing_key

    def __getitem__(self, key: str) -> Any:
        return self._body[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._body)

    def get(self, key: str, default: Any = None) -> Any:
        # the dict's own lookup: Mapping.get goes through __getitem__ and a KeyError per miss
        return self._body.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._body

    def __len__(self) -> int:
        return len(self._body)

    def __repr__(self) -> str:
        return f"<Message {self.spec.key} msg_id={self.msg_id!r} call_id={self.call_id!r}>"

    @property
    def body(self) -> Mapping[str, Any]:
        return MappingProxyType(self._body)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._body)

    @property
    def msg_id(self) -> str:
        return self._body.get("Msg-ID", "")

    @property
    def server_id(self) -> str | None:
        return self._body.get("Server-ID") or None

    @property
    def call_id(self) -> str | None:
        return self._body.get("Call-ID") or None

    @property
    def node(self) -> str | None:
        return self._body.get("Node") or None
