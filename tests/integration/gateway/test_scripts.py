"""Scripted callers, transcripts and many concurrent calls, against a fake app on the real broker."""

from __future__ import annotations

import asyncio
import json
import secrets
import time

from gateway_sim import Script
from tests.integration.gateway.conftest import ALL_KEYS, AppCall, completes, connect, new_endpoint, noop, play


async def prompt(app_call: AppCall, name: str) -> str:
    """Queue [noop, play name] the KAZOO way; returns the marker's Msg-ID."""
    marker = noop()
    await app_call.queue([marker, play(name, terminators=ALL_KEYS)])
    return marker["Msg-ID"]


async def collect(app_call: AppCall, *, interdigit: float = 1.0) -> str:
    """Digits up to '#', flushing the prompt on the first one (voicemail.md 0.4, simplified)."""
    digits = ""
    while True:
        event = await app_call.wait_for(lambda m: m.get("Event-Name") in ("DTMF", "CHANNEL_DESTROY"),
                                        timeout=interdigit)
        if event["Event-Name"] == "CHANNEL_DESTROY":
            raise ConnectionError("caller hung up")
        if not digits:
            await app_call.send("noop", insert_at="flush")
        if event["DTMF-Digit"] == "#":
            return digits
        digits += event["DTMF-Digit"]


async def test_scripted_caller_logs_in_records_and_hangs_up_on_goodbye(gateway, app, endpoint):
    script = (Script()
              .on_prompt("vm-enter_pass", press="1111#")
              .on_prompt("vm-enter_pass", press="1234#")
              .on_record_start(speak=3.0, press="#")
              .on_prompt("vm-goodbye", hangup=True))
    call, app_call = await connect(gateway, app, endpoint, script)
    await app_call.send("answer")
    pins = []
    while True:
        await prompt(app_call, "vm-enter_pass")
        pins.append(await collect(app_call))
        if pins[-1] == "1234":
            break
        await prompt(app_call, "vm-fail_auth")
    assert pins == ["1111", "1234"]
    await app_call.send("tones", {"Tones": [{"Frequencies": ["440"], "Duration-ON": "500", "Duration-OFF": "100"}]})
    name = secrets.token_hex(16) + ".mp3"
    await app_call.send("record", {"Media-Name": name, "Terminators": ["#"], "Time-Limit": "300",
                                   "Silence-Hits": "5"})
    stop = await app_call.wait_for("RECORD_STOP")
    assert stop["Length"] == "3000" and stop["Terminator"] == "#"
    await prompt(app_call, "vm-goodbye")
    await app_call.wait_for("CHANNEL_DESTROY")
    result = await call.finished(5)
    assert result.ok and result.hung_up_by == "caller"
    assert result.digits == "1111#1234##"
    assert result.prompts == ["vm-enter_pass", "vm-fail_auth", "vm-enter_pass", "tones", "vm-goodbye"]
    assert [r["length_ms"] for r in result.recordings] == [3000]
    assert "record" in result.commands and "queue" in result.commands
    callers = result.transcript.texts("caller")
    assert callers[0] == "heard vm-enter_pass: caller presses 1111#"
    assert callers[-1] == "heard vm-goodbye: caller hangs up"


async def test_scripted_caller_barges_in_during_a_prompt(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_prompt("long", press="1", barge=True, after=5))
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "long", "Terminators": ALL_KEYS})
    await app_call.wait_for(completes("play"), timeout=0.8)
    assert time.monotonic() - started < 0.5, "the key (after 5 simulated seconds) cut the 100 s prompt"
    assert app_call.names()[-2:] == ["DTMF:1", "COMPLETE:play"]
    call.hangup()
    await call.finished(5)


async def test_scripted_caller_rules_fire_the_given_number_of_times(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_prompt("vm-*", press="9", times=2))
    for name in ("vm-a", "vm-b", "vm-c"):
        marker = await prompt(app_call, name)
        await app_call.wait_for(completes("noop", marker))
    await app_call.quiet(0.2)
    assert [m["DTMF-Digit"] for m in app_call.find("DTMF")] == ["9", "9"]
    call.hangup()
    await call.finished(5)


async def test_scripted_caller_hangs_up_after_its_maximum_duration(gateway, app, endpoint):
    started = time.monotonic()
    call, app_call = await connect(gateway, app, endpoint, Script(max_duration=0.4))
    await app_call.wait_for("CHANNEL_DESTROY", timeout=2)
    assert 0.35 <= time.monotonic() - started < 1.5
    result = await call.finished(5)
    assert result.hung_up_by == "max_duration"


async def test_script_from_json_drives_the_call_like_the_python_one(gateway, app, endpoint):
    script = Script.loads(json.dumps({"steps": [
        {"on": "answer", "press": "42"},
        {"on": "prompt", "name": "vm-goodbye", "hangup": True}]}))
    call, app_call = await connect(gateway, app, endpoint, script)
    await app_call.send("answer")
    await app_call.wait_for("DTMF", DTMF_Digit="2")
    await prompt(app_call, "vm-goodbye")
    await app_call.wait_for("CHANNEL_DESTROY")
    result = await call.finished(5)
    assert result.digits == "42" and result.hung_up_by == "caller"


async def test_transcript_is_printable_and_json(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_prompt("vm-hello", press="5"))
    marker = await prompt(app_call, "vm-hello")
    await app_call.wait_for("DTMF")
    await app_call.send("hangup")
    result = await call.finished(5)
    text = str(result)
    for fragment in ("route_req", "winner: fakeapp", "queue [noop, play] (tail)", "vm-hello",
                     "caller pressed 5", "CHANNEL_EXECUTE_COMPLETE noop", "hangup NORMAL_CLEARING by app"):
        assert fragment in text, fragment
    data = json.loads(json.dumps(result.to_json()))
    assert data["status"] == "completed" and data["digits"] == "5" and data["prompts"] == ["vm-hello"]
    kinds = {step["kind"] for step in data["transcript"]}
    assert {"route", "command", "prompt", "digits", "event", "caller", "result"} <= kinds
    times = [step["t"] for step in data["transcript"]]
    assert times == sorted(times)
    assert marker in json.dumps(data["transcript"])


async def test_many_scripted_calls_run_concurrently(gateway, app, account_id):
    count = 25

    async def serve() -> None:
        app_call = await app.next_call(timeout=10)
        await app_call.send("answer")
        await prompt(app_call, "vm-hello")
        await app_call.wait_for("DTMF", DTMF_Digit="5", timeout=10)
        await app_call.send("hangup", insert_at="now")

    script = Script().on_prompt("vm-hello", press="5")
    servers = [asyncio.create_task(serve()) for _ in range(count)]
    started = time.monotonic()
    results = await asyncio.gather(*(gateway.place_call(endpoint=new_endpoint(account_id), dial="*97",
                                                        script=script) for _ in range(count)))
    await asyncio.gather(*servers)
    assert all(r.ok and r.hung_up_by == "app" and r.digits == "5" for r in results)
    assert len({r.control_queue for r in results}) == count
    assert len({r.call_id for r in results}) == count
    assert time.monotonic() - started < 10
