"""bus.md 4.1, 4.1.1, 4.1.2: the gateway's command queue, driven over the real broker."""

from __future__ import annotations

import asyncio
import time

from tests.integration.gateway.conftest import ALL_KEYS, completes, error_for, noop, play


def uuid_of(body):
    return body["Msg-ID"]


def noop_responses(app_call) -> list[str]:
    return [msg["Application-Response"] for msg in app_call.find(completes("noop"))]


# ---- 4.1 Insert-At -------------------------------------------------------------------

async def test_4_1_tail_queue_runs_commands_reversed(connected):
    _call, app_call = connected
    c1, c2, c3 = noop(), noop(), noop()
    await app_call.queue([c1, c2, c3])
    await app_call.wait_for(completes("noop", c1["Msg-ID"]))
    await app_call.quiet(0.1)
    assert noop_responses(app_call) == [c3["Msg-ID"], c2["Msg-ID"], c1["Msg-ID"]]


async def test_4_1_tail_queue_marker_noop_completes_after_the_media(connected):
    # what kapps_call_command:play/2 sends: [noop N, play]; N's completion means "played"
    _call, app_call = connected
    marker = noop()
    await app_call.queue([marker, play("vm-enter_pass", terminators=ALL_KEYS)])
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    assert app_call.index(completes("play")) < app_call.index(completes("noop", marker["Msg-ID"]))


async def test_4_1_tail_is_the_default_and_waits_for_the_current_command(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "medium"})          # no Insert-At: tail
    marker = await app_call.send("noop")
    done = await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    assert app_call.index(completes("play")) < app_call.messages.index(done)


async def test_4_1_now_runs_at_once_beside_the_current_command(connected):
    _call, app_call = connected
    long_play = await app_call.send("play", {"Media-Name": "long"})
    behind = noop()
    await app_call.queue([behind])
    started = time.monotonic()
    quick = await app_call.send("play", {"Media-Name": "short"}, insert_at="now")
    await app_call.wait_for("CHANNEL_EXECUTE_COMPLETE", Application_UUID=quick["Msg-ID"])
    assert time.monotonic() - started < 0.6, "the now play did not wait for the 1 s play in front of it"
    # the now command's completion did not advance Q: neither the long play nor the queued noop finished
    assert not app_call.find("CHANNEL_EXECUTE_COMPLETE", Application_UUID=long_play["Msg-ID"])
    assert not app_call.find(completes("noop", behind["Msg-ID"]))
    await app_call.wait_for(completes("noop", behind["Msg-ID"]), timeout=3)
    assert app_call.index("CHANNEL_EXECUTE_COMPLETE", Application_UUID=long_play["Msg-ID"]) < \
        app_call.index(completes("noop", behind["Msg-ID"]))


