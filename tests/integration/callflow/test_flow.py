"""Executor semantics and the local modules (callflow.md 3.4, 3.7, 2.8).

The gateway simulator places each call and carries out what callflow_svc sends; a call's commands
are those delivered on its control queue, its end the gateway's CallResult."""

from __future__ import annotations

import pytest

from services.messages import catalogue
from testkit.media import put_media, seed_system_prompts
from tests.integration.callflow.harness import ACCOUNT, ACCOUNT_DB, callflow_doc, put

pytestmark = pytest.mark.integration

CONTINUE = "g2QACGNvbnRpbnVl"
ANSWER = {"module": "answer", "data": {}}


async def run(cf, flow, number="4300", *, vm=True, **gateway_options):
    await put(cf.store, callflow_doc(numbers=[number], flow=flow))
    await cf.start(vm=vm, **gateway_options)
    return await cf.call(number)


def applications(cf, call) -> list[str]:
    return [c["Application-Name"] for c in cf.commands(call)]


async def test_cf_067_skip_module(cf):
    call = await run(cf, {"module": "voicemail", "data": {"skip_module": True}, "children": {"_": ANSWER}})
    assert (await cf.command(call))["Application-Name"] == "answer"
    await call.finished(10)
    assert cf.vm.all(lambda c: c.get("Event-Name") == "action.execute") == []


async def test_cf_068_unknown_module_is_skipped(cf):
    call = await run(cf, {"module": "no_such_module", "data": {}, "children": {"_": ANSWER}})
    assert (await cf.command(call))["Application-Name"] == "answer"


async def test_cf_069_empty_flow_hangs_up(cf):
    call = await run(cf, {})
    result = await call.finished(10)              # LINGER after the hangup: later commands would show
    assert applications(cf, call) == ["hangup"] and result.commands == ["hangup"]
    assert result.hung_up_by == "app"


async def test_cf_070_callflow_module_branches_and_returns(cf):
    z = await put(cf.store, callflow_doc(numbers=["4399"], flow={"module": "voicemail", "data": {"id": "z"}}))
    await run(cf, {"module": "callflow", "data": {"id": z["_id"]},
                   "children": {"_": {"module": "voicemail", "data": {"id": "after"}}}})
    first = await cf.execute()
    assert first["Data"]["id"] == "z"
    await cf.result(first, CONTINUE)
    assert (await cf.execute())["Data"]["id"] == "after"


async def test_cf_071_preflow_runs_first(cf):
    pre = await put(cf.store, callflow_doc(numbers=["4398"], flow={"module": "voicemail", "data": {"id": "pre"}}))
    account = await cf.store.get(ACCOUNT_DB, ACCOUNT)
    await cf.store.put(ACCOUNT_DB, {**account, "preflow": {"always": pre["_id"]}})
    await run(cf, {"module": "voicemail", "data": {"action": "check"}}, number="*97")
    first = await cf.execute()
    assert first["Data"]["id"] == "pre"
    await cf.result(first, CONTINUE)
    assert (await cf.execute())["Data"] == {"action": "check"}


async def test_cf_074_hangup_module(cf):
    call = await run(cf, {"module": "hangup", "data": {}})
    result = await call.finished(10)
    assert 1 <= len(applications(cf, call)) <= 2
    assert set(applications(cf, call)) == {"hangup"} and set(result.commands) == {"hangup"}


async def test_hangup_module_sends_exactly_one_hangup(cf):
    """Not two (KAZOO usually sends a second, callflow.md 3.7): the flow's own hangup ends it, even when
    the gateway has not hung up yet because the hangup waits behind media still playing."""
    flow = {"module": "voicemail", "data": {"action": "check"}, "children": {"_": {"module": "hangup", "data": {}}}}
    await seed_system_prompts(cf.store, extra=("vm-goodbye",))          # played as /system_media/vm-goodbye
    call = await run(cf, flow, media_seconds={"vm-goodbye": 50.0})        # 0.5 s real
    execute = await cf.execute()
    # VM (the voicemail service's role) says goodbye on the call, then lets the flow continue
    await cf.tester.publish(catalogue.COMMANDS["play"], {"Call-ID": call.call_id,
                                                         "Media-Name": "/system_media/vm-goodbye"},
                            to=execute["Call"]["Control-Queue"])
    await cf.command(call, "play")
    await cf.result(execute, CONTINUE)
    result = await call.finished(10)              # the gateway took commands until LINGER s after the last
    assert applications(cf, call) == ["play", "hangup"], result.transcript
    assert result.prompts == ["vm-goodbye"] and result.hung_up_by == "app"
    assert not any("hangup after hangup" in text for text in result.transcript.texts("command"))


async def test_cf_075_play(cf):
    # greet1 plays 50 simulated s (0.5 s real): long enough to tell waiting for the noop from not
    await put_media(cf.store, ACCOUNT, "greet1")       # the gateway fetches it (media_req + GET)
    call = await run(cf, {"module": "play", "data": {"id": "greet1"}}, media_seconds={"greet1": 50.0})
    assert (await cf.command(call))["Application-Name"] == "answer"
    queue = await cf.command(call, "queue")
    noop, play = queue["Commands"]
    assert noop["Application-Name"] == "noop" and play["Application-Name"] == "play"
    assert play["Media-Name"] == f"/{ACCOUNT}/greet1"
    hangup = await cf.command(call, "hangup", timeout=5.0)
    assert applications(cf, call) == ["answer", "queue", "hangup"]
    result = await call.finished(10)
    # the gateway completed the noop (Application-Response N) after the play; only then came the hangup
    steps = list(result.transcript)
    noop_done = next(i for i, s in enumerate(steps) if s.kind == "event" and "CHANNEL_EXECUTE_COMPLETE" in s.text
                     and "noop" in s.text)
    hangup_in = next(i for i, s in enumerate(steps) if s.kind == "command" and s.data.get("application") == "hangup")
    assert noop_done < hangup_in
    completion = next(e for e in result.events if e["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE"
                      and e.get("Application-Name") == "noop")
    assert completion["Application-Response"] == noop["Msg-ID"]
    assert hangup.at - queue.at >= 0.4


async def test_cf_076_sleep(cf):
    call = await run(cf, {"module": "sleep", "data": {"duration": 1}, "children": {"_": ANSWER}})
    won = next(s.t for s in call.transcript if s.kind == "route" and s.text.startswith("route_win"))
    answer = await cf.command(call, "answer", timeout=3.0)
    assert applications(cf, call)[0] == "answer"     # nothing before it
    answered = answer.at - call.transcript.started
    assert 0.9 <= answered - won <= 2.5
