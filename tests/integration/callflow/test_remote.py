"""The voicemail node run remotely: action.execute, the Call object, results, destroy, usurp
(callflow.md 3.3-3.6, bus.md 3.8)."""

from __future__ import annotations

import asyncio
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


async def start_check(cf, flow=CHECK, number="*97", **ccvs):
    doc = await put(cf.store, callflow_doc(numbers=[number], flow=flow))
    gw = await cf.start()
    req = await gw.route_req(number, ccvs=ccvs or None)
    resp = await gw.route_resp(req)
    return gw, doc, req, resp


async def test_cf_047_action_execute_for_the_voicemail_node(cf):
    gw, _doc, req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    assert execute.exchange == "kapps" and execute.routing_key == "callflow.action.voicemail"
    assert execute["Event-Category"] == "callflow" and execute["Event-Name"] == "action.execute"
    assert execute["Call-ID"] == req["Call-ID"] and execute["Data"] == {"action": "check"}
    assert re.fullmatch(r"[0-9a-f]{32}", execute["Msg-ID"])
    assert execute["Server-ID"] == resp["Server-ID"]
    await gw.vm.nothing(1.0, where=lambda c: c.get("Event-Name") == "action.execute")   # exactly one


async def test_cf_048_the_call_object(cf):
    gw, doc, req, resp = await start_check(cf)
    await gw.win(resp)
    call = (await gw.execute())["Call"]
    assert call["Call-ID"] == req["Call-ID"]
    assert call["Account-ID"] == ACCOUNT and call["Account-DB"] == ACCOUNT_DB_ENCODED
    assert call["Control-Queue"] == gw.cq.name and call["Request-User"] == "*97"
    assert call["Authorizing-ID"] == DEVICE and call["Owner-ID"] == USER
    assert call["Custom-Channel-Vars"]["CallFlow-ID"] == doc["_id"]
    kvs = call["Key-Value-Store"]
    assert kvs["cf_flow_id"] == doc["_id"] and kvs["remote-action"] == "voicemail"
    assert "cf_flow" not in kvs
    assert kvs["owner_id"] == USER


async def test_cf_049_route_win_ccvs_are_merged(cf):
    gw, doc, _req, resp = await start_check(cf)
    await gw.win(resp, ccvs={"Ecallmgr-Node": "gw@sim"})
    ccvs = (await gw.execute())["Call"]["Custom-Channel-Vars"]
    assert ccvs["Ecallmgr-Node"] == "gw@sim" and ccvs["CallFlow-ID"] == doc["_id"]


async def test_cf_050_capture_group_in_kvs(cf):
    await put(cf.store, callflow_doc(patterns=[r"^\*98(\d+)$"], flow=CHECK))
    gw = await cf.start()
    await gw.call("*98123")
    assert (await gw.execute())["Call"]["Key-Value-Store"]["cf_capture_group"] == "123"


async def test_cf_051_named_captures_in_kvs(cf):
    await put(cf.store, callflow_doc(patterns=[r"^\*98(?<box>\d+)$"], flow=CHECK))
    gw = await cf.start()
    await gw.call("*98123")
    assert (await gw.execute())["Call"]["Key-Value-Store"]["cf_capture_groups"] == {"box": "123"}


async def test_cf_052_action_exit_keys(cf):
    flow = {**CHECK, "children": {"1": vm("one"), "_": vm("dflt")}}
    gw, _doc, _req, resp = await start_check(cf, flow)
    await gw.win(resp)
    keys = (await gw.execute())["Call"]["Key-Value-Store"]["action-exit-keys"]
    assert sorted(keys) == ["1", "_"]


async def test_cf_053_language_from_device_else_system_default(cf):
    device = await cf.store.get(ACCOUNT_DB, DEVICE)
    device = await cf.store.put(ACCOUNT_DB, {**device, "language": "fr-CA"})
    gw, _doc, _req, resp = await start_check(cf)
    await gw.win(resp)
    assert (await gw.execute())["Call"]["Language"] == "fr-ca"
    without = {k: v for k, v in device.items() if k != "language"}
    without = await cf.store.put(ACCOUNT_DB, without)
    await gw.doc_event("edited", without)
    await asyncio.sleep(0.2)
    await gw.call("*97")
    assert (await gw.execute())["Call"]["Language"] == "en-us"


async def test_cf_054_continue_without_children_hangs_up_once(cf):
    gw, _doc, req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.result(execute, CONTINUE)
    hangup = await gw.command(timeout=2.0)
    assert hangup["Application-Name"] == "hangup" and hangup["Call-ID"] == req["Call-ID"]
    assert "Insert-At" not in hangup.body and "Hangup-Cause" not in hangup.body
    await gw.cq.nothing(2.0)


async def test_cf_055_continue_runs_the_default_child(cf):
    flow = {**CHECK, "children": {"_": {"module": "voicemail", "data": {"action": "compose", "id": "box2"}}}}
    gw, _doc, _req, resp = await start_check(cf, flow)
    await gw.win(resp)
    first = await gw.execute()
    await gw.result(first, CONTINUE)
    second = await gw.execute()
    assert second["Data"]["id"] == "box2" and second["Msg-ID"] != first["Msg-ID"]


async def test_cf_056_continue_with_a_key(cf):
    gw, _doc, _req, resp = await start_check(cf, {**CHECK, "children": {"1": vm("one"), "_": vm("dflt")}})
    await gw.win(resp)
    await gw.result(await gw.execute(), CONTINUE_1)
    assert (await gw.execute())["Data"]["id"] == "one"