async def test_4_1_now_queue_runs_its_elements_in_list_order(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    c1, c2, c3 = noop(), noop(), noop()
    await app_call.queue([c1, c2, c3], insert_at="now")
    await app_call.wait_for(completes("noop", c3["Msg-ID"]), timeout=0.8)
    assert noop_responses(app_call) == [c1["Msg-ID"], c2["Msg-ID"], c3["Msg-ID"]]
    assert not app_call.find(completes("play")), "now elements must not wait for the current play"


async def test_4_1_flush_discards_queue_without_events(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    queued = [noop(), noop()]
    await app_call.queue([queued[0], play("vm-queued-one"), queued[1], play("vm-queued-two")])
    await asyncio.sleep(0.05)
    flush = await app_call.send("noop", insert_at="flush")
    await app_call.wait_for(completes("noop", flush["Msg-ID"]), timeout=0.8)
    await app_call.quiet(0.3)
    assert noop_responses(app_call) == [flush["Msg-ID"]], "discarded noops must not complete"
    assert len(app_call.find(completes("play"))) == 1, "only the interrupted play reports a completion"
    assert not app_call.find("dialplan"), "discarding is silent"


async def test_4_1_flush_stopped_command_reports_completion_first_then_head_starts_at_once(connected):
    _call, app_call = connected
    long_play = await app_call.send("play", {"Media-Name": "long"})
    await asyncio.sleep(0.05)
    started = time.monotonic()
    flush = await app_call.send("noop", insert_at="flush")
    await app_call.wait_for(completes("noop", flush["Msg-ID"]), timeout=0.8)
    assert time.monotonic() - started < 0.5, "flush must not wait for the 1 s play"
    stopped = app_call.index("CHANNEL_EXECUTE_COMPLETE", Application_UUID=long_play["Msg-ID"])
    assert stopped < app_call.index(completes("noop", flush["Msg-ID"]))


async def test_4_1_flush_queue_is_expanded_reversed(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    c1, c2 = noop(), noop()
    await app_call.queue([c1, c2], insert_at="flush")
    await app_call.wait_for(completes("noop", c1["Msg-ID"]), timeout=0.8)
    assert noop_responses(app_call) == [c2["Msg-ID"], c1["Msg-ID"]]


async def test_4_1_head_puts_the_command_in_front_of_the_queue(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "medium"})
    queued = noop()
    await app_call.queue([queued])
    head = await app_call.send("noop", insert_at="head")
    await app_call.wait_for(completes("noop", queued["Msg-ID"]))
    assert noop_responses(app_call) == [head["Msg-ID"], queued["Msg-ID"]]
    assert app_call.index(completes("play")) < app_call.index(completes("noop")), "head does not preempt"


async def test_4_1_head_queue_keeps_list_order_before_the_previous_head(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "medium"})
    queued = noop()
    await app_call.queue([queued])
    h1, h2 = noop(), noop()
    await app_call.queue([h1, h2], insert_at="head")
    await app_call.wait_for(completes("noop", queued["Msg-ID"]))
    assert noop_responses(app_call) == [h1["Msg-ID"], h2["Msg-ID"], queued["Msg-ID"]]


async def test_4_1_queue_elements_inherit_the_queue_envelope(connected):
    _call, app_call = connected
    element = {"Application-Name": "noop"}            # no Msg-ID, no Call-ID of its own
    sent = await app_call.queue([element])
    done = await app_call.wait_for(completes("noop"))
    assert done["Application-Response"] == sent["Msg-ID"]


async def test_4_1_empty_queue_elements_and_elements_without_application_are_skipped(connected):
    _call, app_call = connected
    marker = noop()
    await app_call.queue([{}, {"Media-Name": "x"}, marker])
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    await app_call.quiet(0.1)
    assert app_call.names()[-1] == "COMPLETE:noop" and not app_call.find("dialplan")


async def test_4_1_idle_queue_starts_the_next_command_on_arrival(connected):
    _call, app_call = connected
    first = await app_call.send("noop")
    await app_call.wait_for(completes("noop", first["Msg-ID"]))
    await asyncio.sleep(0.05)                         # idle: nothing current, Q empty
    second = await app_call.send("noop")
    await app_call.wait_for(completes("noop", second["Msg-ID"]), timeout=0.5)


# ---- 4.1.1 Filter-Applications --------------------------------------------------------

async def test_4_1_1_noop_now_filter_removes_matching_commands_from_the_head(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "medium"})
    kept = noop()
    # tail reverses: Q becomes play, play, kept
    await app_call.queue([kept, play("vm-two"), play("vm-one")])
    await asyncio.sleep(0.02)
    filt = await app_call.send("noop", {"Filter-Applications": ["play"]}, insert_at="now")
    await app_call.wait_for(completes("noop", filt["Msg-ID"]), timeout=0.3)
    await app_call.wait_for(completes("noop", kept["Msg-ID"]))
    assert len(app_call.find(completes("play"))) == 1, "the two queued plays were filtered out"


async def test_4_1_1_filter_members_are_tried_in_turn_and_objects_match_fields(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "medium"})
    kept = noop()
    # Q after tail reversal: play g1, tts, play g2, kept
    await app_call.queue([kept, play("vm-g2", **{"Group-ID": "g2"}),
                          {"Application-Name": "tts", "Text": "hello"}, play("vm-g1", **{"Group-ID": "g1"})])
    await asyncio.sleep(0.02)
    await app_call.send("noop", {"Filter-Applications": [
        {"Application-Name": "play", "Fields": {"Group-ID": "g1"}}, "tts"]}, insert_at="now")
    await app_call.wait_for(completes("noop", kept["Msg-ID"]))
    played = [msg.get("Raw-Application-Data") for msg in app_call.find(completes("play"))]
    assert played == ["medium", "prompt://system_media/vm-g2/en-us"], played
    assert not app_call.find(completes("tts"))


