"""The world of the CF-xxx tests, on the real broker (callflow.md section 4).

* config_svc and callflow_svc run as they do in production, on a seeded memory store;
* calls are placed by the gateway simulator (``gateway_sim``): route_req, the first-non-deferred
  rule, route_win and usurp_control, the control queue, the commands carried out, CHANNEL_DESTROY
  when a side hangs up -- a real gateway's behaviour, not a test's idea of it;
* ``Wiretap`` records every delivery the simulator's own bus connection takes (the route_resps on
  its route queue, the commands on each call's control queue) with exchange, routing key, content
  type and headers, before the simulator's consumers see them; it can also hold one delivery back,
  as a slow link would;
* VM (the spec's test queue on ``kapps`` ``callflow.action.voicemail``) is answered by the test,
  in the voicemail service's role; other taps record the route_reqs (``callmgr``) and call events
  (``callevt``) that went over the broker;
* raw publishing (``raw_route_req``, ``forge_event``, ``raw_route_win``) is only for what a real
  gateway never sends or the simulator cannot send; every test using it says why.

Windows: "responds" = a route_resp within ``RESPONDS`` s (the spec's 2 s).  "Ignores" = the
gateway's own verdict: a gateway with a route timeout of ``IGNORES`` s rejects the call (604, no
route_resp), and no route_resp for it reaches the gateway later either, up to the end of the probe
call that follows.  callflow_svc decides to ignore at once (sys_info: after
0.5 s), so the spec's 3 s window would only add waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from gateway_sim import Endpoint, Gateway, GatewayConfig, seed_account, seed_device, seed_user
from gateway_sim.config import default_node
from gateway_sim.gateway import Call
from gateway_sim.routing import build_route_req, new_call_id, new_fetch_id
from services.bus import codec
from services.exchanges import CALLCTL, CALLEVT, CALLMGR, KAPPS, TARGETED, Exchange, call_event_key
from services.messages import catalogue
from services.messages.validation import Validator
from services.runtime import ServiceContext
from services.settings import Settings
from services.store import layout

ACCOUNT = "4fe69c5b61015084f1fe5684abc6e502"
ACCOUNT_DB = layout.account_db(ACCOUNT)
ACCOUNT_DB_ENCODED = layout.account_db(ACCOUNT, encoded=True)
REALM = "acme.example.com"
DEVICE = "d509114b66efabf32dfd78dc464b46dd"
USER = "699ed7e3d583e2577ac017c575f87262"

RESPONDS = 2.0      # "responds" = a route_resp within 2 s
IGNORES = 1.0       # route timeout of the gateway that places calls expected to be ignored
LINGER = 0.5        # the gateway takes commands this long after CHANNEL_DESTROY (re-armed by each)
FAST = dict(time_scale=0.01, post_hangup_linger=LINGER, max_call_seconds=60.0)

PROBE = "*0000"
PROBE_ID = "f0" * 16


def hex32() -> str:
    return os.urandom(16).hex()


def named(resp: Mapping[str, Any]) -> str:
    return resp["Custom-Channel-Vars"]["CallFlow-ID"]


# -- recording deliveries -----------------------------------------------------------------------

@dataclass
class Captured:
    body: dict
    queue: str
    routing_key: str
    exchange: str
    content_type: str | None
    headers: Mapping[str, Any]
    at: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, queue: str, delivery) -> "Captured":
        try:
            body = json.loads(delivery.body)
        except ValueError:
            body = {"_raw": delivery.body}
        return cls(body if isinstance(body, dict) else {"_raw": body}, queue, delivery.routing_key,
                   delivery.exchange, delivery.content_type, dict(delivery.headers or {}))

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


Where = Callable[[Captured], bool]


class Recorder:
    """Deliveries in arrival order; waits for the ones a predicate accepts."""

    def __init__(self) -> None:
        self.seen: list[Captured] = []
        self._cursor = 0
        self._changed = asyncio.Condition()

    async def _add(self, item: Captured) -> None:
        self.seen.append(item)
        async with self._changed:
            self._changed.notify_all()

    def _find(self, where: Where | None, start: int) -> int | None:
        for index in range(start, len(self.seen)):
            if where is None or where(self.seen[index]):
                return index
        return None

    async def _wait(self, where: Where | None, start: int, timeout: float) -> int:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self._find(where, start) is not None), timeout)
        index = self._find(where, start)
        assert index is not None
        return index

    async def first(self, where: Where | None = None, timeout: float = RESPONDS) -> Captured:
        """The first delivery ``where`` accepts since the start; TimeoutError if none comes in time."""
        return self.seen[await self._wait(where, 0, timeout)]

    async def next(self, where: Where | None = None, timeout: float = RESPONDS) -> Captured:
        """The next accepted delivery after the last one ``next`` returned."""
        index = await self._wait(where, self._cursor, timeout)
        self._cursor = index + 1
        return self.seen[index]

    async def nothing(self, where: Where | None = None, seconds: float = IGNORES, *, since: int | None = None) -> None:
        """Assert that no accepted delivery arrives within ``seconds``: none after the last one ``next``
        returned, or none from index ``since`` of ``seen`` on."""
        try:
            index = await self._wait(where, self._cursor if since is None else since, seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected delivery on {self.seen[index].queue}: {self.seen[index].body}")

    def all(self, where: Where | None = None) -> list[Captured]:
        return [item for item in self.seen if where is None or where(item)]


class Tap(Recorder):
    """A raw queue of the test that records every delivery."""

    def __init__(self, transport, prefix: str) -> None:
        super().__init__()
        self._transport = transport
        self.name = f"{prefix}-{hex32()[:12]}"

    async def open(self, bindings: list[tuple[Exchange, str]]) -> "Tap":
        await self._transport.declare_queue(self.name, exclusive=True, auto_delete=True)
        for exchange, key in bindings:
            await self._transport.declare_exchange(exchange)
            await self._transport.bind(self.name, exchange, key)
        await self._transport.consume(self.name, self._on_delivery, exclusive=True)
        return self

    async def _on_delivery(self, delivery) -> None:
        await delivery.ack()
        await self._add(Captured.of(self.name, delivery))


@dataclass
class Hold:
    where: Where
    held: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


class Wiretap(Recorder):
    """Every delivery one bus connection (the simulator's) consumes, recorded before its consumer
    sees it.  Wraps ``transport.consume``; nothing is changed on the way."""

    def __init__(self, transport) -> None:
        super().__init__()
        self._holds: list[Hold] = []
        self._tasks: set[asyncio.Task] = set()
        consume = transport.consume

        async def tapped_consume(queue: str, handler, **options):
            async def on_delivery(delivery) -> None:
                item = Captured.of(queue, delivery)
                await self._add(item)
                for hold in self._holds:
                    if not hold.held.is_set() and hold.where(item):
                        hold.held.set()
                        task = asyncio.create_task(self._deliver_later(hold, handler, delivery))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                        return
                await handler(delivery)
            return await consume(queue, on_delivery, **options)

        transport.consume = tapped_consume

    def hold(self, where: Where) -> Hold:
        """Hold back the next delivery ``where`` accepts until ``release()`` (a slow link)."""
        hold = Hold(where)
        self._holds.append(hold)
        return hold

    @staticmethod
    async def _deliver_later(hold: Hold, handler, delivery) -> None:
        await hold.released.wait()
        await handler(delivery)

    def release_all(self) -> None:
        for hold in self._holds:
            hold.release()


# -- documents --------------------------------------------------------------------------------

def callflow_doc(*, numbers=(), patterns=(), flow=None, doc_id: str | None = None, **extra: Any) -> dict:
    doc = {"_id": doc_id or hex32(), "pvt_type": "callflow", "numbers": list(numbers), "patterns": list(patterns),
           "flow": {"module": "answer", "data": {}} if flow is None else flow}
    doc.update(extra)
    return doc


async def seed(store) -> None:
    """Account A, device D (SIP user_356, password, owner U), user U: callflow.md section 4."""
    await store.init_db()
    await seed_account(store, ACCOUNT, realm=REALM, name="acme")
    await seed_user(store, ACCOUNT, USER, first_name="Ann", last_name="Smith")
    await seed_device(store, ACCOUNT, DEVICE, username="user_356", owner_id=USER, name="phone 356")


async def put(store, doc: dict, db: str = ACCOUNT_DB) -> dict:
    try:
        current = await store.get(db, doc["_id"])
        doc = {**doc, "_rev": current["_rev"]}
    except Exception:
        pass
    return await store.put(db, doc)


def endpoint(**changes: Any) -> Endpoint:
    """The calling side of device D as the gateway knows it; ``changes`` give another kind of caller
    (``authorizing_type``, ``device_id=None``, ``extra_ccvs``, ...)."""
    base = Endpoint(account_id=ACCOUNT, realm=REALM, username="user_356", caller_id_name="phone 356",
                    caller_id_number="user_356", device_id=DEVICE, owner_id=USER)
    return dataclasses.replace(base, **changes)


# -- the environment --------------------------------------------------------------------------

_VALIDATOR: Validator | None = None


class Env:
    def __init__(self, amqp_url: str, store) -> None:
        self.amqp_url = amqp_url
        self.store = store
        self.context: ServiceContext | None = None
        self.services: list = []
        self.callflow = None
        self.tester = None                  # the test's own bus: VM, taps, raw publishing
        self.gateway: Gateway | None = None
        self.quiet: Gateway | None = None   # route timeout IGNORES, for calls that should be ignored
        self.wiretap: Wiretap | None = None
        self.requests: Tap | None = None
        self.events: Tap | None = None
        self.vm: Tap | None = None
        self._gq: Tap | None = None
        self._cq: Tap | None = None
        self.media = None                   # testkit.media.MediaServer

    async def start(self, *, vm: bool = True, **gateway_options: Any) -> "Env":
        from callflow_svc.app import build as build_callflow
        from config_svc.app import build as build_config

        global _VALIDATOR
        settings = Settings(amqp_url=self.amqp_url, store_url="memory://", node="kzvoice@cftest", zone="local")
        if _VALIDATOR is None:              # compiled once for the session: the gateway compiles every schema
            _VALIDATOR = Validator(settings.schema_dir)
        self.context = ServiceContext(settings, store=self.store, validator=_VALIDATOR)
        for factory in (build_config, build_callflow):
            service = factory(self.context)
            await service.start()
            self.services.append(service)
        self.callflow = self.services[-1]
        self.tester = await self.context.bus("tester")
        transport = self.tester.transport
        self.requests = await Tap(transport, "route-reqs").open([(CALLMGR, "route.req.#")])
        self.events = await Tap(transport, "call-events").open([(CALLEVT, "call.#")])
        if vm:
            self.vm = await Tap(transport, "vm").open([(KAPPS, "callflow.action.voicemail")])
        # the simulator fetches every play through media_req + GET (media.md 6.6): the media responder
        # voicemail_svc would host, on this store with the system prompts seeded
        from testkit.media import MediaServer, seed_system_prompts
        await seed_system_prompts(self.store)
        self.media = await MediaServer(await self.context.bus("media"), self.store).start()
        gateway_bus = await self.context.bus("freeswitch")
        self.wiretap = Wiretap(gateway_bus.transport)
        config = GatewayConfig(**{**FAST, **gateway_options})
        self.gateway = await Gateway(gateway_bus, self.store, config).start()
        self.quiet = Gateway(gateway_bus, self.store, config.with_(route_timeout=IGNORES, node=default_node()))
        return self

    async def close(self) -> None:
        gateways = [g for g in (self.gateway, self.quiet) if g is not None and g.started]
        if self.wiretap is not None:
            self.wiretap.release_all()
        for gateway in gateways:                 # callers still on the line hang up
            for call in list(gateway.calls.values()):
                call.hangup()
        if self.callflow is not None and self.callflow.calls is not None:
            deadline = time.monotonic() + 3.0    # their CHANNEL_DESTROY ends the flows
            while self.callflow.calls.running and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        for gateway in gateways:
            await gateway.stop()
        if self.media is not None:
            await self.media.stop()
        for service in reversed(self.services):
            await service.stop(2.0)
        if self.context is not None:
            await self.context.close()

    # -- calls placed by the simulator ------------------------------------------------------------

    async def dial(self, number: str, *, endpoint: Endpoint | None = None, script=None,
                   ignored: bool = False) -> Call:
        """A call from device D (or ``endpoint``) to ``number``; returns at once.  ``ignored``: placed by
        the gateway whose route timeout is ``IGNORES``."""
        gateway = self.gateway
        if ignored:
            gateway = self.quiet
            if not gateway.started:
                await gateway.start()
        if endpoint is None:
            return await gateway.start_call(account_id=ACCOUNT, device_id=DEVICE, dial=number, script=script)
        return await gateway.start_call(endpoint=endpoint, dial=number, script=script)

    async def call(self, number: str, **options: Any) -> Call:
        """A call that callflow_svc answers and wins: its flow runs when this returns."""
        call = await self.dial(number, **options)
        assert await call.wait_routed(RESPONDS + 3.0), (await call.finished()).summary()
        return call

    def _route_resp_of(self, call: Call) -> Where:
        return lambda c: c.get("Event-Name") == "route_resp" and c.get("Msg-ID") == call.fetch_id

    async def route_resp(self, call: Call, timeout: float = RESPONDS) -> Captured:
        """The route_resp the gateway received for ``call`` (within ``timeout`` of now)."""
        return await self.wiretap.first(self._route_resp_of(call), timeout)

    def route_resps(self, call: Call) -> list[Captured]:
        return self.wiretap.all(self._route_resp_of(call))

    async def route_req(self, call: Call) -> Captured:
        """The route_req the gateway published for ``call``, as it went over the broker."""
        return await self.requests.first(lambda c: c.get("Call-ID") == call.call_id)

    async def ignored(self, call: Call, *, probe: bool = True) -> None:
        """The gateway got no route_resp and rejected the call.  With ``probe``, a call to a callflow
        stored now is answered afterwards: the silence came from the request, not from a service that
        answers nothing."""
        result = await call.finished(IGNORES + 10.0)
        assert (result.status, result.reject_code, result.route_responses) == ("rejected", "604", 0), \
            f"{result.summary()}\n{result.transcript}"
        if probe:
            await self.probe()
        assert self.route_resps(call) == []       # not even a late one

    async def probe(self) -> None:
        await put(self.store, callflow_doc(numbers=[PROBE], doc_id=PROBE_ID))
        assert named(await self.route_resp(await self.dial(PROBE))) == PROBE_ID

    def _on_control_queue(self, call: Call, application: str | None = None) -> Where:
        return lambda c: c.queue == call.control_queue and c.get("Event-Name") == "command" and \
            (application is None or c.get("Application-Name") == application)

    async def command(self, call: Call, application: str | None = None, timeout: float = RESPONDS) -> Captured:
        """The first command (of ``application``) delivered on the call's control queue."""
        return await self.wiretap.first(self._on_control_queue(call, application), timeout)

    def commands(self, call: Call) -> list[Captured]:
        return self.wiretap.all(self._on_control_queue(call))

    async def no_command(self, call: Call, seconds: float) -> None:
        """No further command reaches the call's control queue within ``seconds``."""
        await self.wiretap.nothing(self._on_control_queue(call), seconds, since=len(self.wiretap.seen))

    # -- VM: the voicemail service's side of the remote action (bus.md 3.8) ------------------------------

    async def execute(self, timeout: float = RESPONDS) -> Captured:
        """The next ``action.execute`` published for the voicemail module."""
        return await self.vm.next(lambda c: c.get("Event-Name") == "action.execute", timeout)

    async def no_execute(self, seconds: float) -> None:
        await self.vm.nothing(lambda c: c.get("Event-Name") == "action.execute", seconds)

    async def result(self, execute: Captured, result: str, *, msg_id: str | None = None) -> None:
        await self.tester.publish(catalogue.ACTION_RESULT, {"Msg-ID": msg_id or execute["Msg-ID"],
                                                            "Call-ID": execute["Call-ID"], "Result": result},
                                  to=execute["Server-ID"])

    async def accepted(self, execute: Captured) -> None:
        await self.tester.publish(catalogue.ACTION_ACCEPTED, {"Msg-ID": execute["Msg-ID"],
                                                              "Call-ID": execute["Call-ID"]}, to=execute["Server-ID"])

    # -- configuration events ------------------------------------------------------------------------

    async def announce(self, action: str, doc: Mapping[str, Any], *, db: str = ACCOUNT_DB_ENCODED) -> None:
        """A ``configuration`` doc event (what the store's change feed publishes); returns once
        callflow_svc has flushed its cache for it (the spec allows up to 2 s)."""
        flushes = self.callflow.cache.flushes
        await self.tester.publish(catalogue.DOC_CHANGES[f"doc_{action}"],
                                  {"ID": doc["_id"], "Database": db, "Type": doc.get("pvt_type", "callflow"),
                                   "Account-ID": ACCOUNT})
        deadline = time.monotonic() + 2.0
        while self.callflow.cache.flushes == flushes:
            assert time.monotonic() < deadline, "callflow_svc did not act on the doc event within 2 s"
            await asyncio.sleep(0.01)

    # -- raw publishing: only what a real gateway never sends or the simulator cannot --------------------

    @property
    def gq(self) -> Tap:
        assert self._gq is not None, "open_gq() first"
        return self._gq

    @property
    def cq(self) -> Tap:
        assert self._cq is not None, "open_cq() first"
        return self._cq

    async def open_gq(self) -> Tap:
        """GQ: a test queue on ``targeted`` under its own name, the Server-ID of raw route_reqs."""
        self._gq = await Tap(self.tester.transport, "gq").open([])
        await self.tester.transport.bind(self._gq.name, TARGETED, self._gq.name)
        return self._gq

    async def open_cq(self) -> Tap:
        """CQ: a test control queue on ``callctl`` under its own name."""
        self._cq = await Tap(self.tester.transport, "cq").open([])
        await self.tester.transport.bind(self._cq.name, CALLCTL, self._cq.name)
        return self._cq

    def raw_route_req(self, number: str, *, caller: Endpoint | None = None, **fields: Any) -> dict[str, Any]:
        """The route_req the simulator would send (its own builder), answered to GQ, plus ``fields``
        (``None`` removes one)."""
        body = {"Event-Category": "dialplan", "Event-Name": "route_req",
                **build_route_req(caller or endpoint(), number, call_id=new_call_id(), fetch_id=new_fetch_id(),
                                  node=self.gateway.node, hostname="sim", server_id=self.gq.name)}
        body.update(fields)
        return {k: v for k, v in body.items() if v is not None}

    async def publish_route_req(self, body: Mapping[str, Any], key: str | None = None) -> None:
        await self.tester.transport.publish(CALLMGR, key or f"route.req.audio.{ACCOUNT}", codec.encode(dict(body)))

    async def raw_route_resp(self, req: Mapping[str, Any], timeout: float = RESPONDS) -> Captured:
        return await self.gq.first(lambda c: c.get("Event-Name") == "route_resp" and c.get("Msg-ID") == req["Msg-ID"],
                                   timeout)

    async def raw_ignored(self, *reqs: Mapping[str, Any]) -> None:
        """No route_resp on GQ for ``reqs`` within ``IGNORES`` s, the probe answered, and still none."""
        ids = {req["Msg-ID"] for req in reqs}
        await self.gq.nothing(lambda c: c.get("Msg-ID") in ids, IGNORES)
        await self.probe()
        assert self.gq.all(lambda c: c.get("Msg-ID") in ids) == []

    async def forge_event(self, name: str, call: Call, **fields: Any) -> dict[str, Any]:
        """A call event for ``call`` that the simulator did not send, as its gateway would word it."""
        body = {"Event-Category": "call_event", "Event-Name": name, "App-Name": "freeswitch",
                "App-Version": "1.0", "Msg-ID": hex32(), "Node": self.gateway.node, "Call-ID": call.call_id,
                **fields}
        await self.tester.transport.publish(CALLEVT, call_event_key(name, call.call_id), codec.encode(body),
                                            headers={"call-id": call.call_id})
        return body

    async def raw_route_win(self, call_id: str, control_queue: str) -> None:
        await self.tester.publish(catalogue.ROUTE_WIN, {"Msg-ID": call_id, "Call-ID": call_id,
                                                        "Control-Queue": control_queue,
                                                        "Custom-Channel-Vars": {"Account-ID": ACCOUNT}},
                                  to=self.callflow.server_id, server_id=control_queue)

