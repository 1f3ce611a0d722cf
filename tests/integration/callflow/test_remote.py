"""The voicemail node run remotely: action.execute, the Call object, results, destroy, usurp
(callflow.md 3.3-3.6, bus.md 3.8).

The gateway simulator places the calls; VM (a queue on ``kapps`` ``callflow.action.voicemail``) is
answered by the test in the voicemail service's role."""

from __future__ import annotations

import re

import pytest

from services.messages.spec import DEFAULT_HEADERS
from tests.integration.callflow.harness import (ACCOUNT, ACCOUNT_DB, ACCOUNT_DB_ENCODED, DEVICE, USER,
                                                callflow_doc, put)

pytestmark = pytest.mark.integration

CONTINUE = "g2QACGNvbnRpbnVl"
STOP = "g2QABHN0b3A="
TRANSFER = "g2QACHRyYW5zZmVy"
USURP = "g2QABXVzdXJw"
CONTINUE_1 = "g2gCZAAIY29udGludWVtAAAAATE="
CONTINUE_9 = "g2gCZAAIY29udGludWVtAAAAATk="
STOP_NORMAL_CLEARING = "g2gCZAAEc3RvcG0AAAAPTk9STUFMX0NMRUFSSU5H"
CONTINUE_WITH_FLOW_CWF = ("g2gCZAASY29udGludWVfd2l0aF9mbG93aAFsAAAAAmgCbQAAAAZtb2R1bGVtAAAACXZvaWNlbWFpbGgCbQAA"
                          "AARkYXRhaAFsAAAAAWgCbQAAAAJpZG0AAAADY3dmamo=")
CHECK = {"module": "voicemail", "data": {"action": "check"}}


def vm(box: str, **extra) -> dict:
    return {"module": "voicemail", "data": {"id": box}, **extra}


def is_execute(c) -> bool:
    return c.get("Event-Name") == "action.execute"


async def check_call(cf, flow=CHECK, number="*97", *, vm=True):
    """A callflow for ``number`` running ``flow``; a call to it, won and running."""
    doc = await put(cf.store, callflow_doc(numbers=[number], flow=flow))
    await cf.start(vm=vm)
    return doc, await cf.call(number)


