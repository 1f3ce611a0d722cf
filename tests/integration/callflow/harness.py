"""A small test-local gateway and voicemail stand-in on the real broker, for the CF-xxx tests.

It plays the spec's roles of callflow.md section 4: GQ (the gateway's reply
queue on ``targeted``), CQ (a control queue bound to ``callctl`` under its own
name) and VM (a queue on ``kapps`` ``callflow.action.voicemail``).  Each is a
*tap*: a raw queue that records every delivery with its AMQP properties, so
tests can check content type and headers as well as the body.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from services.bus import codec
from services.bus.exchanges import CALLCTL, CALLEVT, CALLMGR, KAPPS, TARGETED, Exchange, call_event_key
from services.messages import catalogue
from services.store import layout

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = layout.account_db(ACCOUNT)
ACCOUNT_DB_ENCODED = layout.account_db(ACCOUNT, encoded=True)
REALM = "acme.example.com"
DEVICE = "d509114b66efabf32dfd78dc464b46dd"
USER = "699ed7e3d583e2577ac017c575f87262"

RESPONDS = 2.0      # "responds" = a route_resp within 2 s
IGNORES = 3.0       # "ignores" = nothing within 3 s


def hex32() -> str:
    return os.urandom(16).hex()


@dataclass
class Captured:
    body: dict
    routing_key: str
    exchange: str
    content_type: str | None
    headers: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


class Tap:
    """A raw queue recording every delivery."""

    def __init__(self, transport, name: str) -> None:
        self._transport = transport
        self.name = name
        self.items: asyncio.Queue[Captured] = asyncio.Queue()
        self.seen: list[Captured] = []

    async def open(self, bindings: list[tuple[Exchange, str]]) -> "Tap":
        await self._transport.declare_queue(self.name, exclusive=True, auto_delete=True)
        for exchange, key in bindings:
            await self._transport.declare_exchange(exchange)
            await self._transport.bind(self.name, exchange, key)
        await self._transport.consume(self.name, self._on_delivery, exclusive=True)
        return self

    async def _on_delivery(self, delivery) -> None:
        await delivery.ack()
        try:
            body = json.loads(delivery.body)
        except ValueError:
            body = {"_raw": delivery.body}
        item = Captured(body, delivery.routing_key, delivery.exchange, delivery.content_type,
                        dict(delivery.headers or {}))
        self.seen.append(item)
        self.items.put_nowait(item)

    async def next(self, timeout: float = RESPONDS, *, where=None) -> Captured:
        """The next delivery (that ``where`` accepts; others are skipped); TimeoutError if none."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            item = await asyncio.wait_for(self.items.get(), max(0.0, deadline - loop.time()))
            if where is None or where(item):
                return item

    async def nothing(self, timeout: float = IGNORES, *, where=None) -> None:
        """Assert that nothing (that ``where`` accepts) arrives within ``timeout``."""
        try:
            item = await self.next(timeout, where=where)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected message on {self.name}: {item.body}")

    def drain(self) -> list[Captured]:
        out = []
        while not self.items.empty():
            out.append(self.items.get_nowait())
        return out


