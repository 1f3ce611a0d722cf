"""route_req: decide whether to route, find the callflow, answer with a park (callflow.md 2, 3.1).

A route_req this instance does not take gets no answer at all; the reason is
logged at info (one line) so an operator can tell why a call went unrouted.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, Mapping

from callflow_svc.call import Call
from callflow_svc.calls import Calls, PendingWin
from services.messages import catalogue
from services.messages.spec import Message
from services.routing.lookup import Found
from services.routing.numbers import is_reconcilable, normalize
from services.store import layout
from services.store.interface import StoreError

log = logging.getLogger(__name__)

ROUTED_RESOURCE_TYPES = ("audio", "video")
AUTHORIZING_TYPES = frozenset(("account", "user", "device", "mobile", "callforward", "clicktocall", "click2call",
                               "conference", "resource", "sys_info"))
# an Authorizing-ID of these types names a document of the call's own account (ours: a route_req whose
# Account-ID and authorizing endpoint disagree is forged or broken, and is not routed)
ENDPOINT_TYPES = {"device": "device", "mobile": "device", "user": "user"}
SYS_INFO_DELAY = 0.5
APP_NAME = "callflow"
APP_VERSION = "4.0.0"
NORMALIZED_MEMO = 100_000
_REFERRER = re.compile(r".*sip:(.*)@.*")


class Ignored(Exception):
    """This route_req gets no answer; the message says why."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def wrap_preflow(flow: Mapping[str, Any], account_doc: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``preflow.always`` of the account runs first, then the found flow (callflow.md 2.8)."""
    preflow = (account_doc or {}).get("preflow")
    preflow_id = preflow.get("always") if isinstance(preflow, dict) else None
    if not _text(preflow_id):
        return flow
    return {"module": "callflow", "data": {"id": preflow_id}, "children": {"_": flow}}


