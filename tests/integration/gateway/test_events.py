"""bus.md 3.4-3.7 and 4.2 (what the gateway publishes) and 8.1, 8.3, 8.10 (keys and media)."""

from __future__ import annotations

import asyncio
import time

from services.exchanges import encode_word
from services.store.layout import unix_to_gregorian
from tests.integration.gateway.conftest import ALL_KEYS, completes, error_for, noop, play


# ---- 3.5 envelope of events -------------------------------------------------------------

async def test_3_5_events_carry_the_call_id_header_and_the_encoded_routing_key(gateway, app, endpoint):
    call_id = "abc@1.2.3.4"
    call = await gateway.start_call(endpoint=endpoint, dial="*97", call_id=call_id)
    app_call = await app.next_call()
    marker = await app_call.send("noop")
    done = await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    assert done.routing_key == "call.CHANNEL_EXECUTE_COMPLETE.abc%401%2E2%2E3%2E4"
    assert done.headers["call-id"] == call_id
    usurp = app_call.find("usurp_control")[0]
    assert usurp.routing_key == f"call.usurp_control.{encode_word(call_id)}" and usurp.headers["call-id"] == call_id
    call.hangup()
    destroy = await app_call.wait_for("CHANNEL_DESTROY")
    assert destroy.headers["call-id"] == call_id
    await call.finished(5)


async def test_3_5_events_carry_the_common_fields(connected, gateway, endpoint, app):
    call, app_call = connected
    await app_call.send("answer")
    marker = await app_call.send("noop")
    done = await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    assert done["App-Name"] == "freeswitch" and done["App-Version"] == "1.0" and done["Node"] == gateway.node
    assert abs(done["Timestamp"] - unix_to_gregorian(time.time())) <= 5
    assert done["Call-Direction"] == "inbound"
    assert done["Caller-ID-Name"] == endpoint.caller_id_name and done["Caller-ID-Number"] == endpoint.caller_id_number
    assert (done["Channel-Call-State"], done["Channel-Answer-State"]) == ("ACTIVE", "answered")
    ccvs = done["Custom-Channel-Vars"]
    assert ccvs["Account-ID"] == endpoint.account_id
    assert ccvs["Fetch-ID"] == app_call.route_req.msg_id
    assert ccvs["Authorizing-ID"] == endpoint.device_id and ccvs["Authorizing-Type"] == "device"
    assert ccvs["Owner-ID"] == endpoint.owner_id
    assert ccvs["CallFlow-ID"] == app.ccvs["CallFlow-ID"]
    assert ccvs["Application-Name"] == "fakeapp"
    msg_ids = [msg.msg_id for msg in app_call.messages]
    assert len(set(msg_ids)) == len(msg_ids)


# ---- 3.6 dialplan errors ------------------------------------------------------------------

async def test_3_6_unknown_application_gives_a_dialplan_error_and_the_call_goes_on(connected):
    call, app_call = connected
    sent = await app_call.send_raw({"Application-Name": "frobnicate", "Frob": 1})
    error = await app_call.wait_for(error_for("frobnicate"))
    assert error.msg_id == sent["Msg-ID"]
    assert error["Event-Category"] == "error" and error["Dialplan-Error"] and error["Error-Message"]
    assert error["Channel-State"] and error["Channel-Call-State"]
    assert error["Request"]["Frob"] == 1 and "App-Name" not in error["Request"]
    assert error.routing_key == f"call.dialplan.{encode_word(call.call_id)}"
    assert error.headers["call-id"] == call.call_id
    marker = await app_call.send("noop")
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))


async def test_3_6_command_failing_its_own_validation_gives_a_dialplan_error(connected):
    _call, app_call = connected
    sent = await app_call.send_raw({"Application-Name": "play", "Terminators": ["#"]})   # no Media-Name
    error = await app_call.wait_for(error_for("play"))
    assert error.msg_id == sent["Msg-ID"] and "Media-Name" in error["Error-Message"]
    marker = await app_call.send("noop")
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))


# ---- 3.4 Group-ID and terminators --------------------------------------------------------

async def test_3_4_group_id_terminator_drops_queued_members_of_the_group(connected):
    call, app_call = connected
    marker = noop()
    group = {"Group-ID": "macro-1"}
    # audio_macro: [noop, m3, m2, m1] runs m1, m2, m3, noop
    await app_call.queue([marker, play("medium", terminators=ALL_KEYS, **group),
                          play("medium", terminators=ALL_KEYS, **group),
                          {"Application-Name": "play", "Media-Name": "long", "Terminators": ALL_KEYS, **group}])
    await asyncio.sleep(0.1)
    call.press("3")
    await app_call.wait_for(completes("noop", marker["Msg-ID"]), timeout=1)
    assert len(app_call.find(completes("play"))) == 1, "the other members of the group were dropped"
    assert app_call.names()[-3:] == ["DTMF:3", "COMPLETE:play", "COMPLETE:noop"]


