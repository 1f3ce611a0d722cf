"""A voicemail call on the real broker: the gateway simulator, a router that parks, and our CallControl.

``Router`` answers route_req with ``park`` and hands over the route_win (what
callflow_svc would do before running the voicemail node).  ``vm_call`` gives a
connected call: the gateway's handle (to press keys, speak, hang up) and a
``BusCallControl`` on it whose event stream is bound before any command.
"""

from __future__ import annotations

from tests.support.endpoints import new_endpoint  # noqa: F401  (re-exported for the tests here)
from tests.support.message_media import SECRET as MESSAGE_URL_SECRET, PlayedMessages
from tests.support.voicemail_fixture import CheckSpy

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway_sim import Endpoint, Gateway, GatewayConfig, Script
from services.bus import Bus, open_transport, unique_queue_name
from services.exchanges import (CALLCTL, CALLEVT, CALLMGR, NOTIFICATIONS, PRESENCE, call_events_binding,
                                    route_req_key)
from services.messages import catalogue as m
from services.messages.etf import decode_result
from services.messages.spec import Message
from services.messages.validation import Validator
from services.runtime import ServiceContext
from services.settings import Settings
from services.store import layout
from services.store.memory import MemoryStore
from testkit.shared import reference
from voicemail_svc.call_control import BusCallControl, CallEvents, Timers

VALIDATOR = Validator()
# simulated seconds; at time_scale 0.01 "long" plays 1 s, "medium" 0.2 s, "short" 10 ms of real time
TEST_MEDIA = {"long": 100.0, "medium": 20.0, "short": 1.0}
FAST = dict(time_scale=0.01, route_timeout=0.6, post_hangup_linger=0.1, max_call_seconds=20.0)
FAST_TIMERS = Timers(store_file_tries=3, store_file_timeout_ms=3000, store_file_retry_delay_ms=50)


async def make_bus(url: str, app_name: str) -> Bus:
    bus = Bus(open_transport(url), VALIDATOR, app_name=app_name, node=f"{app_name}@test")
    await bus.start()
    return bus


class Router:
    """Parks every call of one account and keeps the route_wins."""

    def __init__(self, bus: Bus, account_id: str) -> None:
        self.bus = bus
        self.account_id = account_id
        self.wins: dict[str, asyncio.Future[Message]] = {}

    def win_for(self, call_id: str) -> asyncio.Future[Message]:
        return self.wins.setdefault(call_id, asyncio.get_running_loop().create_future())

    async def start(self) -> "Router":
        self.replies = await self.bus.reply_queue("router")
        self.replies.on(m.ROUTE_WIN, self._on_win)
        self.routes = await self.bus.consumer(unique_queue_name("router"), exclusive=True)
        await self.routes.bind(CALLMGR, route_req_key("audio", account_id=self.account_id))
        self.routes.on(m.ROUTE_REQ, self._on_req)
        await self.routes.start()
        return self

    async def _on_req(self, req: Message) -> None:
        await self.bus.publish(m.ROUTE_RESP, {"Msg-ID": req.msg_id, "Call-ID": req["Call-ID"], "Method": "park",
                                              "Routes": [], "Pre-Park": "none"},
                               to=req.server_id, server_id=self.replies.name)

    async def _on_win(self, win: Message) -> None:
        future = self.win_for(win["Call-ID"])
        if not future.done():
            future.set_result(win)

    async def stop(self) -> None:
        await self.routes.stop(1.0)
        await self.replies.close()


@pytest.fixture
def account_id() -> str:
    return secrets.token_hex(16)


@pytest.fixture
async def gw_bus(amqp_url):
    bus = await make_bus(amqp_url, "freeswitch")
    yield bus
    await bus.close()


@pytest.fixture
async def vm_bus(amqp_url):
    bus = await make_bus(amqp_url, "voicemail")
    yield bus
    await bus.close()


_MEDIA_STORE: MemoryStore | None = None     # seeded once per run; only read