# ---- 4.1.2 starting and finishing ---------------------------------------------------

async def test_4_1_2_a_command_is_current_until_its_completion(connected):
    _call, app_call = connected
    started = time.monotonic()
    await app_call.send("sleep", {"Time": 20000})      # 20 s simulated = 0.2 s real
    marker = await app_call.send("noop")
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    assert time.monotonic() - started >= 0.19
    assert app_call.index(completes("sleep")) < app_call.index(completes("noop"))


async def test_4_1_2_queued_set_completes_without_an_event_and_the_queue_moves_on(connected):
    _call, app_call = connected
    await app_call.send("set", {"Custom-Channel-Vars": {"Test-Var": "on"}, "Custom-Call-Vars": {}})
    marker = await app_call.send("noop")
    done = await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    assert not app_call.find(completes("set"))
    assert done["Custom-Channel-Vars"]["Test-Var"] == "on"


async def test_4_1_2_playstop_stops_media_and_the_queue_moves_on(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    marker = await app_call.send("noop")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await app_call.send("playstop")
    await app_call.wait_for(completes("noop", marker["Msg-ID"]), timeout=0.6)
    assert time.monotonic() - started < 0.5
    assert app_call.index(completes("play")) < app_call.index(completes("noop"))


async def test_4_1_2_playseek_moves_the_playing_media(connected):
    _call, app_call = connected
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "long"})           # 100 s simulated
    await asyncio.sleep(0.05)
    await app_call.send("playseek", {"Direction": "fastforward", "Duration": 95000})
    await app_call.wait_for(completes("play"), timeout=0.8)
    assert time.monotonic() - started < 0.6, "fast-forwarding 95 of 100 s leaves about 0.05 s"


async def test_4_1_2_playseek_rewind_makes_the_media_last_longer(connected):
    _call, app_call = connected
    started = time.monotonic()
    await app_call.send("play", {"Media-Name": "medium"})         # 20 s simulated = 0.2 s
    await asyncio.sleep(0.1)
    await app_call.send("playseek", {"Direction": "rewind", "Duration": 10000})
    await app_call.wait_for(completes("play"), timeout=1)
    assert time.monotonic() - started >= 0.28


async def test_4_1_2_break_stops_the_current_command_and_empties_the_queue(connected):
    _call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    queued = noop()
    await app_call.queue([queued])
    await asyncio.sleep(0.05)
    await app_call.send("break")
    await app_call.wait_for(completes("play"), timeout=0.5)
    await app_call.quiet(0.2)
    assert not app_call.find(completes("noop")), "break empties Q"
    after = await app_call.send("noop")
    await app_call.wait_for(completes("noop", after["Msg-ID"]), timeout=0.5)


async def test_4_1_2_queued_hangup_ends_the_call_after_what_is_in_front(connected):
    call, app_call = connected
    await app_call.send("play", {"Media-Name": "medium"})
    await app_call.send("hangup", {"Hangup-Cause": "USER_BUSY"})
    destroy = await app_call.wait_for("CHANNEL_DESTROY")
    assert destroy["Hangup-Cause"] == "USER_BUSY"
    assert app_call.index(completes("play")) < app_call.index("CHANNEL_DESTROY")
    result = await call.finished(5)
    assert result.hung_up_by == "app" and result.hangup_cause == "USER_BUSY"


async def test_4_1_2_invalid_command_gives_a_dialplan_error_and_the_queue_moves_on(connected):
    _call, app_call = connected
    marker = noop()
    broken = {"Application-Name": "play", "Msg-ID": "broken-play"}       # no Media-Name
    await app_call.queue([marker, broken])          # tail: broken runs first
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    error = app_call.find(error_for("play"))
    assert len(error) == 1 and error[0].msg_id == "broken-play"
    assert app_call.messages.index(error[0]) < app_call.index(completes("noop"))