class Gateway:
    """Publishes what the gateway (and the voicemail service) would, and taps GQ, CQ, VM."""

    def __init__(self, bus) -> None:
        self.bus = bus
        self.transport = bus.transport
        self.gq: Tap | None = None
        self.cq: Tap | None = None
        self.vm: Tap | None = None

    async def open(self, *, vm: bool = True) -> "Gateway":
        self.gq = await Tap(self.transport, f"gq-{hex32()[:12]}").open([])
        await self.transport.bind(self.gq.name, TARGETED, self.gq.name)
        self.cq = await Tap(self.transport, f"cq-{hex32()[:12]}").open([])
        await self.transport.bind(self.cq.name, CALLCTL, self.cq.name)
        if vm:
            self.vm = await Tap(self.transport, f"vm-{hex32()[:12]}").open(
                [(KAPPS, "callflow.action.voicemail")])
        return self

    # -- route_req --------------------------------------------------------------------------

    def route_req_body(self, number: str, *, ccvs: Mapping[str, Any] | None = None, drop_ccvs=(),
                       **fields: Any) -> dict[str, Any]:
        msg_id = fields.pop("Msg-ID", None) or hex32()
        call_id = fields.pop("Call-ID", None) or f"call-{hex32()}"
        request = fields.pop("Request", f"{number}@{REALM}")
        custom = {"Account-ID": ACCOUNT, "Authorizing-Type": "device", "Authorizing-ID": DEVICE,
                  "Owner-ID": USER, "Fetch-ID": msg_id}
        custom.update(ccvs or {})
        for key in drop_ccvs:
            custom.pop(key, None)
        body = {
            "Event-Category": "dialplan", "Event-Name": "route_req", "App-Name": "freeswitch",
            "App-Version": "1.0", "Node": "gw@sim", "Msg-ID": msg_id, "Server-ID": self.gq.name,
            "Call-ID": call_id, "Request": request, "From": f"356@{REALM}", "To": request,
            "Resource-Type": "audio", "Caller-ID-Number": "356", "Caller-ID-Name": "web phone",
            "Custom-Channel-Vars": custom,
        }
        body.update(fields)
        return {k: v for k, v in body.items() if v is not None}

    async def publish_raw(self, exchange: Exchange, routing_key: str, body: Mapping[str, Any], *,
                          headers: Mapping[str, Any] | None = None) -> None:
        await self.transport.publish(exchange, routing_key, codec.encode(dict(body)), headers=headers)

    async def route_req(self, number: str, *, key: str | None = None, **options: Any) -> dict[str, Any]:
        body = self.route_req_body(number, **options)
        await self.publish_raw(CALLMGR, key or f"route.req.audio.{ACCOUNT}", body)
        return body

    async def route_resp(self, req: Mapping[str, Any], timeout: float = RESPONDS) -> Captured:
        return await self.gq.next(timeout, where=lambda c: c.get("Event-Name") == "route_resp"
                                  and c.get("Msg-ID") == req["Msg-ID"])

    async def no_route_resp(self, timeout: float = IGNORES) -> None:
        await self.gq.nothing(timeout, where=lambda c: c.get("Event-Name") == "route_resp")

    async def win(self, resp: Captured, *, ccvs: Mapping[str, Any] | None = None) -> None:
        call_id = resp["Call-ID"]
        custom = {"Account-ID": ACCOUNT, "Fetch-ID": resp["Msg-ID"], "Authorizing-Type": "device",
                  "Authorizing-ID": DEVICE, "Owner-ID": USER,
                  "CallFlow-ID": resp["Custom-Channel-Vars"]["CallFlow-ID"], "Application-Name": "callflow"}
        custom.update(ccvs or {})
        await self.bus.publish(catalogue.ROUTE_WIN, {"Msg-ID": call_id, "Call-ID": call_id,
                                                     "Control-Queue": self.cq.name, "Custom-Channel-Vars": custom},
                               to=resp["Server-ID"], server_id=self.cq.name)

    async def call(self, number: str, **options: Any) -> tuple[dict, Captured]:
        """route_req, its route_resp, then the win: the call is running when this returns."""
        req = await self.route_req(number, **options)
        resp = await self.route_resp(req)
        await self.win(resp)
        return req, resp

    # -- call events and voicemail replies -------------------------------------------------------

    async def event(self, name: str, call_id: str, **fields: Any) -> None:
        body = {"Event-Category": "call_event", "Event-Name": name, "App-Name": "freeswitch",
                "App-Version": "1.0", "Msg-ID": hex32(), "Node": "gw@sim", "Call-ID": call_id}
        body.update(fields)
        await self.publish_raw(CALLEVT, call_event_key(name, call_id), body, headers={"call-id": call_id})

    async def destroy(self, call_id: str, fetch_id: str, **fields: Any) -> None:
        await self.event("CHANNEL_DESTROY", call_id, **{"Hangup-Cause": "NORMAL_CLEARING",
                                                        "Custom-Channel-Vars": {"Account-ID": ACCOUNT,
                                                                                "Fetch-ID": fetch_id}, **fields})

    async def usurp(self, call_id: str, fetch_id: str) -> None:
        await self.event("usurp_control", call_id, **{"Fetch-ID": fetch_id, "Reason": "Route-Win"})

    async def execute(self, timeout: float = RESPONDS) -> Captured:
        return await self.vm.next(timeout, where=lambda c: c.get("Event-Name") == "action.execute")

    async def result(self, execute: Captured, result: str, *, msg_id: str | None = None,
                     call_id: str | None = None) -> None:
        await self.bus.publish(catalogue.ACTION_RESULT, {"Msg-ID": msg_id or execute["Msg-ID"],
                                                         "Call-ID": call_id or execute["Call-ID"],
                                                         "Result": result}, to=execute["Server-ID"])

    async def accepted(self, execute: Captured) -> None:
        await self.bus.publish(catalogue.ACTION_ACCEPTED, {"Msg-ID": execute["Msg-ID"],
                                                           "Call-ID": execute["Call-ID"]}, to=execute["Server-ID"])

    async def command(self, application: str | None = None, timeout: float = RESPONDS) -> Captured:
        return await self.cq.next(timeout, where=None if application is None
                                  else lambda c: c.get("Application-Name") == application)

    async def doc_event(self, action: str, doc: Mapping[str, Any], *, db: str = ACCOUNT_DB_ENCODED) -> None:
        await self.bus.publish(catalogue.DOC_CHANGES[f"doc_{action}"],
                               {"ID": doc["_id"], "Database": db, "Type": doc.get("pvt_type", "callflow"),
                                "Account-ID": ACCOUNT})


# -- documents --------------------------------------------------------------------------------

def callflow_doc(*, numbers=(), patterns=(), flow=None, doc_id: str | None = None, **extra: Any) -> dict:
    doc = {"_id": doc_id or hex32(), "pvt_type": "callflow", "numbers": list(numbers), "patterns": list(patterns),
           "flow": {"module": "answer", "data": {}} if flow is None else flow}
    doc.update(extra)
    return doc


async def seed_account(store, **account_extra: Any) -> None:
    """Account A, device D (SIP user_356, password), user U: the conventions of callflow.md section 4."""
    await store.init_db()
    await store.create_db(ACCOUNT_DB)
    account = {"_id": ACCOUNT, "pvt_type": "account", "name": "acme", "realm": REALM}
    account.update(account_extra)
    await store.put(ACCOUNT_DB, account)
    await store.put(ACCOUNT_DB, {"_id": DEVICE, "pvt_type": "device", "name": "phone 356", "owner_id": USER,
                                 "sip": {"username": "user_356", "method": "password", "password": "x"}})
    await store.put(ACCOUNT_DB, {"_id": USER, "pvt_type": "user", "first_name": "Ann", "last_name": "Smith"})


async def put(store, doc: dict, db: str = ACCOUNT_DB) -> dict:
    try:
        current = await store.get(db, doc["_id"])
        doc = {**doc, "_rev": current["_rev"]}
    except Exception:
        pass
    return await store.put(db, doc)