@pytest.fixture
async def media_server(gw_bus):
    """The media responder on a store holding the system prompts: the calls here run no voicemail_svc,
    and the simulator fetches every prompt through media_req + GET (media.md 6.6)."""
    global _MEDIA_STORE
    from testkit.media import MediaServer, seed_system_prompts
    if _MEDIA_STORE is None:
        _MEDIA_STORE = MemoryStore()
        await seed_system_prompts(_MEDIA_STORE, extra=tuple(TEST_MEDIA))
    server = await MediaServer(gw_bus, _MEDIA_STORE).start()
    yield server
    await server.stop()


@pytest.fixture
async def gateway(gw_bus, tmp_path, media_server):
    gw = Gateway(gw_bus, None, GatewayConfig(recording_dir=str(tmp_path / "recordings"), media_seconds=TEST_MEDIA,
                                             **FAST))
    await gw.start()
    yield gw
    await gw.stop()


@pytest.fixture
async def router(vm_bus, account_id):
    r = await Router(vm_bus, account_id).start()
    yield r
    await r.stop()


async def park_call(gateway: Gateway, router: Router, account_id: str):
    """Start a call and wait until it is parked: (gateway call handle, route_win)."""
    call = await gateway.start_call(endpoint=new_endpoint(account_id), dial="*97")
    win = await asyncio.wait_for(router.win_for(call.call_id), 5)
    return call, win