async def test_cf_047_action_execute_for_the_voicemail_node(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    assert execute.exchange == "kapps" and execute.routing_key == "callflow.action.voicemail"
    assert execute["Event-Category"] == "callflow" and execute["Event-Name"] == "action.execute"
    assert execute["Call-ID"] == call.call_id and execute["Data"] == {"action": "check"}
    assert re.fullmatch(r"[0-9a-f]{32}", execute["Msg-ID"])
    assert execute["Server-ID"] == (await cf.route_resp(call))["Server-ID"]
    await cf.no_execute(1.0)                                      # exactly one


async def test_cf_048_the_call_object(cf):
    doc, call = await check_call(cf)
    obj = (await cf.execute())["Call"]
    assert obj["Call-ID"] == call.call_id
    assert obj["Account-ID"] == ACCOUNT and obj["Account-DB"] == ACCOUNT_DB_ENCODED
    assert obj["Control-Queue"] == call.control_queue and obj["Request-User"] == "*97"
    assert obj["Authorizing-ID"] == DEVICE and obj["Owner-ID"] == USER
    assert obj["Custom-Channel-Vars"]["CallFlow-ID"] == doc["_id"]
    kvs = obj["Key-Value-Store"]
    assert kvs["cf_flow_id"] == doc["_id"] and kvs["remote-action"] == "voicemail"
    assert "cf_flow" not in kvs
    assert kvs["owner_id"] == USER


async def test_cf_049_route_win_ccvs_are_merged(cf):
    doc, call = await check_call(cf)
    # the simulator's route_win adds Ecallmgr-Node (its node), which its route_req did not carry
    assert "Ecallmgr-Node" not in (await cf.route_req(call))["Custom-Channel-Vars"]
    ccvs = (await cf.execute())["Call"]["Custom-Channel-Vars"]
    assert ccvs["Ecallmgr-Node"] == cf.gateway.node and ccvs["CallFlow-ID"] == doc["_id"]


async def test_cf_050_capture_group_in_kvs(cf):
    await put(cf.store, callflow_doc(patterns=[r"^\*98(\d+)$"], flow=CHECK))
    await cf.start()
    await cf.call("*98123")
    assert (await cf.execute())["Call"]["Key-Value-Store"]["cf_capture_group"] == "123"


async def test_cf_051_named_captures_in_kvs(cf):
    await put(cf.store, callflow_doc(patterns=[r"^\*98(?<box>\d+)$"], flow=CHECK))
    await cf.start()
    await cf.call("*98123")
    assert (await cf.execute())["Call"]["Key-Value-Store"]["cf_capture_groups"] == {"box": "123"}


async def test_cf_052_action_exit_keys(cf):
    await check_call(cf, {**CHECK, "children": {"1": vm("one"), "_": vm("dflt")}})
    keys = (await cf.execute())["Call"]["Key-Value-Store"]["action-exit-keys"]
    assert sorted(keys) == ["1", "_"]


async def test_cf_053_language_from_device_else_system_default(cf):
    device = await cf.store.get(ACCOUNT_DB, DEVICE)
    device = await cf.store.put(ACCOUNT_DB, {**device, "language": "fr-CA"})
    await check_call(cf)
    assert (await cf.execute())["Call"]["Language"] == "fr-ca"
    without = {k: v for k, v in device.items() if k != "language"}
    without = await cf.store.put(ACCOUNT_DB, without)
    await cf.announce("edited", without)
    await cf.call("*97")
    assert (await cf.execute())["Call"]["Language"] == "en-us"


async def test_cf_054_continue_without_children_hangs_up_once(cf):
    _doc, call = await check_call(cf)
    await cf.result(await cf.execute(), CONTINUE)
    hangup = await cf.command(call, timeout=2.0)
    assert hangup["Application-Name"] == "hangup" and hangup["Call-ID"] == call.call_id
    assert "Insert-At" not in hangup.body and "Hangup-Cause" not in hangup.body
    result = await call.finished(10)              # the gateway took commands until LINGER s after it
    assert [c["Application-Name"] for c in cf.commands(call)] == ["hangup"] and result.hung_up_by == "app"


async def test_cf_055_continue_runs_the_default_child(cf):
    flow = {**CHECK, "children": {"_": {"module": "voicemail", "data": {"action": "compose", "id": "box2"}}}}
    await check_call(cf, flow)
    first = await cf.execute()
    await cf.result(first, CONTINUE)
    second = await cf.execute()
    assert second["Data"]["id"] == "box2" and second["Msg-ID"] != first["Msg-ID"]


async def test_cf_056_continue_with_a_key(cf):
    await check_call(cf, {**CHECK, "children": {"1": vm("one"), "_": vm("dflt")}})
    await cf.result(await cf.execute(), CONTINUE_1)
    assert (await cf.execute())["Data"]["id"] == "one"


async def test_cf_057_continue_with_an_unknown_key_falls_back_to_default(cf):
    await check_call(cf, {**CHECK, "children": {"1": vm("one"), "_": vm("dflt")}})
    await cf.result(await cf.execute(), CONTINUE_9)
    assert (await cf.execute())["Data"]["id"] == "dflt"


async def test_cf_058_stop_with_cause(cf):
    _doc, call = await check_call(cf, {**CHECK, "children": {"_": vm("dflt")}})
    await cf.result(await cf.execute(), STOP_NORMAL_CLEARING)
    hangup = await cf.command(call)
    assert hangup["Application-Name"] == "hangup" and hangup["Hangup-Cause"] == "NORMAL_CLEARING"
    await call.finished(10)
    assert len(cf.vm.all(is_execute)) == 1


async def test_cf_059_stop(cf):
    _doc, call = await check_call(cf, {**CHECK, "children": {"_": vm("dflt")}})
    await cf.result(await cf.execute(), STOP)
    hangup = await cf.command(call)
    assert hangup["Application-Name"] == "hangup" and "Hangup-Cause" not in hangup.body
    await call.finished(10)
    assert [c["Application-Name"] for c in cf.commands(call)] == ["hangup"]
    assert len(cf.vm.all(is_execute)) == 1


@pytest.mark.parametrize("result", [TRANSFER, USURP], ids=["transfer", "usurp"])
async def test_cf_060_transfer_and_usurp_end_without_hangup(cf, result):
    _doc, call = await check_call(cf)
    await cf.result(await cf.execute(), result)
    await cf.no_command(call, 3.0)
    assert cf.commands(call) == []


async def test_cf_061_continue_with_flow(cf):
    await check_call(cf)
    await cf.result(await cf.execute(), CONTINUE_WITH_FLOW_CWF)
    assert (await cf.execute())["Data"]["id"] == "cwf"


async def test_cf_061_json_result_is_accepted_too(cf):
    await check_call(cf)
    await cf.result(await cf.execute(), '{"continue_with_flow": {"module": "voicemail", "data": {"id": "json"}}}')
    assert (await cf.execute())["Data"]["id"] == "json"


async def test_cf_062_remote_unavailable_branch(cf):
    _doc, call = await check_call(cf, {**CHECK, "children": {
        "REMOTE_UNAVAILABLE": {"module": "answer", "data": {}}, "_": {"module": "hangup", "data": {}}}}, vm=False)
    assert (await cf.command(call))["Application-Name"] == "answer"


async def test_cf_063_remote_unavailable_falls_back_to_default_then_stop(cf):
    await put(cf.store, callflow_doc(numbers=["*96"], flow=CHECK))
    _doc, call = await check_call(cf, {**CHECK, "children": {"_": {"module": "answer", "data": {}}}}, vm=False)
    assert (await cf.command(call))["Application-Name"] == "answer"
    bare = await cf.call("*96")
    assert (await cf.command(bare))["Application-Name"] == "hangup"


async def test_cf_064_result_with_a_wrong_msg_id_is_ignored(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    await cf.result(execute, CONTINUE, msg_id="f" * 32)
    await cf.no_command(call, 2.0)
    await cf.result(execute, CONTINUE)
    assert (await cf.command(call))["Application-Name"] == "hangup"


async def test_cf_065_accepted_alone_changes_nothing(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    await cf.accepted(execute)
    await cf.no_command(call, 5.0)
    await cf.result(execute, CONTINUE)        # still waiting: the result ends it
    assert (await cf.command(call))["Application-Name"] == "hangup"


async def test_cf_066_destroy_while_the_action_runs(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    call.hangup()                             # the caller hangs up: the gateway's CHANNEL_DESTROY
    await cf.events.first(lambda c: c.get("Event-Name") == "CHANNEL_DESTROY" and c.get("Call-ID") == call.call_id)
    await cf.result(execute, CONTINUE)        # queued behind the destroy on callflow_svc's queue
    result = await call.finished(10)          # the gateway took commands until LINGER s after its destroy
    assert cf.commands(call) == [] and result.commands == []
    assert len(cf.vm.all(is_execute)) == 1


async def test_cf_072_usurp_by_another_fetch_id(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    # raw: another route's usurp_control (a transfer re-routed the call elsewhere); the simulator
    # routes each call once and never sends one with another Fetch-ID
    usurp = await cf.forge_event("usurp_control", call, **{"Fetch-ID": "other", "Reason": "Route-Win"})
    await cf.events.first(lambda c: c.get("Msg-ID") == usurp["Msg-ID"])
    await cf.result(execute, CONTINUE)        # same connection as the usurp: behind it on the queue
    await cf.no_command(call, 3.0)
    assert cf.commands(call) == []


async def test_cf_073_usurp_with_our_own_fetch_id_is_ignored(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    # raw: the simulator's own usurp_control (Fetch-ID M) goes out with its route_win, before
    # callflow_svc binds the call's events (docs/deviations.md); the test repeats it word for word
    # while the action runs
    usurp = await cf.forge_event("usurp_control", call, **{"Fetch-ID": call.fetch_id, "Reason": "Route-Win",
                                                           "Media-Node": cf.gateway.node})
    await cf.events.first(lambda c: c.get("Msg-ID") == usurp["Msg-ID"])
    await cf.result(execute, CONTINUE)
    assert (await cf.command(call))["Application-Name"] == "hangup"


async def test_cf_077_everything_published_is_json_with_default_headers(cf):
    _doc, call = await check_call(cf)
    execute = await cf.execute()
    await cf.result(execute, CONTINUE)
    await cf.command(call, "hangup")
    await call.finished(10)
    published = [c for c in cf.wiretap.seen + cf.vm.seen if c.get("App-Name") == "callflow"]
    assert {c.exchange for c in published} == {"targeted", "kapps", "callctl"}
    for item in published:
        assert item.content_type == "application/json"
        for header in DEFAULT_HEADERS:
            assert isinstance(item.get(header), str) and item.get(header), (header, item.body)
        if item.exchange == "callctl":
            assert item["Call-ID"] == call.call_id