class RouteReq:
    def __init__(self, *, bus, lookup, config, calls: Calls, store, server_id: str, metrics=None) -> None:
        self._bus = bus
        self._lookup = lookup
        self._config = config
        self._calls = calls
        self._store = store
        self.server_id = server_id
        self._metrics = metrics
        # (account, dialled) -> (dial plan, converters, normalised): valid while both are the same objects,
        # i.e. while the account document and the converters config stay cached unchanged
        self._normalized: dict[tuple[str, str], tuple[Any, Any, str]] = {}

    async def handle(self, message: Message) -> None:
        started = time.perf_counter()
        try:
            call, found, account_doc = await self.route(message)
        except Ignored as why:
            log.info("route_req ignored: %s", why)
            return
        except StoreError as exc:
            # as KAZOO when its database cannot be read: no answer, the gateway tries the next router or
            # gives up; what was cached (callflows, devices, accounts) routes on without the store
            log.warning("route_req not answered: the document store failed (%s)", exc)
            return
        if message.server_id is None:
            log.info("route_req without Server-ID: routed, but there is nobody to answer")
            return
        flow = found.doc.get("flow")
        flow = wrap_preflow(flow if isinstance(flow, dict) else {}, account_doc)
        timeout_ms = await self._config.route_win_timeout_ms()
        self._calls.expect_win(PendingWin(call, found, flow, fetch_id=message.msg_id), timeout_ms / 1000)
        await self._bus.publish(catalogue.ROUTE_RESP, await self.response(message, call, found, account_doc),
                                to=message.server_id, server_id=self.server_id)
        if self._metrics is not None:
            self._metrics.route_seconds.observe(time.perf_counter() - started)

    # -- deciding (2.1, 2.2) ---------------------------------------------------------------------

    async def route(self, message: Message) -> tuple[Call, Found, Mapping | None]:
        req = message.body                  # a plain mapping view: cheaper than the Message's Mapping API
        words = message.routing_key.split(".")
        if len(words) != 4 or words[:2] != ["route", "req"] or words[2] not in ROUTED_RESOURCE_TYPES:
            raise Ignored(f"routing key {message.routing_key!r} is not one callflow takes")
        for key in ("From", "To", "Request"):
            if "@" not in req.get(key, ""):
                raise Ignored(f"{key} {req.get(key)!r} is not user@realm")
        ccvs = req.get("Custom-Channel-Vars")
        ccvs = ccvs if isinstance(ccvs, dict) else {}
        account_id = _text(ccvs.get("Account-ID"))
        if account_id is None:
            raise Ignored("no Custom-Channel-Vars.Account-ID")
        try:
            self._lookup.db(account_id)     # its database name, remembered per account
        except layout.InvalidName:
            raise Ignored(f"account id {account_id!r} names no account database") from None
        auth_type = ccvs.get("Authorizing-Type")
        if auth_type is not None and auth_type not in AUTHORIZING_TYPES:
            raise Ignored(f"Authorizing-Type {auth_type!r} is not routed")

        auth_id = _text(ccvs.get("Authorizing-ID"))
        if auth_id is not None and auth_type in ENDPOINT_TYPES:
            endpoint = await self._lookup.doc(account_id, auth_id)
            if endpoint is None or endpoint.get("pvt_type") != ENDPOINT_TYPES[auth_type]:
                raise Ignored(f"Authorizing-ID {auth_id} is no {auth_type} of account {account_id}")

        account_doc = await self._lookup.account_doc(account_id)
        dialled = req["Request"].split("@", 1)[0]
        number = self._normalize(account_id, dialled, (account_doc or {}).get("dial_plan"),
                                 await self._config.e164_converters(account_id))
        if auth_type == "sys_info":
            await asyncio.sleep(SYS_INFO_DELAY)
            if is_reconcilable(number, await self._config.reconcile_regex()):
                raise Ignored(f"sys_info call to reconcilable number {number}")
        if not number:
            raise Ignored("empty dialled number")

        call = Call.from_route_req(req, request_user=number)
        known_referrer = await self._apply_referrals(call, ccvs)
        found = await self._lookup.find(account_id, number)
        if found is None:
            raise Ignored(f"no callflow for {number} in account {account_id}")
        if found.is_no_match and not await self._may_use_no_match(message, auth_type, known_referrer):
            raise Ignored(f"{number} only matches the no_match callflow, which this caller may not use")
        call.kvs.update({
            "cf_flow_id": found.callflow_id,
            "cf_flow_name": _text(found.doc.get("name")) or number,
            "cf_capture_group": found.capture_group,
            "cf_capture_groups": dict(found.capture_groups),
            "cf_no_match": found.is_no_match,
        })
        return call, found, account_doc

    def _normalize(self, account_id: str, dialled: str, dial_plan: Any, converters: Any) -> str:
        if not dialled or dialled[0] in "*+":
            return dialled          # feature codes and E.164 numbers stay as dialled: nothing to remember
        key = (account_id, dialled)
        hit = self._normalized.get(key)
        if hit is not None and hit[0] is dial_plan and hit[1] is converters:
            return hit[2]
        number = normalize(dialled, dial_plan=dial_plan, converters=converters)
        if len(self._normalized) >= NORMALIZED_MEMO:
            self._normalized.clear()
        self._normalized[key] = (dial_plan, converters, number)
        return number

    async def _apply_referrals(self, call: Call, ccvs: Mapping) -> bool:
        """Referred-By / Redirected-By (callflow.md 2.2): a known SIP user re-attributes the call,
        an unknown one clears its authorizing id.  True when a referrer was known (2.6 items 1-2)."""
        known = False
        for key in ("Referred-By", "Redirected-By"):
            value = _text(ccvs.get(key))
            if value is None:
                continue
            match = _REFERRER.match(value)
            endpoint = await self._sip_user(call.account_id, match.group(1)) if match else None
            if endpoint is not None:
                call.set_authorizing_id(endpoint)
                known = True
            else:
                call.clear_authorizing_id()
        return known

    async def _sip_user(self, account_id: str, username: str) -> str | None:
        if not username:
            return None
        rows = await self._store.endpoints_by_sip_username(layout.account_db(account_id), username)
        return rows[0][0] if len(rows) == 1 else None

    async def _may_use_no_match(self, req: Message, auth_type: str | None, known_referrer: bool) -> bool:
        """callflow.md 2.6."""
        if known_referrer:
            return True
        if auth_type is not None and auth_type not in ("resource", "sys_info"):
            return True
        context = req.get("Context")
        if _text(context) and await self._config.allow_authz_context_overrides():
            return context in await self._config.authz_contexts()
        return False

    # -- answering (3.1) ---------------------------------------------------------------------------

    async def response(self, message: Message, call: Call, found: Found, account_doc: Mapping | None) -> dict:
        req = message.body
        ringback = found.doc.get("ringback")
        ringback = ringback if isinstance(ringback, dict) else {}
        inception = _text(call.ccvs.get("Inception"))
        pre_park = "ring_ready" if inception and await self._config.ring_ready_offnet() else "none"
        fields = {
            "Msg-ID": message.msg_id,
            "Call-ID": call.call_id,
            "Account-ID": call.account_id,
            "Method": "park",
            "Routes": [],
            "Pre-Park": pre_park,
            "Ringback-Media": _text(ringback.get("early")) or _text(req.get("Ringback-Media")),
            "Transfer-Media": _text(ringback.get("transfer")) or _text(req.get("Transfer-Media")),
            "From-Realm": _text((account_doc or {}).get("realm")),
            "Custom-Channel-Vars": {"CallFlow-ID": found.callflow_id},
            "Context": _text(req.get("Context")),
            "App-Name": APP_NAME,
            "App-Version": APP_VERSION,
        }
        return {k: v for k, v in fields.items() if v is not None}