class CommandLog:
    """The bus a call control publishes on, keeping every command sent (queue elements in playing order)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.sent: list[dict] = []

    async def publish(self, spec, fields, *, to: str | None = None, server_id: str | None = None) -> dict:
        body = await self.bus.publish(spec, fields, to=to, server_id=server_id)
        if body.get("Application-Name") == "queue":
            # a tail queue runs in reverse list order (bus.md 4.1): record it in playing order
            self.sent.extend(reversed(body.get("Commands", [])))
        else:
            self.sent.append(body)
        return body


class Bound:
    """A BusCallControl with its own event queue (what the listener does for a session).

    ``log``: a ``CommandLog`` the call control publishes through (commands are kept there)."""

    def __init__(self, bus: Bus, call_info: dict[str, Any], timers: Timers, *, log: CommandLog | None = None) -> None:
        self.bus = bus
        self.call_info = call_info
        self.timers = timers
        self.log = log

    async def start(self) -> BusCallControl:
        call_id = self.call_info["Call-ID"]
        self.stream = CallEvents(call_id)
        self.replies = await self.bus.reply_queue("vm-test")
        self.events = await self.bus.consumer(unique_queue_name("vm-test-events"), exclusive=True)
        await self.events.bind(CALLEVT, call_events_binding(call_id))

        async def put(message: Message) -> None:
            self.stream.put(message)

        self.events.on_any(put)
        await self.events.start()
        publisher = self.log if self.log is not None else self.bus
        return BusCallControl(publisher, self.call_info, self.stream, self.replies, timers=self.timers)

    async def stop(self) -> None:
        await self.events.stop(1.0)
        await self.replies.close()


@pytest.fixture
async def vm_call(gateway, router, vm_bus, account_id):
    """(gateway call handle, BusCallControl): a parked call driven by our call control."""
    call, win = await park_call(gateway, router, account_id)
    bound = Bound(vm_bus, {"Call-ID": call.call_id, "Control-Queue": win["Control-Queue"],
                           "Account-ID": account_id, "Language": "en-us",
                           "Switch-Nodename": gateway.node}, FAST_TIMERS)
    control = await bound.start()
    yield call, control
    if call.control is not None and not call.control.state.destroyed:
        call.hangup()
    await call.finished(timeout=10)
    await bound.stop()


# ---- compose (and check) end to end: config_svc + voicemail_svc + gateway + a test executor ----------


REALM = "acme.example.com"


@dataclass
class Ids:
    """The default fixture of voicemail.md 11: account, owner U, device D, box B."""

    account: str = field(default_factory=lambda: secrets.token_hex(16))
    user: str = field(default_factory=lambda: secrets.token_hex(16))
    device: str = field(default_factory=lambda: secrets.token_hex(16))
    box: str = field(default_factory=lambda: secrets.token_hex(16))
    caller_device: str = field(default_factory=lambda: secrets.token_hex(16))
    caller_user: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def db(self) -> str:
        return layout.account_db(self.account)


async def put_doc(store, db: str, doc: dict, pvt_type: str) -> dict:
    layout.stamp(doc, pvt_type=pvt_type, db=db)
    stored = await store.put_over(db, doc)
    doc["_rev"] = stored["_rev"]
    return stored


async def seed_default(store, ids: Ids, *, box: dict | None = None, account: dict | None = None) -> None:
    """Account (realm acme.example.com), user U with device D (dev1), box B "3456" owned by U, and a caller."""
    db = ids.db
    await store.create_db(db)
    await store.create_db(layout.ACCOUNTS_DB)
    await store.create_db(layout.SYSTEM_CONFIG_DB)
    account_doc = {"_id": ids.account, "name": "acme", "realm": REALM, **(account or {})}
    await put_doc(store, db, dict(account_doc), "account")
    await put_doc(store, layout.ACCOUNTS_DB, dict(account_doc), "account")
    await put_doc(store, db, {"_id": ids.user, "first_name": "Ursula", "last_name": "Owner"}, "user")
    await put_doc(store, db, {"_id": ids.device, "name": "dev1", "owner_id": ids.user,
                              "sip": {"method": "password", "username": "dev1", "password": "x"}}, "device")
    await put_doc(store, db, {"_id": ids.caller_user, "first_name": "Alice"}, "user")
    await put_doc(store, db, {"_id": ids.caller_device, "name": "alice", "owner_id": ids.caller_user,
                              "sip": {"method": "password", "username": "1001", "password": "x"}}, "device")
    box_doc = {"_id": ids.box, "name": "Box 3456", "mailbox": "3456", "pin": "1234", "is_setup": True,
               "owner_id": ids.user}
    box_doc.update(box or {})
    await put_doc(store, db, {k: v for k, v in box_doc.items() if v is not None}, "vmbox")


async def set_system_config(store, category: str, values: dict) -> None:
    await put_doc(store, layout.SYSTEM_CONFIG_DB, {"_id": category, "default": values}, "config")


async def set_account_config(store, ids: Ids, category: str, values: dict) -> None:
    await put_doc(store, ids.db, {"_id": f"configs_{category}", **values}, "account_config")


ALL_DTMF = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")

# short menu timers (real milliseconds) so idle menus do not take seconds
FAST_CALL_COMMAND = {"collect_timeout": 400, "interdigit_timeout": 300}


async def seed_messages(store, ids: Ids, count: int, *, folder: str = "new", box_id: str | None = None,
                        age_s: int = 3600, audio: bool = True) -> list[dict]:
    """``count`` stored messages (with audio unless told) in the box, in this month's database."""
    import base64
    box_id = box_id or ids.box
    when = layout.now_gregorian() - age_s
    modb = layout.modb_at(ids.account, when)
    await store.create_db(modb)
    docs = []
    for _ in range(count):
        doc_id = layout.modb_doc_id(when)
        name = f"{secrets.token_hex(16)}.mp3"
        doc = {"_id": doc_id, "name": "seeded", "source_type": "voicemail", "source_id": box_id,
               "media_filename": name,
               "metadata": {"media_id": doc_id, "folder": folder, "timestamp": when, "length": 1000,
                            "from": "1001@acme.example.com", "to": "3456@acme.example.com"}}
        if audio:
            doc["_attachments"] = {name: {"content_type": "audio/mpeg",
                                          "data": base64.b64encode(b"audio").decode()}}
        layout.stamp(doc, pvt_type="mailbox_message", db=modb, now=when)
        docs.append(await store.put(modb, doc))
    return docs


