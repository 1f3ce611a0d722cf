"""route_win: take over the call we answered, set it up, run its flow (callflow.md 3.2, 3.3).

The handler itself only checks and hands over (so the queue keeps moving);
reading the caller's endpoint for the language and owner happens in the
call's own task, before its first node runs (``prepare``).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from callflow_svc.call import Call
from callflow_svc.calls import Calls
from services.messages.spec import Message

log = logging.getLogger(__name__)

ENDPOINT_TYPES = ("device", "user", "account")


def _live(doc: Mapping[str, Any] | None) -> bool:
    if not isinstance(doc, Mapping):
        return False
    deleted = doc.get("pvt_deleted")
    if deleted not in (None, False, 0, ""):
        return False
    return doc.get("enabled") not in (False, "false") and doc.get("pvt_type") in ENDPOINT_TYPES


def _language(doc: Mapping[str, Any] | None) -> str | None:
    value = doc.get("language") if isinstance(doc, Mapping) else None
    return value if isinstance(value, str) and value else None


def _owner_of(device: Mapping[str, Any]) -> str | None:
    hotdesk = device.get("hotdesk")
    users = hotdesk.get("users") if isinstance(hotdesk, Mapping) else None
    if isinstance(users, Mapping) and users:
        return next(iter(users))
    owner = device.get("owner_id")
    return owner if isinstance(owner, str) and owner else None


class RouteWin:
    def __init__(self, *, calls: Calls, lookup, config, server_id: str) -> None:
        self._calls = calls
        self._lookup = lookup
        self._config = config
        self.server_id = server_id

    async def handle(self, message: Message) -> None:
        pending = self._calls.take_win(message["Call-ID"])
        if pending is None:
            log.info("route_win for a call this instance is not waiting for; ignored")
            return
        call = pending.call
        call.apply_route_win(message, controller_queue=self.server_id, callflow_id=pending.found.callflow_id)
        call.kvs["cf_flow"] = pending.flow
        self._calls.start(call, pending.flow)

    async def prepare(self, call: Call) -> None:
        """Owner and language from the authorizing endpoint (callflow.md 2.2, 3.3)."""
        account_id = call.account_id
        endpoint = None
        if call.authorizing_id:
            endpoint = await self._lookup.doc(account_id, call.authorizing_id)
            if not _live(endpoint):
                endpoint = None
        owner_id = None
        if endpoint is not None:
            if endpoint.get("pvt_type") == "device":
                owner_id = _owner_of(endpoint)
            elif endpoint.get("pvt_type") == "user":
                owner_id = endpoint["_id"]
        if owner_id:
            call.kvs["owner_id"] = owner_id
        account_doc = await self._lookup.account_doc(account_id)
        language = None
        if endpoint is not None:
            owner = await self._lookup.doc(account_id, owner_id) if owner_id and owner_id != endpoint["_id"] else None
            language = _language(owner) or _language(endpoint) or _language(account_doc)
        if not language:
            language = await self._config.prompt_language(account_id, account_doc)
        call.fields["Language"] = language.lower()
