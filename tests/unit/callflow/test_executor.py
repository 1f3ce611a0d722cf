"""The executor's hangups (callflow.md 3.4, 3.6, 3.7), without a broker: the commands it publishes
are recorded by a stand-in bus."""

from __future__ import annotations

import asyncio

from callflow_svc import outcomes as o
from callflow_svc.actions import LOCAL_ACTIONS
from callflow_svc.actions.events import is_hangup
from callflow_svc.call import Call
from callflow_svc.executor import Executor, ExecutorDeps
from services.messages import catalogue
from services.messages.spec import Message

CALL_ID = "c4ll"


class RecordingBus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, str | None]] = []

    async def publish(self, spec, body, *, to=None, server_id=None):
        self.sent.append((spec.key, dict(body), to))
        return dict(body)

    def applications(self) -> list[str]:
        return [key.removeprefix("command.") for key, _body, _to in self.sent]


class Config:
    async def max_branch_count(self) -> int:
        return 50


async def waits_for_the_hangup(ctx):
    await ctx.wait_for(is_hangup)
    return o.Stop()


async def not_used(ctx):          # pragma: no cover - no node here runs remotely
    raise AssertionError("remote action called")


def executor(flow, **actions) -> tuple[Executor, RecordingBus]:
    bus = RecordingBus()
    deps = ExecutorDeps(bus=bus, lookup=None, config=Config(), local_actions={**LOCAL_ACTIONS, **actions},
                        remote_action=not_used, remote_modules=frozenset(), server_id="callflow_route_x")
    call = Call(fields={"Call-ID": CALL_ID, "Account-ID": "a" * 32, "Control-Queue": "cq"},
                ccvs={"Fetch-ID": "fetch"})
    return Executor(call, flow, deps), bus


def destroy() -> Message:
    return Message(catalogue.CALL_EVENTS["CHANNEL_DESTROY"], {"Call-ID": CALL_ID, "Hangup-Cause": "NORMAL_CLEARING"})


async def test_hangup_module_sends_one_hangup():
    run, bus = executor({"module": "hangup", "data": {}})
    await run.run()
    assert bus.applications() == ["hangup"]
    assert "Hangup-Cause" not in bus.sent[0][1] and "Insert-At" not in bus.sent[0][1]


async def test_hangup_module_in_a_branch_sends_one_hangup():
    """The branch's hard stop ends the whole call: the stacked return point does not run."""
    run, bus = executor({"module": "hangup", "data": {}, "children": {"_": {"module": "hangup", "data": {}}}})
    await run.run()
    assert bus.applications() == ["hangup"]


async def test_flow_running_out_sends_one_hangup():
    run, bus = executor({})
    await run.run()
    assert bus.applications() == ["hangup"]


async def test_stop_with_cause_sends_one_hangup_with_the_cause():
    async def stop_busy(ctx):
        return o.Stop("USER_BUSY")
    run, bus = executor({"module": "stop_busy"}, stop_busy=stop_busy)
    await run.run()
    assert bus.applications() == ["hangup"] and bus.sent[0][1]["Hangup-Cause"] == "USER_BUSY"


async def test_no_hangup_once_the_channel_is_gone():
    run, bus = executor({"module": "waits", "data": {}}, waits=waits_for_the_hangup)
    task = asyncio.create_task(run.run())
    for _ in range(100):
        if run._context is not None:
            break
        await asyncio.sleep(0)
    run.deliver(destroy())
    await asyncio.wait_for(task, 2)
    assert bus.applications() == [] and run.ended