async def add_callflow(store, ids: Ids, numbers: list[str], flow: dict) -> dict:
    return await put_doc(store, ids.db, {"_id": secrets.token_hex(16), "numbers": numbers, "flow": flow},
                         "callflow")


def validate_message_doc(doc: dict) -> None:
    """A stored message against KAZOO's mailbox_message.json (which describes the message metadata)."""
    path = reference("kazoo-schemas", "mailbox_message.json")
    import jsonschema
    jsonschema.Draft4Validator(json.loads(path.read_text())).validate(doc["metadata"])


@dataclass
class Outcome:
    result: Any                 # ActionResult
    call: Any                   # gateway CallResult
    call_id: str
    sent: list[dict]            # every command sent to the call's control queue, as sent

    @property
    def prompts(self) -> list[str]:
        """Media the gateway started playing, in order (prompt ids, ``say:<text>``, ``tones``, media ids;
        a message's signed Stream-URL as the message id)."""
        return PlayedMessages().labels(self.call.prompts)

    def commands(self, application: str | None = None) -> list[dict]:
        """Commands sent to the gateway (queue elements expanded in list order), optionally of one kind."""
        found = []
        for command in self.sent:
            items = command.get("Commands") if command.get("Application-Name") == "queue" else [command]
            for item in items or []:
                if application is None or item.get("Application-Name") == application:
                    found.append(item)
        return found