async def test_3_4_terminators_none_means_no_terminators(connected):
    call, app_call = connected
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "medium", "Terminators": "none"})
    await asyncio.sleep(0.05)
    call.press("#")
    await app_call.wait_for(completes("play"))
    assert time.monotonic() - started >= 0.19


# ---- 4.2 which event closes which command ----------------------------------------------------

async def test_4_2_answer_publishes_channel_answer_before_its_completion_and_only_once(connected):
    _call, app_call = connected
    await app_call.send("answer")
    await app_call.send("answer")
    await app_call.wait_for(completes("answer"))
    await app_call.wait_for(completes("answer"))
    assert app_call.names()[1:] == ["CHANNEL_ANSWER", "COMPLETE:answer", "COMPLETE:answer"]


async def test_4_2_media_completions_carry_kazoo_application_names(connected):
    _call, app_call = connected
    marker = noop()
    await app_call.queue([
        marker,
        {"Application-Name": "tones", "Tones": [{"Frequencies": ["440"], "Duration-ON": "500",
                                                  "Duration-OFF": "100"}]},
        {"Application-Name": "say", "Say-Text": "2", "Type": "number", "Method": "pronounced",
         "Language": "en-us"},
        {"Application-Name": "tts", "Text": "hello there"},
        play("vm-you_have")])
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    completions = app_call.find("CHANNEL_EXECUTE_COMPLETE")
    assert [c["Application-Name"] for c in completions] == ["play", "tts", "say", "tones", "noop"]
    assert completions[0]["Raw-Application-Name"] == "playback" and completions[3]["Raw-Application-Name"] == "playback"
    assert completions[0]["Application-Response"] == "FILE PLAYED"


async def test_4_2_noop_completion_carries_its_own_msg_id(connected):
    _call, app_call = connected
    sent = await app_call.send("noop", {"Msg-ID": "marker-42"})
    done = await app_call.wait_for(completes("noop"))
    assert done["Application-Response"] == "marker-42" == sent["Msg-ID"]


async def test_4_2_sleep_completes_after_its_time(connected):
    _call, app_call = connected
    started = time.monotonic()
    await app_call.send("sleep", {"Time": "15000"})            # string ms, as KAZOO sends
    await app_call.wait_for(completes("sleep"))
    assert time.monotonic() - started >= 0.14


async def test_4_2_hangup_closes_with_channel_destroy_carrying_the_cause(connected):
    call, app_call = connected
    await app_call.send("hangup", {"Hangup-Cause": "CALL_REJECTED"}, insert_at="now")
    destroy = await app_call.wait_for("CHANNEL_DESTROY")
    assert destroy["Hangup-Cause"] == "CALL_REJECTED"
    assert destroy["Channel-Call-State"] == "HANGUP"
    for key in ("Duration-Seconds", "Billing-Seconds", "Ringing-Seconds"):
        assert destroy[key].isdigit()
    await app_call.quiet(0.2)
    assert app_call.names()[-1] == "CHANNEL_DESTROY", "CHANNEL_DESTROY is the last call event"
    assert not app_call.find("CHANNEL_HANGUP")
    result = await call.finished(5)
    assert result.hangup_cause == "CALL_REJECTED"


# ---- 8.1, 8.3, 8.10 keys and media ------------------------------------------------------------

async def test_8_1_media_without_terminators_is_not_stopped_by_keys(connected):
    call, app_call = connected
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "medium"})
    await asyncio.sleep(0.05)
    call.press("1")
    await app_call.wait_for(completes("play"))
    assert time.monotonic() - started >= 0.19, "the play ran to its end"


async def test_8_3_terminator_key_arrives_as_dtmf_before_the_file_played_completion(connected):
    call, app_call = connected
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "long", "Terminators": ALL_KEYS})
    await asyncio.sleep(0.05)
    call.press("5")
    done = await app_call.wait_for(completes("play"), timeout=0.6)
    assert time.monotonic() - started < 0.6, "the terminator stopped the 1 s play"
    assert done["Application-Response"] == "FILE PLAYED"
    assert app_call.index("DTMF", DTMF_Digit="5") < app_call.messages.index(done)


async def test_8_3_a_key_that_is_not_a_terminator_does_not_stop_the_play(connected):
    call, app_call = connected
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "medium", "Terminators": ["#"]})
    await asyncio.sleep(0.05)
    call.press("1")
    await app_call.wait_for(completes("play"))
    assert time.monotonic() - started >= 0.19


async def test_8_10_keys_during_an_unstoppable_prompt_are_delivered_at_once(connected):
    call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    await asyncio.sleep(0.05)
    pressed = time.monotonic()
    call.press("7")
    call.press("8")
    await app_call.wait_for("DTMF", DTMF_Digit="8", timeout=0.5)
    assert time.monotonic() - pressed < 0.4
    assert app_call.names()[-2:] == ["DTMF:7", "DTMF:8"], "both keys, before the play ends"
    await app_call.wait_for(completes("play"), timeout=2)
