"""Before a won call's first node: its owner and language from the authorizing endpoint
(callflow.md 2.2, 3.3).

Runs in the call's own task (``Calls`` calls ``prepare``), so reading the endpoint,
its owner and the account never holds up the route_win queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callflow_svc.call import Call
from callflow_svc.config import CallflowConfig
from services.routing import Lookup

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


class CallSetup:
    def __init__(self, *, lookup: Lookup, config: CallflowConfig) -> None:
        self._lookup = lookup
        self._config = config

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
