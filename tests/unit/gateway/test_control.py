"""The command queue state machine without a broker: what it emits, in which order."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from gateway_sim import media
from gateway_sim.config import DEFAULT_POST_HANGUP_LINGER, DEFAULT_ROUTE_TIMEOUT, GatewayConfig
from gateway_sim.channel import CallState, CommandQueue, terminators_of
from gateway_sim.routing import collect_route_responses
from gateway_sim.transcript import Transcript
from services.messages import catalogue as m
from services.messages.spec import Message
from services.messages.validation import Validator

VALIDATOR = Validator()


def test_default_route_timeout_and_linger_are_kazoos():
    config = GatewayConfig()
    assert config.route_timeout == DEFAULT_ROUTE_TIMEOUT == 2.75
    assert config.post_hangup_linger == DEFAULT_POST_HANGUP_LINGER == 2.0
    assert config.prompt_seconds == 1.5 and config.time_scale == 1.0
    assert GatewayConfig().node != GatewayConfig().node, "each gateway has a node of its own"
    assert GatewayConfig(time_scale=0.01).scaled(1.5) == pytest.approx(0.015)


@pytest.mark.parametrize("value,expected", [
    (None, set()), ("", set()), ("none", set()), ([], set()), (["#"], {"#"}), (["1", "none", "*"], {"1", "*"})])
def test_terminators(value, expected):
    command = {} if value is None else {"Terminators": value}
    assert terminators_of(command) == expected


class Harness:
    def __init__(self, tmp_path, **config) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.control = CommandQueue(
            CallState(call_id="call-1", fetch_id="fetch-1", ccvs={"Account-ID": "a" * 32}),
            config=GatewayConfig(time_scale=0.001, post_hangup_linger=0.01, **config),
            emit=lambda spec, body, to=None: self.sent.append((spec.key, body)),
            parse=VALIDATOR.parse, recordings=media.Recordings(tmp_path), uploader=self._upload,
            transcript=Transcript("call-1"))

    async def _upload(self, *args, **kwargs):
        return media.UploadOutcome(True, status=201)

    def command(self, app: str, **fields) -> dict:
        body = {"Event-Category": "call", "Event-Name": "command", "App-Name": "test", "App-Version": "1",
                "Msg-ID": fields.pop("Msg_ID", secrets.token_hex(4)), "Call-ID": "call-1", "Application-Name": app}
        body.update({k.replace("_", "-"): v for k, v in fields.items()})
        VALIDATOR.parse(body)
        self.control.receive(body)
        return body

    def names(self) -> list[str]:
        out = []
        for key, body in self.sent:
            if key == "call_event.CHANNEL_EXECUTE_COMPLETE":
                out.append(f"{body['Application-Name']}:{body.get('Application-Response', '')}")
            elif key == "error.dialplan":
                out.append(f"error:{body['Request'].get('Application-Name')}")
            else:
                out.append(key.split(".", 1)[1])
        return out


async def test_tail_queue_reversal_and_noop_response(tmp_path):
    h = Harness(tmp_path)
    h.command("queue", Commands=[{"Application-Name": "noop", "Msg-ID": "n1"},
                                 {"Application-Name": "noop", "Msg-ID": "n2"}])
    assert h.names() == ["noop:n2", "noop:n1"]


async def test_flush_reports_the_stopped_play_first(tmp_path):
    h = Harness(tmp_path)
    h.command("play", Media_Name="a")
    h.command("noop", Msg_ID="behind")
    h.command("noop", Msg_ID="f", Insert_At="flush")
    assert h.names() == ["play:FILE PLAYED", "noop:f"]


async def test_terminator_press_emits_dtmf_then_completion_and_drops_group(tmp_path):
    h = Harness(tmp_path)
    h.command("queue", Commands=[{"Application-Name": "noop", "Msg-ID": "n"},
                                 {"Application-Name": "play", "Media-Name": "b", "Group-ID": "g",
                                  "Terminators": ["1"]},
                                 {"Application-Name": "play", "Media-Name": "a", "Group-ID": "g",
                                  "Terminators": ["1"]}])
    h.control.press("1")
    assert h.names() == ["DTMF", "play:FILE PLAYED", "noop:n"]


async def test_hangup_during_record_orders_record_stop_destroy_then_errors(tmp_path):
    h = Harness(tmp_path)
    h.command("record", Media_Name="r.mp3", Silence_Hits="100")
    h.command("noop", Msg_ID="queued")
    h.control.hangup("NORMAL_CLEARING", by="caller")
    assert h.names() == ["RECORD_START", "RECORD_STOP", "CHANNEL_DESTROY", "error:noop"]
    stop = h.sent[1][1]
    assert stop["Channel-Answer-State"] == "hangup" and stop["Length"].isdigit()
    await asyncio.wait_for(h.control.closed, 1)


async def test_invalid_queue_element_is_an_error_when_reached(tmp_path):
    h = Harness(tmp_path)
    h.command("play", Media_Name="long")
    h.command("queue", Commands=[{"Application-Name": "noop", "Msg-ID": "n"},
                                 {"Application-Name": "say", "Msg-ID": "bad"}])
    assert h.names() == []
    h.command("playstop")
    assert h.names() == ["play:FILE PLAYED", "error:say", "noop:n"]


class FakeStream:
    def __init__(self, items: list[tuple[float, dict]]) -> None:
        self.items = items

    async def next(self, timeout):
        if not self.items:
            await asyncio.sleep(timeout)
            raise asyncio.TimeoutError
        delay, body = self.items.pop(0)
        if delay > timeout:
            await asyncio.sleep(timeout)
            raise asyncio.TimeoutError
        await asyncio.sleep(delay)
        return Message(m.ROUTE_RESP, body)


def resp(name: str, defer: bool = False) -> dict:
    body = {"Method": "park", "Msg-ID": "x", "App-Name": name}
    if defer:
        body["Defer-Response"] = "true"
    return body


async def test_first_non_deferred_route_resp_wins_else_the_deferred_one():
    outcome = await collect_route_responses(FakeStream([(0, resp("d", True)), (0.01, resp("a")), (0, resp("b"))]),
                                            1.0)
    assert outcome.winner["App-Name"] == "a" and len(outcome.responses) == 2 and outcome.waited < 0.5
    outcome = await collect_route_responses(FakeStream([(0, resp("d1", True)), (0, resp("d2", True))]), 0.05)
    assert outcome.winner["App-Name"] == "d1" and outcome.waited >= 0.04
    outcome = await collect_route_responses(FakeStream([]), 0.05)
    assert outcome.winner is None and outcome.rejected


async def test_play_and_collect_digits_completes_with_the_digits(tmp_path):
    h = Harness(tmp_path)
    fields = dict(Minimum_Digits=1, Maximum_Digits=3, Timeout=1000, Terminators=["#"], Media_Name="x",
                  Media_Tries=1, Digits_Regex="\\d+")
    h.command("play_and_collect_digits", **fields)
    for key in "12#":
        h.control.press(key)
    assert h.names() == ["DTMF", "DTMF", "DTMF", "play_and_collect_digits:12"]
    h.command("play_and_collect_digits", **fields)
    for key in "987":
        h.control.press(key)
    assert h.names()[-1] == "play_and_collect_digits:987", "Maximum-Digits ends the collection"
    h.command("play_and_collect_digits", **fields)
    await asyncio.sleep(0.05)                           # 1.5 ms of prompt, then 1 ms of Timeout
    assert h.names()[-1] == "play_and_collect_digits:", "nothing typed: an empty response"


async def test_endless_playback_runs_until_stopped(tmp_path):
    h = Harness(tmp_path)
    h.command("play", Media_Name="moh", Endless_Playback=True)
    await asyncio.sleep(0.05)
    assert h.names() == []
    h.command("playstop")
    assert h.names() == ["play:FILE PLAYED"]
