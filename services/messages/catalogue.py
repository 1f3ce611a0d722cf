"""Every message kzvoice sends or receives, declared once (bus.md section 3).

Publishers, consumers, the in-memory bus and the contract test all read these
declarations.  Add a message by adding one ``_declare(...)`` call and one
schema file under ``schemas/messages/``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from services.bus import exchanges as x
from services.messages.spec import MessageSpec, to_destination

_BY_KEY: dict[str, MessageSpec] = {}
_BY_SELECTOR: dict[tuple[str, str, str | None], MessageSpec] = {}


def _declare(spec: MessageSpec) -> MessageSpec:
    if spec.key in _BY_KEY:
        raise ValueError(f"message {spec.key!r} declared twice")
    _BY_KEY[spec.key] = spec
    _BY_SELECTOR[spec.selector()] = spec
    return spec


def get(key: str) -> MessageSpec:
    return _BY_KEY[key]


def lookup(category: str, name: str, application_name: str | None = None) -> MessageSpec | None:
    """Find the declaration for an incoming message; commands also match on Application-Name."""
    return _BY_SELECTOR.get((category, name, application_name)) or _BY_SELECTOR.get((category, name, None))


def all_specs() -> Iterable[MessageSpec]:
    return _BY_KEY.values()


# ---- routing-key builders -------------------------------------------------

def _route_req_key(body: Mapping[str, Any], _dest: str | None) -> str:
    account = body.get("Account-ID") or (body.get("Custom-Channel-Vars") or {}).get("Account-ID")
    if account:
        return x.route_req_key(body.get("Resource-Type", "audio"), account_id=account)
    user, realm = x.split_user_realm(body.get("From", ""))
    return x.route_req_key(body.get("Resource-Type", "audio"), realm=realm, user=user)


# ---- 3.1 - 3.3 routing ------------------------------------------------------

ROUTE_REQ = _declare(MessageSpec(
    key="route.req", category="dialplan", name="route_req", exchange=x.CALLMGR,
    routing_key=_route_req_key,
    required=("Call-ID", "From", "To", "Request"),
    optional=("Resource-Type", "Custom-Channel-Vars", "Custom-Application-Vars", "Custom-SIP-Headers",
              "Caller-ID-Name", "Caller-ID-Number", "Call-Direction", "Context", "Destination-Number",
              "From-Tag", "To-Tag", "Switch-Hostname", "Switch-Nodename", "Switch-URL", "Switch-URI",
              "Transfer-Media", "Ringback-Media", "Media", "Prepend-CID-Name", "Origination-Call-ID",
              "User-Agent", "Message-ID", "Body", "Codecs", "Max-Call-Length", "Cost-Parameters"),
    schema="dialplan.route_req.json", kazoo_schema="kapi.route.req.json",
))

# (the remaining declarations of bus.md section 3 follow the same pattern)
