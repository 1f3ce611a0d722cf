"""Recording, media names and storage uploads (bus.md 3.12, 4.2, 5.1, 5.2, 5.4, 8.2, 8.4, 8.6, 8.7)."""

from __future__ import annotations

import array
import asyncio
import base64
import os
import secrets
import time
import wave

import pytest

from gateway_sim import Gateway, Script
from services.bus import RequestTimeout, codec
from services.exchanges import SWITCH, switch_command_key
from tests.integration.gateway.conftest import (ALL_KEYS, completes, connect, error_for, finish, noop,
                                                switch_request)


def rec_name(ext: str = ".mp3") -> str:
    return secrets.token_hex(16) + ext


def record_cmd(name: str, **extra) -> dict:
    return {"Media-Name": name, "Terminators": ["#"], "Time-Limit": "300", "Silence-Threshold": "200",
            "Silence-Hits": "5", **extra}


# ---- record ---------------------------------------------------------------------------------

async def test_4_2_record_reports_start_stop_then_completion(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_record_start(speak=3.0, press="#"))
    name = rec_name()
    await app_call.send("record", record_cmd(name))
    done = await app_call.wait_for(completes("record"))
    start = app_call.find("RECORD_START")[0]
    stop = app_call.find("RECORD_STOP")[0]
    assert app_call.names()[-4:] == ["RECORD_START", "DTMF:#", "RECORD_STOP", "COMPLETE:record"]
    path = stop["Recording"]["File-Path"]
    assert os.path.basename(path) == name
    assert start["Application-Name"] == "record" and start["Application-Response"] == path
    assert start["Recording"]["File-Path"] == path
    assert stop["Application-Name"] == "record" and stop["Application-Response"] == path
    assert stop["Terminator"] == "#" and stop["Length"] == "3000" and stop["Silence-Terminated"] is False
    recording = stop["Recording"]
    assert recording["File-MilliSeconds"] == 3000 and recording["File-Seconds"] == 3
    assert recording["File-Size"] == os.path.getsize(path) and recording["Completion-Cause"]
    assert stop["Channel-Answer-State"] != "hangup"
    assert done["Application-Response"] == path
    await finish(call, app_call)


async def test_8_4_silence_ended_recording_reports_speech_plus_silence_hits(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_record_start(speak=3.0))
    await app_call.send("record", record_cmd(rec_name(), **{"Silence-Hits": "5"}))
    stop = await app_call.wait_for("RECORD_STOP")
    assert stop["Length"] == "8000" and stop["Silence-Terminated"] is True and "Terminator" not in stop
    await app_call.wait_for(completes("record"))
    await finish(call, app_call)


async def test_record_time_limit_ends_a_long_recording(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_record_start(speak=60.0))
    await app_call.send("record", record_cmd(rec_name(), **{"Time-Limit": "2"}))
    stop = await app_call.wait_for("RECORD_STOP")
    assert stop["Length"] == "2000" and stop["Silence-Terminated"] is False
    await finish(call, app_call)


