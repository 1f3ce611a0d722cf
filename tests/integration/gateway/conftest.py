"""A small fake app on the real broker that drives the gateway simulator.

``FakeApp`` does what callflow_svc and voicemail_svc do on the wire, nothing
more: answers route_req on ``callmgr`` (park, error, deferred or not at all),
takes route_win on its own ``targeted`` queue, sends commands to the call's
``Control-Queue`` on ``callctl`` and records every message the gateway
publishes on ``callevt`` (events, dialplan errors, usurp_control).
"""

from __future__ import annotations

from tests.support.endpoints import new_endpoint  # noqa: F401  (re-exported for the tests here)

import asyncio
import secrets
import time
from typing import Any, Callable, Mapping

import pytest

from gateway_sim import Endpoint, Gateway, GatewayConfig
from services.bus import Bus, codec, open_transport, unique_queue_name
from services.exchanges import CALLCTL, CALLEVT, CALLMGR, route_req_key
from services.messages import catalogue as m
from services.messages.spec import Message
from services.messages.validation import Validator

ALL_KEYS = ["#", "*", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
VALIDATOR = Validator()

FAST = dict(time_scale=0.01, route_timeout=0.6, post_hangup_linger=0.05, max_call_seconds=20.0)


async def make_bus(url: str, app_name: str) -> Bus:
    bus = Bus(open_transport(url), VALIDATOR, app_name=app_name, node=f"{app_name}@test")
    await bus.start()
    return bus


class AppCall:
    """One call as the fake app sees it."""

    def __init__(self, app: "FakeApp", route_req: Message) -> None:
        self.app = app
        self.route_req = route_req
        self.call_id = route_req["Call-ID"]
        self.route_win: Message | None = None
        self.messages: list[Message] = []     # every callevt message of this call, in arrival order
        self.arrivals: list[float] = []
        self._changed = asyncio.Event()
        self._cursor = 0

    @property
    def control_queue(self) -> str:
        assert self.route_win is not None
        return self.route_win["Control-Queue"]

    def _add(self, message: Message) -> None:
        self.messages.append(message)
        self.arrivals.append(time.monotonic())
        self._changed.set()

    # -- sending
    async def send(self, application: str, fields: Mapping[str, Any] | None = None, *,
                   insert_at: str | None = None, exchange=None) -> dict[str, Any]:
        body = {"Call-ID": self.call_id, "Application-Name": application, **(fields or {})}
        if insert_at is not None:
            body["Insert-At"] = insert_at
        spec = m.COMMANDS[application]
        if exchange is None:
            return await self.app.bus.publish(spec, body, to=self.control_queue)
        built = self.app.bus.publisher.build(spec, body)
        await self.app.bus.transport.publish(exchange, self.control_queue, codec.encode(built))
        return built

    async def queue(self, commands: list[dict[str, Any]], *, insert_at: str | None = None) -> dict[str, Any]:
        return await self.send("queue", {"Commands": commands}, insert_at=insert_at)

    async def send_raw(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Publish without validation (unknown applications, broken commands)."""
        full = {"Event-Category": "call", "Event-Name": "command", "App-Name": "fakeapp", "App-Version": "4.0.0",
                "Msg-ID": secrets.token_hex(16), "Call-ID": self.call_id, **body}
        await self.app.bus.transport.publish(CALLCTL, self.control_queue, codec.encode(full))
        return full

    # -- receiving
    def names(self) -> list[str]:
        return [describe(msg) for msg in self.messages]

    async def wait_for(self, match: Callable[[Message], bool] | str, timeout: float = 3.0, **fields: Any) -> Message:
        """The next message (after the previous match) that matches; earlier ones are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            while self._cursor < len(self.messages):
                message = self.messages[self._cursor]
                self._cursor += 1
                if _matches(message, match, fields):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {match} {fields or ''} within {timeout}s; got {self.names()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def find(self, match: Callable[[Message], bool] | str, **fields: Any) -> list[Message]:
        return [msg for msg in self.messages if _matches(msg, match, fields)]

    def index(self, match: Callable[[Message], bool] | str, **fields: Any) -> int:
        for i, msg in enumerate(self.messages):
            if _matches(msg, match, fields):
                return i
        raise AssertionError(f"no {match} {fields or ''} in {self.names()}")

    async def quiet(self, seconds: float = 0.15) -> None:
        """Let in-flight messages arrive."""
        await asyncio.sleep(seconds)


def describe(message: Message) -> str:
    name = message.get("Event-Name")
    if name == "CHANNEL_EXECUTE_COMPLETE":
        return f"COMPLETE:{message.get('Application-Name')}"
    if name == "dialplan":
        return f"ERROR:{(message.get('Request') or {}).get('Application-Name')}"
    if name == "DTMF":
        return f"DTMF:{message.get('DTMF-Digit')}"
    return str(name)


def _matches(message: Message, match, fields: Mapping[str, Any]) -> bool:
    if callable(match):
        if not match(message):
            return False
    elif message.get("Event-Name") != match:
        return False
    return all(message.get(k.replace("_", "-")) == v for k, v in fields.items())


def completes(app: str, response: str | None = None) -> Callable[[Message], bool]:
    def check(message: Message) -> bool:
        return (message.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" and message.get("Application-Name") == app
                and (response is None or message.get("Application-Response") == response))
    check.__name__ = f"completes({app},{response})"
    return check


def error_for(app: str) -> Callable[[Message], bool]:
    def check(message: Message) -> bool:
        return message.get("Event-Name") == "dialplan" and (message.get("Request") or {}).get("Application-Name") == app
    check.__name__ = f"error_for({app})"
    return check


class FakeApp:
    def __init__(self, bus: Bus, account_id: str, *, name: str = "fakeapp", respond: str | None = "park",
                 defer: bool = False, delay: float = 0.0, pre_park: str = "none",
                 ccvs: Mapping[str, Any] | None = None, error: tuple[str, str] = ("486", "busy")) -> None:
        self.bus = bus
        self.account_id = account_id
        self.name = name
        self.respond = respond
        self.defer = defer
        self.delay = delay
        self.pre_park = pre_park
        self.ccvs = dict(ccvs or {"CallFlow-ID": secrets.token_hex(16)})
        self.error = error
        self.route_reqs: list[Message] = []
        self.calls: dict[str, AppCall] = {}
        self.won: asyncio.Queue[AppCall] = asyncio.Queue()
        self.wins: list[Message] = []
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> "FakeApp":
        self.replies = await self.bus.reply_queue(f"{self.name}-replies")
        self.replies.on(m.ROUTE_WIN, self._on_route_win)
        self.routes = await self.bus.consumer(unique_queue_name(f"{self.name}-route"), exclusive=True)
        await self.routes.bind(CALLMGR, route_req_key("audio", account_id=self.account_id))
        self.routes.on(m.ROUTE_REQ, self._on_route_req)
        await self.routes.start()
        self.events = await self.bus.consumer(unique_queue_name(f"{self.name}-events"), exclusive=True,
                                               arguments={})
        await self.events.bind(CALLEVT, "call.#")
        self.events.on_any(self._on_event)
        await self.events.start()
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.replies.close()

    async def _on_route_req(self, message: Message) -> None:
        self.route_reqs.append(message)
        self.calls.setdefault(message["Call-ID"], AppCall(self, message))
        if self.respond is None:
            return
        task = asyncio.get_running_loop().create_task(self._answer(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, req: Message) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        fields: dict[str, Any] = {"Msg-ID": req.msg_id, "Call-ID": req["Call-ID"], "Account-ID": self.account_id}
        if self.respond == "park":
            fields.update({"Method": "park", "Routes": [], "Pre-Park": self.pre_park,
                           "Custom-Channel-Vars": dict(self.ccvs)})
        else:
            fields.update({"Method": "error", "Route-Error-Code": self.error[0],
                           "Route-Error-Message": self.error[1]})
        if self.defer:
            fields["Defer-Response"] = True
        await self.bus.publish(m.ROUTE_RESP, fields, to=req.server_id, server_id=self.replies.name)

    async def _on_route_win(self, message: Message) -> None:
        self.wins.append(message)
        call = self.calls.get(message["Call-ID"])
        if call is None:
            return
        call.route_win = message
        self.won.put_nowait(call)

    async def _on_event(self, message: Message) -> None:
        call = self.calls.get(message.get("Call-ID"))
        if call is not None:
            call._add(message)

    async def next_call(self, timeout: float = 3.0) -> AppCall:
        return await asyncio.wait_for(self.won.get(), timeout)


def play(name: str, *, account_id: str = "system_media", terminators: list[str] | None = None,
         **extra: Any) -> dict[str, Any]:
    element = {"Application-Name": "play", "Media-Name": f"prompt://{account_id}/{name}/en-us", **extra}
    if terminators is not None:
        element["Terminators"] = terminators
    return element


def noop(msg_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"Application-Name": "noop", "Msg-ID": msg_id or secrets.token_hex(16), **extra}


@pytest.fixture
def account_id() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def endpoint(account_id) -> Endpoint:
    return new_endpoint(account_id)


@pytest.fixture
async def app_bus(amqp_url):
    bus = await make_bus(amqp_url, "fakeapp")
    yield bus
    await bus.close()


@pytest.fixture
async def gw_bus(amqp_url):
    bus = await make_bus(amqp_url, "freeswitch")
    yield bus
    await bus.close()


# simulated seconds of the test media: "long" plays 1 s and "medium" 0.2 s of real time at time_scale 0.01
TEST_MEDIA = {"long": 100.0, "medium": 20.0, "short": 1.0}


# what the tests here play (media.md 6.6: the simulator fetches every play through media_req + GET)
TEST_MEDIA_NAMES = ("long", "medium", "short", "x", "vm-hello")
TEST_PROMPTS = ("vm-one", "vm-two", "vm-g1", "vm-g2", "vm-queued-one", "vm-queued-two", "vm-x", "medium", "long")


_MEDIA_STORE = None       # seeded once per run: the tests only read it (or add names of their own)


@pytest.fixture(autouse=True)
async def media_server(gw_bus):
    """The media responder and its /media/ routes on a store holding the system prompts and the test
    media, so the simulator's plays resolve as they would against voicemail_svc."""
    global _MEDIA_STORE
    from services.store.memory import MemoryStore
    from testkit.media import MediaServer, seed_system_prompts
    if _MEDIA_STORE is None:
        _MEDIA_STORE = MemoryStore()
        await seed_system_prompts(_MEDIA_STORE, extra=TEST_MEDIA_NAMES, prompts=TEST_PROMPTS)
    server = await MediaServer(gw_bus, _MEDIA_STORE).start()
    yield server
    await server.stop()


@pytest.fixture
def gateway_config(tmp_path) -> GatewayConfig:
    return GatewayConfig(recording_dir=str(tmp_path / "recordings"), media_seconds=TEST_MEDIA, **FAST)


@pytest.fixture
async def gateway(gw_bus, gateway_config):
    gw = Gateway(gw_bus, None, gateway_config)
    await gw.start()
    yield gw
    await gw.stop()


@pytest.fixture
async def app(app_bus, account_id):
    fake = FakeApp(app_bus, account_id)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def connected(gateway, app, endpoint):
    """A call parked at the fake app: (gateway call handle, app call)."""
    call = await gateway.start_call(endpoint=endpoint, dial="*97")
    app_call = await app.next_call()
    await app_call.wait_for("usurp_control")
    yield call, app_call
    if not call.routed.done() or call.control is not None and not call.control.state.destroyed:
        call.hangup()
    await call.finished(timeout=10)


class UploadServer:
    """A local HTTP server that keeps what is PUT/POSTed to it; paths under /fail/ answer 500."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.received = asyncio.Event()
        self.base = ""

    async def start(self) -> "UploadServer":
        from aiohttp import web

        async def store(request: web.Request) -> web.Response:
            body = await request.read()
            self.requests.append({"method": request.method, "path": request.path, "body": body,
                                  "content_type": request.headers.get("Content-Type"),
                                  "headers": dict(request.headers)})
            self.received.set()
            if request.path.startswith("/fail/"):
                return web.Response(status=500, text="storage is broken")
            return web.json_response({"ok": True}, status=201)

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", store)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def upload_server():
    server = await UploadServer().start()
    yield server
    await server.stop()


async def connect(gateway: Gateway, app: FakeApp, endpoint: Endpoint, script=None, **kwargs):
    """Start a call (optionally scripted) and wait until the app holds it: (gateway call, app call)."""
    call = await gateway.start_call(endpoint=endpoint, dial=kwargs.pop("dial", "*97"), script=script, **kwargs)
    app_call = await app.next_call()
    await app_call.wait_for("usurp_control")
    return call, app_call


async def finish(call, app_call) -> Any:
    """Hang up (if needed) and return the CallResult."""
    if call.control is not None and not call.control.state.destroyed:
        call.hangup()
    return await call.finished(timeout=10)


async def switch_request(app: FakeApp, fields: Mapping[str, Any], *, timeout: float = 5.0) -> Message:
    """Publish a switch_event command and wait for the reply on the app's targeted queue."""
    return await app.replies.request(m.SWITCH_COMMAND, fields, timeout=timeout)