async def test_cf_057_continue_with_an_unknown_key_falls_back_to_default(cf):
    gw, _doc, _req, resp = await start_check(cf, {**CHECK, "children": {"1": vm("one"), "_": vm("dflt")}})
    await gw.win(resp)
    await gw.result(await gw.execute(), CONTINUE_9)
    assert (await gw.execute())["Data"]["id"] == "dflt"


async def test_cf_058_stop_with_cause(cf):
    gw, _doc, _req, resp = await start_check(cf, {**CHECK, "children": {"_": vm("dflt")}})
    await gw.win(resp)
    await gw.result(await gw.execute(), STOP_NORMAL_CLEARING)
    hangup = await gw.command()
    assert hangup["Application-Name"] == "hangup" and hangup["Hangup-Cause"] == "NORMAL_CLEARING"
    await gw.vm.nothing(1.5, where=lambda c: c.get("Event-Name") == "action.execute")


async def test_cf_059_stop(cf):
    gw, _doc, _req, resp = await start_check(cf, {**CHECK, "children": {"_": vm("dflt")}})
    await gw.win(resp)
    await gw.result(await gw.execute(), STOP)
    hangup = await gw.command()
    assert hangup["Application-Name"] == "hangup" and "Hangup-Cause" not in hangup.body
    await gw.cq.nothing(1.5)
    await gw.vm.nothing(0.1, where=lambda c: c.get("Event-Name") == "action.execute")


@pytest.mark.parametrize("result", [TRANSFER, USURP], ids=["transfer", "usurp"])
async def test_cf_060_transfer_and_usurp_end_without_hangup(cf, result):
    gw, _doc, _req, resp = await start_check(cf)
    await gw.win(resp)
    await gw.result(await gw.execute(), result)
    await gw.cq.nothing(3.0)


async def test_cf_061_continue_with_flow(cf):
    gw, _doc, _req, resp = await start_check(cf)
    await gw.win(resp)
    await gw.result(await gw.execute(), CONTINUE_WITH_FLOW_CWF)
    assert (await gw.execute())["Data"]["id"] == "cwf"


async def test_cf_061_json_result_is_accepted_too(cf):
    gw, _doc, _req, resp = await start_check(cf)
    await gw.win(resp)
    await gw.result(await gw.execute(), '{"continue_with_flow": {"module": "voicemail", "data": {"id": "json"}}}')
    assert (await gw.execute())["Data"]["id"] == "json"


async def test_cf_062_remote_unavailable_branch(cf):
    await put(cf.store, callflow_doc(numbers=["*97"], flow={**CHECK, "children": {
        "REMOTE_UNAVAILABLE": {"module": "answer", "data": {}}, "_": {"module": "hangup", "data": {}}}}))
    gw = await cf.start(vm=False)
    await gw.call("*97")
    assert (await gw.command())["Application-Name"] == "answer"


async def test_cf_063_remote_unavailable_falls_back_to_default_then_stop(cf):
    await put(cf.store, callflow_doc(numbers=["*97"], flow={**CHECK, "children": {
        "_": {"module": "answer", "data": {}}}}))
    await put(cf.store, callflow_doc(numbers=["*96"], flow=CHECK))
    gw = await cf.start(vm=False)
    await gw.call("*97")
    assert (await gw.command())["Application-Name"] == "answer"
    req, _ = await gw.call("*96")
    hangup = await gw.cq.next(2.0, where=lambda c: c.get("Call-ID") == req["Call-ID"])
    assert hangup["Application-Name"] == "hangup"


async def test_cf_064_result_with_a_wrong_msg_id_is_ignored(cf):
    gw, _doc, _req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.result(execute, CONTINUE, msg_id="f" * 32)
    await gw.cq.nothing(2.0)
    await gw.result(execute, CONTINUE)
    assert (await gw.command())["Application-Name"] == "hangup"


async def test_cf_065_accepted_alone_changes_nothing(cf):
    gw, _doc, _req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.accepted(execute)
    await gw.cq.nothing(5.0)
    await gw.result(execute, CONTINUE)        # still waiting: the result ends it
    assert (await gw.command())["Application-Name"] == "hangup"


async def test_cf_066_destroy_while_the_action_runs(cf):
    gw, _doc, req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.destroy(req["Call-ID"], fetch_id=req["Msg-ID"])
    await gw.cq.nothing(1.5)
    await gw.result(execute, CONTINUE)
    await gw.cq.nothing(1.5)
    await gw.vm.nothing(0.1, where=lambda c: c.get("Event-Name") == "action.execute")


async def test_cf_072_usurp_by_another_fetch_id(cf):
    gw, _doc, req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.usurp(req["Call-ID"], "other")
    await asyncio.sleep(0.3)
    await gw.result(execute, CONTINUE)
    await gw.cq.nothing(3.0)


async def test_cf_073_usurp_with_our_own_fetch_id_is_ignored(cf):
    gw, _doc, req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.usurp(req["Call-ID"], req["Msg-ID"])
    await asyncio.sleep(0.3)
    await gw.result(execute, CONTINUE)
    assert (await gw.command())["Application-Name"] == "hangup"


async def test_cf_077_everything_published_is_json_with_default_headers(cf):
    gw, _doc, req, resp = await start_check(cf)
    await gw.win(resp)
    execute = await gw.execute()
    await gw.result(execute, CONTINUE)
    await gw.command()
    published = [c for c in gw.gq.seen + gw.vm.seen + gw.cq.seen if c.get("App-Name") == "callflow"]
    assert {c.exchange for c in published} == {"targeted", "kapps", "callctl"}
    for item in published:
        assert item.content_type == "application/json"
        for header in DEFAULT_HEADERS:
            assert isinstance(item.get(header), str) and item.get(header), (header, item.body)
        if item.exchange == "callctl":
            assert item["Call-ID"] == req["Call-ID"]
