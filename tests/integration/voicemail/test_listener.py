"""voicemail_svc taking actions on the real broker (bus.md 3.8.7): accepted, one result, drain."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from services.bus import codec
from services.exchanges import KAPPS, callflow_action_key
from services.messages import catalogue as m
from services.messages.etf import ActionResult, decode_result
from services.runtime import ServiceContext
from services.settings import Settings
from voicemail_svc.app import action_name, build

from tests.integration.voicemail.conftest import FAST_TIMERS, make_bus, park_call


async def answer_and_continue(control, data, call_info) -> ActionResult:
    """The listener alone, without the voicemail module: compose and check answer, then continue;
    any other action does nothing (what the service's action table does for an unknown action)."""
    if action_name(data) in ("compose", "check"):
        await control.answer()
    return ActionResult("continue")


class Executor:
    """What callflow_svc does on the wire for a remote voicemail node."""

    def __init__(self, bus) -> None:
        self.bus = bus

    async def start(self) -> "Executor":
        self.replies = await self.bus.reply_queue("executor")
        return self

    async def execute(self, call_id: str, call: dict, data: dict):
        body = self.bus.publisher.build(m.ACTION_EXECUTE, {"Call-ID": call_id, "Call": call, "Data": data},
                                        server_id=self.replies.name)
        stream = self.replies.stream(body["Msg-ID"])
        await self.bus.publisher.send(m.ACTION_EXECUTE, body, to="voicemail")
        return body["Msg-ID"], stream

    async def execute_raw(self, body: dict):
        stream = self.replies.stream(body["Msg-ID"])
        await self.bus.transport.publish(KAPPS, callflow_action_key("voicemail"), codec.encode(body))
        return stream


async def replies_of(stream, *, quiet: float = 0.4, first_timeout: float = 5.0) -> list:
    """Every reply of one action until none arrives for ``quiet`` seconds after a result."""
    got = []
    while True:
        timeout = quiet if any(r.spec.key == "callflow.action.result" for r in got) else first_timeout
        try:
            got.append(await stream.next(timeout))
        except asyncio.TimeoutError:
            return got


@pytest.fixture
async def executor(amqp_url):
    bus = await make_bus(amqp_url, "callflow")
    ex = await Executor(bus).start()
    yield ex
    await ex.replies.close()
    await bus.close()


async def start_service(amqp_url, session=answer_and_continue):
    context = ServiceContext(Settings(amqp_url=amqp_url))
    service = build(context, timers=FAST_TIMERS, session=session)
    await service.start()
    return context, service


@pytest.fixture
async def vm_service_factory(amqp_url):
    started = []

    async def factory(session=answer_and_continue):
        context, service = await start_service(amqp_url, session)
        started.append((context, service))
        return service

    yield factory
    for context, service in started:
        await service.stop(1.0)
        await context.close()


def call_object(call, win, account_id: str) -> dict:
    return {"Call-ID": call.call_id, "Account-ID": account_id, "Control-Queue": win["Control-Queue"],
            "Language": "en-us", "Key-Value-Store": {"remote-action": "voicemail"}}


async def test_action_is_accepted_then_answered_with_exactly_one_result(vm_service_factory, executor, gateway,
                                                                        router, account_id):
    service = await vm_service_factory()
    assert service.ready
    call, win = await park_call(gateway, router, account_id)
    msg_id, stream = await executor.execute(call.call_id, call_object(call, win, account_id), {"action": "check"})
    replies = await replies_of(stream)
    assert [r.spec.key for r in replies] == ["callflow.action.accepted", "callflow.action.result"]
    assert all(r.msg_id == msg_id and r.call_id == call.call_id for r in replies)
    assert decode_result(replies[1]["Result"]) == ActionResult("continue")
    assert call.control.state.answered             # check answers before anything else
    assert service.listener.streams == {}          # the binding is gone with the session
    call.hangup()
    await call.finished(timeout=10)


async def test_unknown_action_does_not_answer_and_continues(vm_service_factory, executor, gateway, router,
                                                            account_id):
    await vm_service_factory()
    call, win = await park_call(gateway, router, account_id)
    _, stream = await executor.execute(call.call_id, call_object(call, win, account_id), {"action": "dance"})
    replies = await replies_of(stream)
    assert decode_result(replies[-1]["Result"]) == ActionResult("continue")
    assert not call.control.state.answered
    call.hangup()
    await call.finished(timeout=10)


async def test_session_result_is_sent_as_an_erlang_term(vm_service_factory, executor, gateway, router, account_id):
    async def session(control, data, call_info):
        await control.play(control.prompt("short"))
        return ActionResult("stop", "NORMAL_CLEARING")

    await vm_service_factory(session)
    call, win = await park_call(gateway, router, account_id)
    _, stream = await executor.execute(call.call_id, call_object(call, win, account_id), {})
    replies = await replies_of(stream)
    assert replies[-1]["Result"] == "g2gCZAAEc3RvcG0AAAAPTk9STUFMX0NMRUFSSU5H"
    call.hangup()
    await call.finished(timeout=10)


async def test_invalid_action_with_ids_is_answered_with_continue(vm_service_factory, executor):
    await vm_service_factory()
    body = {"Event-Category": "callflow", "Event-Name": "action.execute", "App-Name": "callflow",
            "App-Version": "4.0.0", "Msg-ID": secrets.token_hex(16), "Server-ID": executor.replies.name,
            "Call-ID": secrets.token_hex(8)}                       # no Call
    stream = await executor.execute_raw(body)
    replies = await replies_of(stream)
    assert [r.spec.key for r in replies] == ["callflow.action.result"]
    assert decode_result(replies[0]["Result"]) == ActionResult("continue")


async def test_result_is_still_sent_after_the_caller_hung_up(vm_service_factory, executor, gateway, router,
                                                             account_id):
    async def session(control, data, call_info):
        await control.answer()
        while True:
            await control.play(control.prompt("long"))

    await vm_service_factory(session)
    call, win = await park_call(gateway, router, account_id)
    _, stream = await executor.execute(call.call_id, call_object(call, win, account_id), {})
    first = await stream.next(5)
    assert first.spec.key == "callflow.action.accepted"
    await asyncio.sleep(0.3)
    call.hangup()
    replies = await replies_of(stream)
    assert [r.spec.key for r in replies] == ["callflow.action.result"]
    assert decode_result(replies[0]["Result"]) == ActionResult("continue")
    await call.finished(timeout=10)


async def test_stop_waits_for_running_sessions(vm_service_factory, executor, gateway, router, account_id):
    async def session(control, data, call_info):
        await asyncio.sleep(0.5)
        return ActionResult("stop")

    service = await vm_service_factory(session)
    call, win = await park_call(gateway, router, account_id)
    _, stream = await executor.execute(call.call_id, call_object(call, win, account_id), {})
    assert (await stream.next(5)).spec.key == "callflow.action.accepted"
    assert await service.stop(5.0) is True
    result = await stream.next(1.0)
    assert decode_result(result["Result"]) == ActionResult("stop")
    call.hangup()
    await call.finished(timeout=10)


async def test_stop_cancels_sessions_past_the_drain_time_and_still_answers(vm_service_factory, executor, gateway,
                                                                          router, account_id):
    async def session(control, data, call_info):
        await asyncio.sleep(30)
        return ActionResult("stop")

    service = await vm_service_factory(session)
    call, win = await park_call(gateway, router, account_id)
    _, stream = await executor.execute(call.call_id, call_object(call, win, account_id), {})
    assert (await stream.next(5)).spec.key == "callflow.action.accepted"
    assert await service.stop(0.3) is False
    result = await stream.next(2.0)
    assert decode_result(result["Result"]) == ActionResult("continue")
    call.hangup()
    await call.finished(timeout=10)