async def test_5_2_record_writes_a_valid_wav_named_after_the_media_name(gateway, app, endpoint, gateway_config):
    call, app_call = await connect(gateway, app, endpoint, Script().on_record_start(speak=2.5))
    name = rec_name()
    await app_call.send("record", record_cmd(name, **{"Silence-Hits": "2"}))
    stop = await app_call.wait_for("RECORD_STOP")
    path = stop["Recording"]["File-Path"]
    assert os.path.dirname(path) == gateway_config.recording_dir and os.path.basename(path) == name
    with wave.open(path, "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.getnframes() == 8000 * 4500 // 1000               # Length 2500 + 2000 ms
        samples = array.array("h", wav.readframes(wav.getnframes()))
    speech, silence = samples[: 8000 * 2500 // 1000], samples[8000 * 2500 // 1000:]
    assert max(abs(s) for s in speech) > 1000, "the caller's speech is audible"
    assert max(abs(s) for s in silence) == 0, "then silence until Silence-Hits"
    result = await finish(call, app_call)
    assert result.recordings == [{"path": path, "media_name": name, "length_ms": 4500,
                                  "size": os.path.getsize(path)}]


async def test_5_2_a_name_without_a_known_extension_gets_mp3_appended(gateway, app, endpoint):
    call, app_call = await connect(gateway, app, endpoint, Script().on_record_start(speak=0.5, press="#"))
    await app_call.send("record", record_cmd("greeting.txt"))
    stop = await app_call.wait_for("RECORD_STOP")
    assert os.path.basename(stop["Recording"]["File-Path"]) == "greeting%2Etxt.mp3"
    await finish(call, app_call)


async def test_8_2_flush_stops_a_running_record(connected):
    _call, app_call = connected
    await app_call.send("record", record_cmd(rec_name(), **{"Silence-Hits": "100"}))
    await app_call.wait_for("RECORD_START")
    started = time.monotonic()
    flush = await app_call.send("noop", insert_at="flush")
    await app_call.wait_for(completes("noop", flush["Msg-ID"]), timeout=0.8)
    assert time.monotonic() - started < 0.6
    assert app_call.names()[-3:] == ["RECORD_STOP", "COMPLETE:record", "COMPLETE:noop"]


async def test_8_2_break_stops_a_running_record(connected):
    _call, app_call = connected
    await app_call.send("record", record_cmd(rec_name(), **{"Silence-Hits": "100"}))
    await app_call.wait_for("RECORD_START")
    await app_call.send("break")
    await app_call.wait_for(completes("record"), timeout=0.6)
    assert app_call.names()[-2:] == ["RECORD_STOP", "COMPLETE:record"]


async def test_8_2_flush_stops_a_sleep_and_parallel_media(connected):
    _call, app_call = connected
    await app_call.send("sleep", {"Time": 100000})
    await app_call.send("play", {"Media-Name": "long"}, insert_at="now")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    flush = await app_call.send("noop", insert_at="flush")
    await app_call.wait_for(completes("noop", flush["Msg-ID"]), timeout=0.8)
    assert time.monotonic() - started < 0.6
    assert app_call.index(completes("sleep")) < app_call.index(completes("noop", flush["Msg-ID"]))
    assert app_call.find(completes("play")), "the now play was stopped too"


# ---- 5.1 media names ---------------------------------------------------------------------

async def test_5_1_every_media_name_form_is_accepted(connected, account_id, media_server):
    """Every form completes normally; what the media server holds plays (media_req + GET, or one GET of
    a URL), names played as they are play, and what cannot be resolved (tts:// is not served by
    kzvoice: unsupported_tts) completes with FILE NOT FOUND (media.md 6.6)."""
    from testkit.media import seed_system_prompts, tone
    from services.store import layout
    store = media_server.store
    await seed_system_prompts(store, extra=("vm-you_have", "plain-media-id"))
    account_db = layout.account_db(account_id)
    await store.create_db(account_db)
    await store.put(account_db, layout.stamp({"_id": "greeting-media-id", "name": "greeting",
                                              "_attachments": {"greeting.wav": {
                                                  "content_type": "audio/wav",
                                                  "data": base64.b64encode(tone(0.5)).decode()}}},
                                             pvt_type="media", db=account_db))
    url = media_server.endpoint.url_for("system_media", "plain-media-id", "plain-media-id.wav")
    call, app_call = connected
    names = [f"prompt://{account_id}/vm-enter_pass/en-us", "prompt://system_media/vm-goodbye/en-us",
             "/system_media/vm-you_have", f"/{account_id}/greeting-media-id", "plain-media-id",
             "tts://hello there", url, "silence_stream://50",
             "tone_stream://%(500,100,440)", "local_stream://moh", "shout://radio.example.com/x.mp3"]
    marker = noop()
    await app_call.queue([marker] + [{"Application-Name": "play", "Media-Name": n} for n in reversed(names)])
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    played = app_call.find(completes("play"))
    assert [p["Raw-Application-Data"] for p in played] == names
    responses = {p["Raw-Application-Data"]: p["Application-Response"] for p in played}
    assert responses.pop("tts://hello there") == "FILE NOT FOUND"
    assert set(responses.values()) == {"FILE PLAYED"}, responses
    assert call.transcript.texts("prompt")[:3] == ["vm-enter_pass", "vm-goodbye", "vm-you_have"]
    assert not app_call.find("dialplan")


async def test_5_1_missing_media_completes_normally_with_file_not_found(gw_bus, gateway_config, app, endpoint):
    gateway = Gateway(gw_bus, None, gateway_config.with_(missing_media=frozenset({"vm-not_there"})))
    await gateway.start()
    try:
        call, app_call = await connect(gateway, app, endpoint)
        marker = noop()
        await app_call.queue([marker, {"Application-Name": "play",
                                       "Media-Name": "prompt://system_media/vm-not_there/en-us"}])
        await app_call.wait_for(completes("noop", marker["Msg-ID"]))
        assert app_call.find(completes("play"))[0]["Application-Response"] == "FILE NOT FOUND"
        assert not app_call.find("dialplan")
        await finish(call, app_call)
    finally:
        await gateway.stop()


# ---- 5.4 legacy store / store_vm ------------------------------------------------------------

async def _record(call, app_call, name: str, seconds: float = 1.0) -> str:
    await app_call.send("record", record_cmd(name))
    await app_call.wait_for("RECORD_START")
    assert call.speak(seconds, then_press="#")
    stop = await app_call.wait_for("RECORD_STOP")
    await app_call.wait_for(completes("record"))
    return stop["Recording"]["File-Path"]


@pytest.mark.parametrize("application", ["store", "store_vm"])
async def test_5_4_store_uploads_the_recording_and_completes_with_success(connected, upload_server, application):
    call, app_call = connected
    name = rec_name()
    path = await _record(call, app_call, name)
    url = f"{upload_server.base}/vm/{name}"
    await app_call.send(application, {"Media-Name": name, "Media-Transfer-Method": "put",
                                      "Media-Transfer-Destination": url,
                                      "Additional-Headers": ["X-Test: yes"]}, insert_at="now")
    done = await app_call.wait_for(completes(application))
    assert done["Application-Response"] == "success"
    request = upload_server.requests[0]
    assert request["method"] == "PUT" and request["path"] == f"/vm/{name}"
    assert request["body"] == open(path, "rb").read()
    assert request["content_type"] == "audio/mpeg" and request["headers"]["X-Test"] == "yes"
    if application == "store":
        assert done["Application-Data"] == path
    assert call.transcript.of_kind("upload")


async def test_5_4_store_failure_reports_failure(connected, upload_server):
    call, app_call = connected
    name = rec_name()
    await _record(call, app_call, name)
    await app_call.send("store_vm", {"Media-Name": name, "Media-Transfer-Method": "put",
                                     "Media-Transfer-Destination": f"{upload_server.base}/fail/{name}"},
                        insert_at="now")
    done = await app_call.wait_for(completes("store_vm"))
    assert done["Application-Response"] == "failure"
    unknown = await app_call.send("store", {"Media-Name": "never-recorded.mp3", "Media-Transfer-Method": "put",
                                            "Media-Transfer-Destination": f"{upload_server.base}/x"},
                                  insert_at="now")
    done = await app_call.wait_for("CHANNEL_EXECUTE_COMPLETE", Application_UUID=unknown["Msg-ID"])
    assert done["Application-Response"] == "failure" and len(upload_server.requests) == 1


# ---- 3.12, 8.6, 8.7 send_http ---------------------------------------------------------------

@pytest.mark.parametrize("ext,content_type", [(".mp3", "audio/mpeg"), (".wav", "audio/wav")])
async def test_8_6_send_http_uploads_the_recorded_bytes_with_the_content_type_of_the_name(
        connected, upload_server, app, ext, content_type):
    call, app_call = connected
    name = rec_name(ext)
    path = await _record(call, app_call, name, seconds=1.5)
    node = app_call.route_req["Switch-Nodename"]
    url = f"{upload_server.base}/store/token/{name}"
    reply = await switch_request(app, {"Command": "send_http", "FreeSWITCH-Node": node, "Call-ID": call.call_id,
                                       "Args": {"File-Name": f"/tmp/{name}", "Url": url, "Http-Method": "put"}})
    assert reply["Result"] == "success" and reply["Command"] == "send_http" and reply["FreeSWITCH-Node"] == node
    request = upload_server.requests[0]
    assert request["method"] == "PUT" and request["path"] == f"/store/token/{name}"
    assert request["content_type"] == content_type
    assert request["body"] == open(path, "rb").read() and request["body"][:4] == b"RIFF"
    assert any("send_http" in text for text in call.transcript.texts("upload"))


async def test_8_6_send_http_http_failure_replies_error(connected, upload_server, app):
    call, app_call = connected
    name = rec_name()
    await _record(call, app_call, name)
    reply = await switch_request(app, {"Command": "send_http", "FreeSWITCH-Node": app_call.route_req["Switch-Nodename"],
                                       "Args": {"File-Name": f"/tmp/{name}", "Url": f"{upload_server.base}/fail/x",
                                                "Http-Method": "put"}})
    assert reply["Result"] == "error" and "500" in reply["Error"]
    missing = await switch_request(app, {"Command": "send_http", "FreeSWITCH-Node": app_call.route_req["Switch-Nodename"],
                                         "Args": {"File-Name": "/tmp/nothing.mp3", "Url": f"{upload_server.base}/x"}})
    assert missing["Result"] == "error" and len(upload_server.requests) == 1


async def test_8_6_send_http_works_after_the_call_hung_up(connected, upload_server, app):
    call, app_call = connected
    name = rec_name()
    await app_call.send("record", record_cmd(name))
    await app_call.wait_for("RECORD_START")
    call.speak(2.0)
    await asyncio.sleep(0.03)
    call.hangup()                                   # the caller hangs up while recording
    await app_call.wait_for("CHANNEL_DESTROY")
    await call.finished(5)                          # the call is completely over
    reply = await switch_request(app, {"Command": "send_http", "FreeSWITCH-Node": app_call.route_req["Switch-Nodename"],
                                       "Args": {"File-Name": f"/tmp/{name}", "Url": f"{upload_server.base}/late/{name}",
                                                "Http-Method": "put"}})
    assert reply["Result"] == "success" and upload_server.requests[0]["path"] == f"/late/{name}"


async def test_3_12_unknown_switch_command_replies_not_implemented(gateway, app):
    reply = await switch_request(app, {"Command": "reloadxml", "FreeSWITCH-Node": gateway.node, "Args": {"x": 1}})
    assert reply["Result"] == "error" and reply["Error"] == "reloadxml not_implemented"
    assert reply["Command"] == "reloadxml" and reply["FreeSWITCH-Node"] == gateway.node


async def test_3_12_switch_command_without_args_replies_no_arguments(gateway, app, app_bus):
    empty = await switch_request(app, {"Command": "send_http", "FreeSWITCH-Node": gateway.node, "Args": {}})
    assert empty["Result"] == "error" and empty["Error"] == "no arguments"
    # a request without Args at all fails validation; the gateway still answers it
    msg_id = secrets.token_hex(16)
    future = app.replies.expect(msg_id)
    body = {"Event-Category": "switch_event", "Event-Name": "command", "App-Name": "fakeapp", "App-Version": "4.0.0",
            "Msg-ID": msg_id, "Server-ID": app.replies.name, "Command": "send_http", "FreeSWITCH-Node": gateway.node}
    await app_bus.transport.publish(SWITCH, switch_command_key(gateway.node), codec.encode(body))
    reply = await asyncio.wait_for(future, 5)
    assert reply["Result"] == "error" and reply["Error"] == "no arguments"


async def test_8_7_route_req_carries_switch_nodename_and_the_gateway_listens_on_its_switch_key(connected, app, gateway):
    _call, app_call = connected
    assert app_call.route_req["Switch-Nodename"] == gateway.node
    reply = await switch_request(app, {"Command": "noop_cmd", "FreeSWITCH-Node": gateway.node, "Args": {"a": 1}})
    assert reply["Result"] == "error"                    # it answered: it listens on switch.command.<its node>
    with pytest.raises(RequestTimeout):
        await switch_request(app, {"Command": "noop_cmd", "FreeSWITCH-Node": "other@node", "Args": {"a": 1}},
                             timeout=0.5)
