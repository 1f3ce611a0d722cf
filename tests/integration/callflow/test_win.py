"""Winning: route_win, its timeout, destroy before the win, unknown wins (callflow.md 3.2, 3.3)."""

from __future__ import annotations

import asyncio

import pytest

from services.messages import catalogue
from tests.integration.callflow.harness import ACCOUNT, callflow_doc, put

pytestmark = pytest.mark.integration

ANSWER = {"module": "answer", "data": {}}


async def test_cf_043_answer_command_after_the_win(cf):
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    gw = await cf.start()
    req, _resp = await gw.call("4200")
    answer = await gw.command()
    assert answer.exchange == "callctl" and answer.routing_key == gw.cq.name
    assert answer["Event-Category"] == "call" and answer["Event-Name"] == "command"
    assert answer["Application-Name"] == "answer"
    assert answer["Call-ID"] == req["Call-ID"] and answer["Msg-ID"]


async def test_cf_044_late_route_win_is_ignored(cf):
    await cf.store.put("system_config", {"_id": "callflow", "pvt_type": "config",
                                         "default": {"route_win_timeout": 1000}})
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    gw = await cf.start()
    resp = await gw.route_resp(await gw.route_req("4200"))
    await asyncio.sleep(1.5)
    await gw.win(resp)
    await gw.cq.nothing(3.0)
    # a win in time for the next call does run: the timeout, not the flow, kept the first silent
    await gw.call("4200")
    assert (await gw.command())["Application-Name"] == "answer"


async def test_cf_045_destroy_before_the_win(cf):
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    gw = await cf.start()
    req = await gw.route_req("4200")
    resp = await gw.route_resp(req)
    await gw.destroy(req["Call-ID"], fetch_id=req["Msg-ID"])
    await asyncio.sleep(0.2)
    await gw.win(resp)
    await gw.cq.nothing(3.0)


async def test_cf_046_route_win_for_an_unknown_call(cf):
    await put(cf.store, callflow_doc(numbers=["4200"], flow=ANSWER))
    gw = await cf.start()
    await gw.bus.publish(catalogue.ROUTE_WIN, {"Msg-ID": "nobody", "Call-ID": "nobody",
                                               "Control-Queue": gw.cq.name,
                                               "Custom-Channel-Vars": {"Account-ID": ACCOUNT}},
                         to=cf.callflow.server_id)
    await gw.cq.nothing(3.0)
    req, _ = await gw.call("4200")
    assert (await gw.command())["Call-ID"] == req["Call-ID"]
