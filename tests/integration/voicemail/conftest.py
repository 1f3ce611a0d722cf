"""A voicemail call on the real broker: the gateway simulator, a router that parks, and our CallControl.

``Router`` answers route_req with ``park`` and hands over the route_win (what
callflow_svc would do before running the voicemail node).  ``vm_call`` gives a
connected call: the gateway's handle (to press keys, speak, hang up) and a
``BusCallControl`` on it whose event stream is bound before any command.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from gateway_sim import Endpoint, Gateway, GatewayConfig
from services.bus import Bus, open_transport, unique_queue_name
from services.bus.exchanges import CALLEVT, CALLMGR, call_events_binding, route_req_key
from services.messages import catalogue as m
from services.messages.spec import Message
from services.messages.validation import Validator
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


def new_endpoint(account_id: str) -> Endpoint:
    return Endpoint(account_id=account_id, realm="acme.example.com", username="user_356",
                    caller_id_name="web phone", caller_id_number="356", device_id=secrets.token_hex(16),
                    owner_id=secrets.token_hex(16))


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


@pytest.fixture
async def gateway(gw_bus, tmp_path):
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


class Bound:
    """A BusCallControl with its own event queue (what the listener does for a session)."""

    def __init__(self, bus: Bus, call_info: dict[str, Any], timers: Timers) -> None:
        self.bus = bus
        self.call_info = call_info
        self.timers = timers

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
        return BusCallControl(self.bus, self.call_info, self.stream, self.replies, timers=self.timers)

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
