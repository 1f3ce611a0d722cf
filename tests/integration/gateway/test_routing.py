"""bus.md 3.1-3.3, 3.7, 8.7, 8.8: route_req, the first-non-deferred rule, route_win, usurp_control."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from gateway_sim import EndpointError, Gateway, seed_account, seed_device, seed_user
from services.exchanges import TARGETED, route_req_key
from services.store import open_store
from tests.integration.gateway.conftest import FakeApp, completes, connect, finish, new_endpoint


@pytest.fixture
async def store():
    async with open_store("memory://") as opened:
        yield opened


async def _app(app_bus, account_id, **kwargs) -> FakeApp:
    return await FakeApp(app_bus, account_id, **kwargs).start()


async def test_3_1_route_req_is_built_from_the_device_documents(gw_bus, gateway_config, app, account_id, store):
    await seed_account(store, account_id, realm="acme.example.com")
    owner = await seed_user(store, account_id, first_name="Ann", caller_id_name="Ann Owner",
                            caller_id_number="1001")
    device = await seed_device(store, account_id, username="user_356", owner_id=owner["_id"],
                               caller_id_name="web phone", caller_id_number="356")
    bare = await seed_device(store, account_id, username="user_357", owner_id=owner["_id"])
    gateway = await Gateway(gw_bus, store, gateway_config).start()
    try:
        call = await gateway.start_call(account_id=account_id, device_id=device["_id"], dial="*97")
        app_call = await app.next_call()
        req = app_call.route_req
        assert req.routing_key == route_req_key("audio", account_id=account_id)
        assert (req["Request"], req["To"], req["From"]) == ("*97@acme.example.com", "*97@acme.example.com",
                                                            "user_356@acme.example.com")
        assert req["Resource-Type"] == "audio" and req["Call-Direction"] == "inbound"
        assert (req["Caller-ID-Name"], req["Caller-ID-Number"]) == ("web phone", "356")
        assert req["App-Name"] == "freeswitch" and req.server_id and req["Switch-Nodename"] == gateway.node
        assert req["Custom-Channel-Vars"] == {
            "Account-ID": account_id, "Authorizing-ID": device["_id"], "Authorizing-Type": "device",
            "Owner-ID": owner["_id"], "Fetch-ID": req.msg_id, "Realm": "acme.example.com", "Username": "user_356"}
        await finish(call, app_call)
        # a device without its own caller id calls with its owner's
        call = await gateway.start_call(account_id=account_id, device_id=bare["_id"], dial="2000")
        app_call = await app.next_call()
        assert (app_call.route_req["Caller-ID-Name"], app_call.route_req["Caller-ID-Number"]) == ("Ann Owner", "1001")
        assert app_call.route_req["Custom-Channel-Vars"]["Username"] == "user_357"
        await finish(call, app_call)
    finally:
        await gateway.stop()


async def test_3_1_an_unknown_device_is_refused_before_anything_is_published(gw_bus, gateway_config, app,
                                                                             account_id, store):
    await seed_account(store, account_id, realm="acme.example.com")
    gateway = await Gateway(gw_bus, store, gateway_config).start()
    try:
        with pytest.raises(EndpointError, match="no device"):
            await gateway.place_call(account_id=account_id, device_id=secrets.token_hex(16), dial="*97")
        user = await seed_user(store, account_id, first_name="Not a device")
        with pytest.raises(EndpointError, match="user"):
            await gateway.place_call(account_id=account_id, device_id=user["_id"], dial="*97")
        await asyncio.sleep(0.1)
        assert not app.route_reqs
    finally:
        await gateway.stop()


async def test_3_1_first_non_deferred_response_wins(gateway, app_bus, account_id, endpoint):
    deferred = await _app(app_bus, account_id, name="deferred", defer=True)
    slower = await _app(app_bus, account_id, name="slower", delay=0.1)
    try:
        started = time.monotonic()
        call = await gateway.start_call(endpoint=endpoint, dial="*97")
        app_call = await slower.next_call()
        assert time.monotonic() - started < 0.5, "a non-deferred answer wins without waiting for the timeout"
        await asyncio.sleep(0.1)
        assert not deferred.wins and len(slower.wins) == 1
        await finish(call, app_call)
    finally:
        await deferred.stop()
        await slower.stop()


async def test_3_1_the_first_of_several_non_deferred_responses_wins_at_once(gateway, app_bus, account_id, endpoint):
    first = await _app(app_bus, account_id, name="first")
    second = await _app(app_bus, account_id, name="second", delay=0.5)
    try:
        started = time.monotonic()
        call = await gateway.start_call(endpoint=endpoint, dial="*97")
        app_call = await first.next_call()
        assert time.monotonic() - started < 0.45, "the first answer won before the second one came"
        await asyncio.sleep(0.6)
        assert not second.wins and len(second.route_reqs) == 1
        result = await finish(call, app_call)
        assert result.winner["Server-ID"] == first.replies.name
    finally:
        await first.stop()
        await second.stop()


async def test_3_1_a_deferred_response_is_used_when_nothing_else_arrives(gateway, app_bus, account_id, endpoint):
    deferred = await _app(app_bus, account_id, name="deferred", defer=True)
    try:
        started = time.monotonic()
        call = await gateway.start_call(endpoint=endpoint, dial="*97")
        app_call = await deferred.next_call()
        assert time.monotonic() - started >= gateway.config.route_timeout - 0.05, "kept until the timeout"
        result = await finish(call, app_call)
        assert result.ok and result.winner["Server-ID"] == deferred.replies.name
    finally:
        await deferred.stop()


async def test_3_1_no_route_resp_rejects_the_call_like_kazoo_604(gateway, app_bus, account_id, endpoint):
    silent = await _app(app_bus, account_id, name="silent", respond=None)
    try:
        started = time.monotonic()
        result = await gateway.place_call(endpoint=endpoint, dial="*97")
        assert time.monotonic() - started >= gateway.config.route_timeout
        assert result.status == "rejected" and (result.reject_code, result.reject_message) == \
            ("604", "no available handlers")
        assert len(silent.route_reqs) == 1 and not silent.wins
        assert "604" in result.summary() and result.transcript.texts("result")
    finally:
        await silent.stop()


async def test_3_2_an_error_route_resp_rejects_the_call_with_its_code(gateway, app_bus, account_id, endpoint):
    refusing = await _app(app_bus, account_id, name="refusing", respond="error", error=("486", "busy here"))
    try:
        result = await gateway.place_call(endpoint=endpoint, dial="*97")
        assert (result.status, result.reject_code, result.reject_message) == ("rejected", "486", "busy here")
        await asyncio.sleep(0.1)
        assert not refusing.wins
    finally:
        await refusing.stop()


async def test_3_2_pre_park_answer_answers_before_route_win(gateway, app_bus, account_id, endpoint):
    answering = await _app(app_bus, account_id, name="answering", pre_park="answer")
    try:
        call, app_call = await connect(gateway, answering, endpoint)
        assert app_call.names()[:2] == ["CHANNEL_ANSWER", "usurp_control"]
        steps = call.transcript.texts()
        assert steps.index("CHANNEL_ANSWER") < next(i for i, s in enumerate(steps) if s.startswith("route_win"))
        await finish(call, app_call)
    finally:
        await answering.stop()


async def test_3_3_route_win_carries_the_control_queue_and_the_merged_ccvs(connected, gateway, app):
    call, app_call = connected
    win = app_call.route_win
    assert win.msg_id == call.call_id == win["Call-ID"]
    assert win.server_id == win["Control-Queue"] == call.control_queue
    assert win["App-Name"] == "ecallmgr" and win["Switch-Hostname"] == gateway.config.hostname
    ccvs = win["Custom-Channel-Vars"]
    expected = dict(app_call.route_req["Custom-Channel-Vars"])
    expected.update(app.ccvs)
    expected.update({"Application-Name": "fakeapp", "Application-Node": "fakeapp@test",
                     "Ecallmgr-Node": gateway.node})
    assert ccvs == expected


async def test_3_3_each_call_has_its_own_control_queue_on_callctl_and_targeted(gateway, app, account_id):
    call_a, app_a = await connect(gateway, app, new_endpoint(account_id))
    call_b, app_b = await connect(gateway, app, new_endpoint(account_id))
    assert app_a.control_queue != app_b.control_queue
    via_targeted = await app_a.send("noop", exchange=TARGETED)
    await app_a.wait_for(completes("noop", via_targeted["Msg-ID"]))
    via_callctl = await app_b.send("noop")
    await app_b.wait_for(completes("noop", via_callctl["Msg-ID"]))
    await app_a.quiet(0.1)
    assert len(app_a.find(completes("noop"))) == 1 and len(app_b.find(completes("noop"))) == 1
    await finish(call_a, app_a)
    await finish(call_b, app_b)


async def test_8_8_usurp_control_follows_route_win_with_the_calls_fetch_id(connected, gateway):
    call, app_call = connected
    usurp = app_call.find("usurp_control")
    assert len(usurp) == 1
    fetch_id = app_call.route_req.msg_id
    assert usurp[0]["Fetch-ID"] == fetch_id == app_call.route_win["Custom-Channel-Vars"]["Fetch-ID"]
    assert usurp[0]["Reason"] == "Route-Win" and usurp[0]["Media-Node"] == gateway.node
    assert usurp[0]["Event-Category"] == "call_event" and usurp[0]["Call-ID"] == call.call_id
    steps = call.transcript.texts("route")
    win = next(i for i, s in enumerate(steps) if s.startswith("route_win"))
    assert steps[win + 1].startswith("usurp_control"), "usurp_control right after route_win"
    assert app_call.names()[0] == "usurp_control", "the first callevt message of the call"