class ComposeEnv:
    """config_svc and voicemail_svc on the real broker, a memory store, the gateway simulator, a test
    router/executor (park, action.execute, hang up after the result), a notifier that answers
    notify_update, and recorders of notifications and presence."""

    def __init__(self, amqp_url: str, tmp_path, store, ids: Ids) -> None:
        self.amqp_url = amqp_url
        self.tmp_path = tmp_path
        self.store = store
        self.ids = ids
        self.notify_status: str | None = "completed"
        self.notifications: list[Message] = []
        self.presence: list[Message] = []
        self.seen: list[Message] = []            # notifications and presence, in arrival order
        self.services: list = []
        self.check = CheckSpy()
        self.transcriber = None
        self.media = TEST_MEDIA

    async def start(self, **vm_options) -> "ComposeEnv":
        from config_svc.app import build as build_config
        from voicemail_svc.app import build as build_voicemail
        settings = Settings(amqp_url=self.amqp_url, store_url="memory://", node="kzvoice@vmtest",
                            http_host="127.0.0.1", spool_dir=str(self.tmp_path / "spool"),
                            upload_secret=MESSAGE_URL_SECRET)
        self.context = ServiceContext(settings, store=self.store)
        config = build_config(self.context)
        await config.start()
        self.services.append(config)
        options = dict(timers=FAST_TIMERS, upload_host="127.0.0.1", spool_retry_s=0.2, check=self.check,
                       transcriber=self.transcriber, resend_mwi=False)
        options.update(vm_options)
        self.voicemail = build_voicemail(self.context, **options)
        await self.voicemail.start()
        # the simulator fetches every prompt from voicemail_svc's media responder (media.md 6.6, 6.7)
        from testkit.media import seed_system_prompts
        await seed_system_prompts(self.store, extra=tuple(self.media))
        self.services.append(self.voicemail)
        self.gateway = Gateway(await self.context.bus("freeswitch"), None,
                               GatewayConfig(recording_dir=str(self.tmp_path / "recordings"),
                                             media_seconds=self.media, **FAST))
        await self.gateway.start()
        await self._start_test_bus()
        return self

    async def _start_test_bus(self) -> None:
        bus = self.bus = await self.context.bus("callflow")
        self.replies = await bus.reply_queue("executor")
        self.replies.on(m.ROUTE_WIN, self._on_win)
        self.wins: dict[str, asyncio.Future] = {}
        self.reqs: dict[str, Message] = {}
        routes = await bus.consumer(unique_queue_name("router"), exclusive=True)
        await routes.bind(CALLMGR, route_req_key("audio", account_id=self.ids.account))
        routes.on(m.ROUTE_REQ, self._on_req)
        await routes.start()
        watch = await bus.consumer(unique_queue_name("watch"), exclusive=True)
        await watch.bind(NOTIFICATIONS, "notifications.voicemail.*")
        await watch.bind(PRESENCE, "mwi_updates.#")
        await watch.bind(PRESENCE, "mwi_unsolicited_updates.#")
        watch.on_any(self._on_watch)
        await watch.start()
        self.sent: dict[str, list[dict]] = {}
        self.tap = await bus.consumer(unique_queue_name("tap"), exclusive=True)
        self.tap.on_any(self._on_command)
        await self.tap.start()

    async def _on_command(self, message: Message) -> None:
        self.sent.setdefault(message.call_id or "", []).append(dict(message))

    def _win(self, call_id: str) -> asyncio.Future:
        return self.wins.setdefault(call_id, asyncio.get_running_loop().create_future())

    async def _on_req(self, req: Message) -> None:
        self.reqs[req["Call-ID"]] = req
        await self.bus.publish(m.ROUTE_RESP, {"Msg-ID": req.msg_id, "Call-ID": req["Call-ID"], "Method": "park",
                                              "Routes": [], "Pre-Park": "none"},
                               to=req.server_id, server_id=self.replies.name)

    async def _on_win(self, win: Message) -> None:
        future = self._win(win["Call-ID"])
        if not future.done():
            future.set_result(win)

    async def _on_watch(self, message: Message) -> None:
        self.seen.append(message)
        if message.spec.category == "presence":
            self.presence.append(message)
            return
        self.notifications.append(message)
        if message.spec.name == "voicemail_new" and self.notify_status is not None and message.server_id:
            await self.bus.publish(m.NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": self.notify_status},
                                   to=message.server_id)

    # -- calls ---------------------------------------------------------------------------------

    def endpoint(self, *, owner: bool = False) -> Endpoint:
        ids = self.ids
        if owner:
            return Endpoint(account_id=ids.account, realm=REALM, username="dev1", caller_id_name="Ursula",
                            caller_id_number="3456", device_id=ids.device, owner_id=ids.user)
        return Endpoint(account_id=ids.account, realm=REALM, username="1001", caller_id_name="Alice",
                        caller_id_number="1001", device_id=ids.caller_device, owner_id=ids.caller_user)

    def call_object(self, call, win: Message, extra: dict | None = None) -> dict:
        req = self.reqs[call.call_id]
        ccvs = req.get("Custom-Channel-Vars") or {}
        obj = {"Call-ID": call.call_id, "Account-ID": self.ids.account,
               "Account-DB": layout.account_db(self.ids.account, encoded=True),
               "Control-Queue": win["Control-Queue"], "Controller-Queue": self.replies.name,
               "Request": req["Request"], "To": req["To"], "From": req["From"], "Language": "en-us",
               "Caller-ID-Number": req.get("Caller-ID-Number"), "Caller-ID-Name": req.get("Caller-ID-Name"),
               "Authorizing-ID": ccvs.get("Authorizing-ID"), "Authorizing-Type": ccvs.get("Authorizing-Type"),
               "Owner-ID": ccvs.get("Owner-ID"), "Switch-Nodename": req.get("Switch-Nodename"),
               "Key-Value-Store": {"remote-action": "voicemail"}}
        for key, value in (extra or {}).items():
            if key == "Key-Value-Store":
                obj[key] = {**obj[key], **value}
            else:
                obj[key] = value
        return {k: v for k, v in obj.items() if v not in (None, "")}

    async def place(self, data: dict | None = None, *, script: Script | None = None, owner: bool = False,
                    dial: str = "3456", call_extra: dict | None = None, during=None,
                    timeout: float = 20.0) -> Outcome:
        """One call through compose/check: returns the module result and the gateway's CallResult.

        ``during(call)`` (optional coroutine) runs beside the session, e.g. to press keys by hand.
        After the result the executor hangs up (tail), as callflow_svc does for a node without children.
        """
        data = {"id": self.ids.box} if data is None else data
        call = await self.gateway.start_call(endpoint=self.endpoint(owner=owner), dial=dial, script=script)
        win = await asyncio.wait_for(self._win(call.call_id), 5)
        await self.tap.bind(CALLCTL, win["Control-Queue"])
        body = self.bus.publisher.build(m.ACTION_EXECUTE, {"Call-ID": call.call_id, "Data": data,
                                                           "Call": self.call_object(call, win, call_extra)},
                                        server_id=self.replies.name)
        stream = self.replies.stream(body["Msg-ID"])
        helper = asyncio.ensure_future(during(call)) if during is not None else None
        await self.bus.publisher.send(m.ACTION_EXECUTE, body)
        result = None
        try:
            while result is None:
                reply = await stream.next(timeout)
                if reply.spec.key == "callflow.action.result":
                    result = decode_result(reply["Result"])
        finally:
            stream.close()
            if helper is not None:
                await helper
        if call.control is not None and not call.control.state.destroyed:
            await self.bus.publish(m.COMMANDS["hangup"], {"Call-ID": call.call_id, "Application-Name": "hangup"},
                                   to=win["Control-Queue"])
        finished = await call.finished(timeout=timeout)
        return Outcome(result, finished, call.call_id, self.sent.setdefault(call.call_id, []))

    # -- looking at what happened -----------------------------------------------------------------

    async def messages(self, folder: str | None = None, box_id: str | None = None) -> list[dict]:
        box_id = box_id or self.ids.box
        found = []
        for name in await self.store.list_dbs():
            if layout.is_modb(name) and layout.to_account_id(name) == self.ids.account:
                found += await self.store.vm_messages(name, box_id, folder=folder)
        return found

    async def listen(self, exchange, routing_key: str) -> list[Message]:
        """Messages arriving on an exact binding (to check a routing key)."""
        got: list[Message] = []
        consumer = await self.bus.consumer(unique_queue_name("exact"), exclusive=True)
        await consumer.bind(exchange, routing_key)

        async def keep(message: Message) -> None:
            got.append(message)

        consumer.on_any(keep)
        await consumer.start()
        return got

    def named(self, name: str) -> list[Message]:
        return [n for n in self.notifications + self.presence if n.spec.name == name]

    async def wait_until(self, predicate, timeout: float = 5.0, what: str = "condition") -> None:
        for _ in range(int(timeout / 0.02)):
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    async def settle(self) -> None:
        """Let background saves and their notifications finish."""
        if self.voicemail.deps is not None:
            await self.voicemail.deps.background.drain(10.0)
        await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if getattr(self, "gateway", None) is not None:
            await self.gateway.stop()
        for service in reversed(self.services):
            await service.stop(2.0)
        await self.context.close()


@pytest.fixture
def ids() -> Ids:
    return Ids()


@pytest.fixture
async def vm_env(amqp_url, tmp_path, ids):
    """A factory: ``env = await vm_env(box={...}, system={"callflow": {...}}, account_config={...})``."""
    envs: list[ComposeEnv] = []

    async def factory(*, box: dict | None = None, account: dict | None = None, system: dict | None = None,
                      account_config: dict | None = None, store=None, seed=None, transcriber=None,
                      media: dict | None = None, **vm_options) -> ComposeEnv:
        store = store if store is not None else MemoryStore()
        await seed_default(store, ids, box=box, account=account)
        system = dict(system or {})
        system["call_command"] = {**FAST_CALL_COMMAND, **system.get("call_command", {})}
        for category, values in system.items():
            await set_system_config(store, category, values)
        for category, values in (account_config or {}).items():
            await set_account_config(store, ids, category, values)
        if seed is not None:
            await seed(store, ids)
        env = ComposeEnv(amqp_url, tmp_path, store, ids)
        env.transcriber = transcriber
        env.media = {**TEST_MEDIA, **(media or {})}      # simulated seconds by prompt label or media name
        envs.append(env)
        return await env.start(**vm_options)

    yield factory
    for env in envs:
        await env.stop()
