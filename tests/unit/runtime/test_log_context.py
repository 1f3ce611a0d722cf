"""Every log line about a call carries that call's Call-ID, also from timers and background tasks
(services.logging.call_context).

A task or timer inherits the context of the code that starts it.  Before the fix:

* callflow_svc's route_win sweep, armed by whichever call was routed first, logged "no route_win
  for X" under that call's Call-ID and Msg-ID;
* a flow, started from its route_win's handler, logged every line with the route_win's Msg-ID;
* a consumer of the in-memory bus ran a message without Call-ID under the publisher's call;
* the voicemail spool's lines (its upload sink and its retry loop) named no call.
"""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from callflow_svc.actions import LOCAL_ACTIONS
from callflow_svc.call import Call
from callflow_svc.calls import Calls, PendingWin
from callflow_svc.executor import ExecutorDeps
from services.routing.lookup import Found
from services.bus import Bus
from services.exchanges import SYSCONF, SYSCONF_GET_KEY
from services.bus.memory import MemoryTransport, broker_for
from services.logging import bind_call, configure
from services.messages import catalogue
from services.messages.validation import Validator
from services.media.signer import Grant, Purpose
from services.store import layout
from voicemail_svc.storage.spool import Pending, Spool, StoredMessage

ACCOUNT = "a" * 32


@pytest.fixture
def log_lines():
    """The text lines logged (with call= and msg=) while the test runs."""
    stream = io.StringIO()
    configure("info", "text", stream=stream)
    yield lambda: stream.getvalue().splitlines()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_kzvoice", False)]:
        root.removeHandler(handler)


def one(lines: list[str], text: str) -> str:
    found = [line for line in lines if text in line]
    assert len(found) == 1, (text, lines)
    return found[0]


# ---- callflow_svc ---------------------------------------------------------------------------

def pending(call_id: str) -> PendingWin:
    req = {"Call-ID": call_id, "Custom-Channel-Vars": {"Account-ID": ACCOUNT}}
    return PendingWin(Call.from_route_req(req, request_user="2000"), Found({"_id": "cf"}), {}, fetch_id=call_id)


async def test_the_sweep_logs_each_forgotten_call_under_its_own_call_id(log_lines):
    calls = Calls(consumer=None, deps=None)
    try:
        with bind_call("call-a", "route-req-a"):          # this call's route_req arms the sweep
            calls.expect_win(pending("call-a"), 0.05)
        with bind_call("call-b", "route-req-b"):
            calls.expect_win(pending("call-b"), 0.05)
        await asyncio.sleep(0.2)
        lines = log_lines()
        a = one(lines, "no route_win for call-a")
        b = one(lines, "no route_win for call-b")
        assert " call=call-b:" in b and "msg=" not in b, b     # not call-a's, whose route_req armed the sweep
        assert " call=call-a:" in a and "msg=" not in a, a
    finally:
        await calls.drain(0)


class Consumer:
    """The instance queue's bind/unbind, nothing else."""

    async def bind(self, exchange, key) -> None:
        pass

    async def unbind(self, exchange, key) -> None:
        pass


class RecordingBus:
    async def publish(self, spec, body, *, to=None, server_id=None):
        return dict(body)


class Config:
    async def max_branch_count(self) -> int:
        return 50


async def test_a_flow_started_from_its_route_win_does_not_log_the_route_wins_msg_id(log_lines):
    deps = ExecutorDeps(bus=RecordingBus(), lookup=None, config=Config(), local_actions=LOCAL_ACTIONS,
                        remote_action=None, remote_modules=frozenset(), server_id="callflow_route_x")
    calls = Calls(Consumer(), deps)
    call = Call(fields={"Call-ID": "call-a", "Account-ID": ACCOUNT, "Control-Queue": "cq"}, ccvs={})
    with bind_call("call-a", "route-win-a"):
        calls.start(call, {"module": "hangup", "data": {}})
    assert await calls.drain(5)
    line = one(log_lines(), "flow ended")
    assert " call=call-a:" in line and "route-win-a" not in line, line


# ---- the consumer ---------------------------------------------------------------------------

async def test_a_consumer_logs_a_message_under_its_own_call_not_the_publishers(log_lines):
    bus = Bus(MemoryTransport(broker_for("memory://log-context")), Validator(), app_name="test", node="n@test")
    await bus.start()
    seen = asyncio.Event()

    async def handle(message) -> None:
        logging.getLogger("kz.test").info("handling %s", message["Key"])
        seen.set()

    consumer = await bus.consumer("log-context-sysconf")
    await consumer.bind(SYSCONF, SYSCONF_GET_KEY)
    consumer.on(catalogue.get("sysconf.get_req"), handle)
    await consumer.start()
    try:
        with bind_call("call-of-the-publisher", "msg-of-the-publisher"):
            body = await bus.publish(catalogue.get("sysconf.get_req"), {"Category": "callflow", "Key": "k1"})
        await asyncio.wait_for(seen.wait(), 2)
        line = one(log_lines(), "handling k1")
        assert "call=" not in line and f"msg={body['Msg-ID']}" in line, line
    finally:
        await bus.close()


# ---- voicemail_svc's spool ------------------------------------------------------------------------

class FlakyMessages:
    """A store that fails until ``up`` is set."""

    def __init__(self) -> None:
        self.up = False

    async def store_with_audio(self, account_id, doc, *, audio_name) -> dict:
        if not self.up:
            raise ConnectionError("store down")
        return doc


async def test_the_spool_logs_a_message_under_the_call_that_left_it(tmp_path, log_lines):
    messages, notified = FlakyMessages(), asyncio.Event()

    async def on_stored(stored) -> None:
        logging.getLogger("kz.test").info("notifying %s", stored.message_id)
        notified.set()

    spool = Spool(tmp_path, messages, on_stored=on_stored, retry_s=0.05)
    await spool.start()
    try:
        stored = StoredMessage(account_id=ACCOUNT, box_id="box", message_id="202403-m1", length_ms=1000,
                               call={"Call-ID": "call-left-it"})
        spool.expect(Pending(account_id=ACCOUNT, doc={"_id": "202403-m1"}, attachment="m1.mp3", stored=stored))
        grant = Grant(Purpose.UPLOAD_MESSAGE, db=layout.modb(ACCOUNT, 2024, 3), doc_id="202403-m1",
                      attachment="m1.mp3", expires=0, nonce="n")
        with bind_call("some-other-call"):         # whatever context the upload request runs in
            assert await spool.receive(grant, b"audio", "audio/mpeg") == "spooled"
        messages.up = True
        await asyncio.wait_for(notified.wait(), 5)
        lines = log_lines()
        for text in ("storing message 202403-m1 failed", "spooled message 202403-m1 stored", "notifying 202403-m1"):
            assert " call=call-left-it:" in one(lines, text), text
    finally:
        await spool.stop()
