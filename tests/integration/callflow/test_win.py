"""Winning: route_win, its timeout, destroy before the win, unknown wins (callflow.md 3.2, 3.3).

The gateway simulator places the calls and sends the route_wins; the test only slows its link
(``Wiretap.hold``) or forges what a real gateway never sends, and says so."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.callflow.harness import callflow_doc, hex32, put

pytestmark = pytest.mark.integration

ANSWER = {"module": "answer", "data": {}}


async def test_cf_043_answer_command_after_the_win(cf):
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    await cf.start()
    call = await cf.call("4200")
    answer = await cf.command(call, "answer")
    assert answer.exchange == "callctl" and answer.routing_key == call.control_queue
    assert answer["Event-Category"] == "call" and answer["Event-Name"] == "command"
    assert answer["Application-Name"] == "answer"
    assert answer["Call-ID"] == call.call_id and answer["Msg-ID"]
    result = await call.finished(10)
    assert "CHANNEL_ANSWER" in result.event_names()      # the gateway carried it out


async def test_cf_044_late_route_win_is_ignored(cf):
    await cf.store.put("system_config", {"_id": "callflow", "pvt_type": "config",
                                         "default": {"route_win_timeout": 1000}})
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    await cf.start()
    # a slow link: the gateway reads the route_resp 1.5 s after callflow_svc sent it, and only then
    # sends its route_win (its own route timeout is longer)
    slow = cf.wiretap.hold(lambda c: c.get("Event-Name") == "route_resp")
    call = await cf.dial("4200")
    await asyncio.wait_for(slow.held.wait(), 2.0)
    await asyncio.sleep(1.5)
    slow.release()
    assert await call.wait_routed(3.0)
    await cf.no_command(call, 3.0)
    # a win in time for the next call does run: the timeout, not the flow, kept the first silent
    assert (await cf.command(await cf.call("4200"), "answer"))["Application-Name"] == "answer"


async def test_cf_045_destroy_before_the_win(cf):
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    await cf.start()
    slow = cf.wiretap.hold(lambda c: c.get("Event-Name") == "route_resp")
    call = await cf.dial("4200")
    await asyncio.wait_for(slow.held.wait(), 2.0)
    assert call.call_id in cf.callflow.calls.pending
    # raw: the channel's CHANNEL_DESTROY while the gateway holds the route_resp; a real gateway never
    # sends route_win after it, the simulator (which did not hang up) does when released
    await cf.forge_event("CHANNEL_DESTROY", call, **{"Hangup-Cause": "NORMAL_CLEARING",
                                                     "Custom-Channel-Vars": {"Fetch-ID": call.fetch_id}})
    for _ in range(200):                          # callflow_svc has taken it (at most 2 s)
        if call.call_id not in cf.callflow.calls.pending:
            break
        await asyncio.sleep(0.01)
    slow.release()
    assert await call.wait_routed(3.0)
    await cf.no_command(call, 3.0)


async def test_cf_046_route_win_for_an_unknown_call(cf):
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    await cf.start()
    # raw: a route_win for a call nobody routed, which no gateway sends
    await cf.open_cq()
    unknown = f"nobody-{hex32()[:8]}"
    await cf.raw_route_win(unknown, cf.cq.name)
    await cf.cq.nothing(seconds=3.0)
    assert cf.wiretap.all(lambda c: c.get("Event-Name") == "command") == []   # nor on any gateway queue
    call = await cf.call("4200")
    assert (await cf.command(call, "answer"))["Call-ID"] == call.call_id
