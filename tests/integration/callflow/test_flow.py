"""Executor semantics and the local modules (callflow.md 3.4, 3.7, 2.8)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.callflow.harness import ACCOUNT, ACCOUNT_DB, callflow_doc, put

pytestmark = pytest.mark.integration

CONTINUE = "g2QACGNvbnRpbnVl"
ANSWER = {"module": "answer", "data": {}}


async def run(cf, flow, number="4300", *, vm=True):
    await put(cf.store, callflow_doc(numbers=[number], flow=flow))
    gw = await cf.start(vm=vm)
    req, resp = await gw.call(number)
    return gw, req


async def test_cf_067_skip_module(cf):
    gw, _req = await run(cf, {"module": "voicemail", "data": {"skip_module": True}, "children": {"_": ANSWER}})
    assert (await gw.command())["Application-Name"] == "answer"
    await gw.vm.nothing(0.5, where=lambda c: c.get("Event-Name") == "action.execute")


async def test_cf_068_unknown_module_is_skipped(cf):
    gw, _req = await run(cf, {"module": "no_such_module", "data": {}, "children": {"_": ANSWER}})
    assert (await gw.command())["Application-Name"] == "answer"


async def test_cf_069_empty_flow_hangs_up(cf):
    gw, _req = await run(cf, {})
    assert (await gw.command())["Application-Name"] == "hangup"
    await gw.cq.nothing(1.5)


async def test_cf_070_callflow_module_branches_and_returns(cf):
    z = await put(cf.store, callflow_doc(numbers=["4399"], flow={"module": "voicemail", "data": {"id": "z"}}))
    gw, _req = await run(cf, {"module": "callflow", "data": {"id": z["_id"]},
                              "children": {"_": {"module": "voicemail", "data": {"id": "after"}}}})
    first = await gw.execute()
    assert first["Data"]["id"] == "z"
    await gw.result(first, CONTINUE)
    assert (await gw.execute())["Data"]["id"] == "after"


async def test_cf_071_preflow_runs_first(cf):
    pre = await put(cf.store, callflow_doc(numbers=["4398"], flow={"module": "voicemail", "data": {"id": "pre"}}))
    account = await cf.store.get(ACCOUNT_DB, ACCOUNT)
    await cf.store.put(ACCOUNT_DB, {**account, "preflow": {"always": pre["_id"]}})
    gw, _req = await run(cf, {"module": "voicemail", "data": {"action": "check"}}, number="*97")
    first = await gw.execute()
    assert first["Data"]["id"] == "pre"
    await gw.result(first, CONTINUE)
    assert (await gw.execute())["Data"] == {"action": "check"}


async def test_cf_074_hangup_module(cf):
    gw, _req = await run(cf, {"module": "hangup", "data": {}})
    commands = [await gw.command()]
    await asyncio.sleep(1.5)
    commands += gw.cq.drain()
    assert 1 <= len(commands) <= 2
    assert all(c["Application-Name"] == "hangup" for c in commands)


async def test_cf_075_play(cf):
    gw, req = await run(cf, {"module": "play", "data": {"id": "greet1"}})
    assert (await gw.command())["Application-Name"] == "answer"
    queue = await gw.command()
    assert queue["Application-Name"] == "queue"
    noop, play = queue["Commands"]
    assert noop["Application-Name"] == "noop" and play["Application-Name"] == "play"
    assert play["Media-Name"] == f"/{ACCOUNT}/greet1"
    await gw.cq.nothing(1.0)                         # waits for the noop before going on
    await gw.event("CHANNEL_EXECUTE_COMPLETE", req["Call-ID"], **{
        "Application-Name": "noop", "Application-Response": noop["Msg-ID"]})
    assert (await gw.command())["Application-Name"] == "hangup"


async def test_cf_076_sleep(cf):
    await put(cf.store, callflow_doc(numbers=["4300"], flow={"module": "sleep", "data": {"duration": 1},
                                                              "children": {"_": ANSWER}}))
    gw = await cf.start()
    await gw.call("4300")
    won = time.monotonic()
    await gw.cq.nothing(0.8)
    answer = await gw.command(timeout=2.0)
    assert answer["Application-Name"] == "answer"
    assert 0.9 <= time.monotonic() - won <= 2.0
