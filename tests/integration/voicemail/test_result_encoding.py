"""A session result with no Erlang term still ends the action: voicemail_svc answers ``continue``
and logs why (services.messages.etf.encode_result_or_continue), on the real broker.

Before the fix the encoder raised, no action.result went out, and KAZOO's executor would have
waited for one until the call ended.  And a result the old encoder refused although Erlang has
a term for it (a flow nested 30 nodes deep, a number past 2**2040) now goes out as it is.
"""

from __future__ import annotations

import logging
import secrets

import pytest

from services.messages.etf import ActionResult, decode_result
from tests.integration.voicemail.test_listener import Executor, make_bus, replies_of, start_service

pytestmark = pytest.mark.integration


def deep_flow(depth: int) -> dict:
    node: dict = {"module": "hangup", "data": {}}
    for index in range(depth):
        node = {"module": "play", "data": {"id": f"p{index}"}, "children": {"_": node}}
    return node


async def run_action(amqp_url, result: ActionResult):
    """Start voicemail_svc with a session that ends at once with ``result``; send it one action."""
    async def session(call, data, call_info) -> ActionResult:
        return result

    context, service = await start_service(amqp_url, session)
    bus = await make_bus(amqp_url, "callflow")
    executor = await Executor(bus).start()
    try:
        call_id = secrets.token_hex(8)
        call = {"Call-ID": call_id, "Account-ID": secrets.token_hex(16), "Control-Queue": f"ctl-{call_id}"}
        msg_id, stream = await executor.execute(call_id, call, {"action": "compose"})
        return msg_id, await replies_of(stream)
    finally:
        await service.stop(1.0)
        await context.close()
        await executor.replies.close()
        await bus.close()


@pytest.mark.parametrize("value", [
    {"module": "play", "data": {"volume": float("nan")}},
    {"module": "play", "data": {"id": "\ud800"}},
])
async def test_a_result_without_an_erlang_term_is_answered_continue(amqp_url, caplog, value):
    caplog.set_level(logging.INFO)
    msg_id, replies = await run_action(amqp_url, ActionResult("continue_with_flow", value))
    assert [r.spec.key for r in replies] == ["callflow.action.accepted", "callflow.action.result"]
    result = replies[1]
    assert result.msg_id == msg_id
    assert decode_result(result["Result"]) == ActionResult("continue")
    assert "cannot be written as an Erlang term" in caplog.text
    assert "voicemail result continue sent" in caplog.text


async def test_results_the_old_encoder_refused_go_out_as_they_are(amqp_url):
    for value in (deep_flow(30), {"module": "play", "data": {"n": 2 ** 2100}}):
        expected = ActionResult("continue_with_flow", value)
        _, replies = await run_action(amqp_url, expected)
        assert [r.spec.key for r in replies] == ["callflow.action.accepted", "callflow.action.result"]
        assert decode_result(replies[1]["Result"]) == expected
