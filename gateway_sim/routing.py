"""Routing a new call: who is calling, route_req, picking the winner (bus.md 3.1-3.3, 8.7-8.8).

``resolve_endpoint`` reads the calling device, its owner and its account from
the store and gives what a registered SIP device would bring to KAZOO's
gateway: the Custom-Channel-Vars ``Account-ID``, ``Authorizing-ID``/``-Type``,
``Owner-ID``, ``Realm``, ``Username`` and a caller id.

``build_route_req`` makes the route_req; ``RouteCollector`` applies the
first-non-deferred rule: the first route_resp without ``Defer-Response: true``
wins at once; a deferred one is kept and used only if nothing else arrives
before the timeout; with no answer at all the call is rejected like KAZOO's
``604`` "no available handlers".
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

from services.messages.spec import Message
from services.store import layout


class EndpointError(LookupError):
    """The calling device (or its account) cannot be found."""


@dataclass(frozen=True)
class Endpoint:
    """The calling side of a call, as the gateway knows it once the device has registered."""

    account_id: str
    realm: str
    username: str
    caller_id_name: str = ""
    caller_id_number: str = ""
    device_id: str | None = None
    owner_id: str | None = None
    authorizing_type: str = "device"
    language: str | None = None
    extra_ccvs: Mapping[str, Any] = field(default_factory=dict)

    def ccvs(self, fetch_id: str) -> dict[str, Any]:
        ccvs: dict[str, Any] = {
            "Account-ID": self.account_id,
            "Authorizing-ID": self.device_id,
            "Authorizing-Type": self.authorizing_type if self.device_id else None,
            "Owner-ID": self.owner_id,
            "Fetch-ID": fetch_id,
            "Realm": self.realm,
            "Username": self.username,
        }
        ccvs.update(self.extra_ccvs)
        return {k: v for k, v in ccvs.items() if v not in (None, "")}


def _deleted(doc: Mapping[str, Any]) -> bool:
    return doc.get("pvt_deleted") in (True, "true", 1)


def _caller_id(*docs: Mapping[str, Any] | None) -> tuple[str, str]:
    """The internal caller id of the first document that has one (device, owner, account)."""
    name = number = ""
    for doc in docs:
        if not doc:
            continue
        internal = (doc.get("caller_id") or {}).get("internal") if isinstance(doc.get("caller_id"), Mapping) else None
        if isinstance(internal, Mapping):
            name = name or str(internal.get("name") or "")
            number = number or str(internal.get("number") or "")
    return name, number


async def resolve_endpoint(store, account_id: str, device_id: str) -> Endpoint:
    """The device ``device_id`` of ``account_id`` as a calling endpoint."""
    from services.store.interface import NotFound   # the store package is optional for the simulator
    try:
        db = layout.account_db(account_id)
    except layout.InvalidName as exc:
        raise EndpointError(f"{account_id!r} is not an account id: {exc}") from None
    try:
        device = await store.get(db, device_id)
    except NotFound:
        raise EndpointError(f"no device {device_id} in account {account_id}") from None
    if _deleted(device) or device.get("pvt_type") not in (None, "device"):
        raise EndpointError(f"no device {device_id} in account {account_id} "
                            f"({'deleted' if _deleted(device) else 'it is a ' + str(device.get('pvt_type'))})")
    account: Mapping[str, Any] | None = None
    for where in (db, layout.ACCOUNTS_DB):
        try:
            account = await store.get(where, account_id)
            break
        except NotFound:
            continue
    if account is None:
        raise EndpointError(f"no account document {account_id}")
    realm = account.get("realm")
    if not realm:
        raise EndpointError(f"account {account_id} has no realm")
    owner_id = device.get("owner_id") or None
    owner: Mapping[str, Any] | None = None
    if owner_id:
        try:
            owner = await store.get(db, owner_id)
        except NotFound:
            owner = None
    sip = device.get("sip") if isinstance(device.get("sip"), Mapping) else {}
    username = str(sip.get("username") or device.get("name") or device_id)
    name, number = _caller_id(device, owner, account)
    return Endpoint(
        account_id=account_id, realm=str(realm), username=username,
        caller_id_name=name or str(device.get("name") or username), caller_id_number=number or username,
        device_id=device_id, owner_id=owner_id, language=device.get("language"),
    )


def new_call_id() -> str:
    """A FreeSWITCH-like Call-ID: 20 lower-case letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def build_route_req(endpoint: Endpoint, dial: str, *, call_id: str, fetch_id: str, node: str, hostname: str,
                    server_id: str) -> dict[str, Any]:
    """The route_req a registered device's INVITE turns into (bus.md 3.1, 8.7)."""
    request = f"{dial}@{endpoint.realm}"
    return {
        "Msg-ID": fetch_id,
        "Server-ID": server_id,
        "App-Name": "freeswitch",
        "App-Version": "1.0",
        "Node": node,
        "Call-ID": call_id,
        "Resource-Type": "audio",
        "Call-Direction": "inbound",
        "Request": request,
        "To": request,
        "From": f"{endpoint.username}@{endpoint.realm}",
        "Destination-Number": dial,
        "Caller-ID-Name": endpoint.caller_id_name,
        "Caller-ID-Number": endpoint.caller_id_number,
        "Switch-Nodename": node,
        "Switch-Hostname": hostname,
        "Media": "process",
        "Custom-Channel-Vars": endpoint.ccvs(fetch_id),
    }


def new_fetch_id() -> str:
    return str(uuid.uuid1())


def deferred(response: Mapping[str, Any]) -> bool:
    return response.get("Defer-Response") in (True, "true")


@dataclass
class RouteOutcome:
    winner: Message | None
    responses: list[Message]
    waited: float

    @property
    def rejected(self) -> bool:
        return self.winner is None or self.winner.get("Method") == "error"


async def collect_route_responses(stream, timeout: float, *, on_response=None) -> RouteOutcome:
    """Read route_resps from ``stream`` (a ReplyStream) for at most ``timeout`` seconds: the first
    non-deferred one wins at once; else the first deferred one; else none."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    responses: list[Message] = []
    fallback: Message | None = None
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            response = await stream.next(remaining)
        except asyncio.TimeoutError:
            break
        if response.spec.key != "route.resp":
            continue
        responses.append(response)
        if on_response is not None:
            on_response(response)
        if not deferred(response):
            return RouteOutcome(response, responses, loop.time() - started)
        if fallback is None:
            fallback = response
    return RouteOutcome(fallback, responses, loop.time() - started)
