"""bus.md 4.1.3, 8.4, 8.5: what happens to commands when the channel goes away."""

from __future__ import annotations

import asyncio
import secrets
import time

from gateway_sim import Gateway
from services.bus import codec
from services.exchanges import CALLCTL
from services.messages import catalogue as m
from tests.integration.gateway.conftest import ALL_KEYS, completes, error_for, noop, play


async def test_4_1_3_current_command_gets_a_down_error_when_the_channel_is_destroyed(connected):
    call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    await asyncio.sleep(0.05)
    call.hangup()
    error = await app_call.wait_for(error_for("play"))
    assert error["Dialplan-Error"] == "DOWN" and error["Error-Message"].startswith("DOWN")
    assert (error["Channel-State"], error["Channel-Call-State"]) == ("DOWN", "DOWN")
    assert app_call.index("CHANNEL_DESTROY") < app_call.messages.index(error)
    await app_call.quiet(0.2)
    assert not app_call.find(completes("play")), "a destroyed play does not complete"


async def test_4_1_3_queued_commands_get_down_errors_in_queue_order(connected):
    call, app_call = connected
    await app_call.send("play", {"Media-Name": "long"})
    first, second = noop(), noop()
    await app_call.queue([second, first])             # Q: first, second
    await asyncio.sleep(0.05)
    call.hangup()
    await app_call.wait_for(lambda msg: msg.msg_id == second["Msg-ID"])
    errors = [msg.msg_id for msg in app_call.find(error_for("noop"))]
    assert errors == [first["Msg-ID"], second["Msg-ID"]]
    assert all(msg["Error-Message"].startswith("DOWN") for msg in app_call.find("dialplan"))
    assert not app_call.find(completes("noop"))


async def test_4_1_3_commands_are_accepted_for_two_seconds_after_the_destroy(gw_bus, gateway_config, app, endpoint,
                                                                            app_bus):
    gateway = Gateway(gw_bus, None, gateway_config.with_(post_hangup_linger=2.0))
    await gateway.start()
    try:
        call = await gateway.start_call(endpoint=endpoint, dial="*97")
        app_call = await app.next_call()
        queue = app_call.control_queue
        call.hangup()
        await app_call.wait_for("CHANNEL_DESTROY")
        destroyed = time.monotonic()
        await asyncio.sleep(1.5)
        late = await app_call.send("noop")
        error = await app_call.wait_for(error_for("noop"))
        assert error.msg_id == late["Msg-ID"] and error["Error-Message"].startswith("DOWN")
        result = await call.finished(10)
        # the linger is re-armed by each command received after the hangup
        assert time.monotonic() - destroyed >= 3.4
        assert result.ok
        # the control process is gone now: nothing answers on its queue any more
        body = app_bus.publisher.build(m.COMMANDS["noop"], {"Call-ID": call.call_id, "Application-Name": "noop"})
        await app_bus.transport.publish(CALLCTL, queue, codec.encode(body))
        await asyncio.sleep(0.3)
        assert not app_call.find(lambda msg: msg.msg_id == body["Msg-ID"])
    finally:
        await gateway.stop()


async def test_8_4_hangup_during_record(connected):
    call, app_call = connected
    await app_call.send("answer")
    name = secrets.token_hex(16) + ".mp3"
    await app_call.send("record", {"Media-Name": name, "Terminators": ["#"], "Time-Limit": "300",
                                   "Silence-Hits": "5"})
    await app_call.wait_for("RECORD_START")
    call.speak(2.0)
    await asyncio.sleep(0.05)
    call.hangup()
    stop = await app_call.wait_for("RECORD_STOP")
    assert stop["Channel-Answer-State"] == "hangup"
    assert stop["Recording"]["File-Path"].endswith(name)
    destroy = await app_call.wait_for("CHANNEL_DESTROY")
    assert app_call.messages.index(stop) < app_call.messages.index(destroy)
    await app_call.quiet(0.2)
    assert not app_call.find(completes("record")), "no completion after a hangup"
    assert not app_call.find(error_for("record")), "record is allowed after hangup: no DOWN error"
    assert destroy["Media-Recordings"] == [stop["Recording"]["File-Path"]]


async def test_8_5_commands_after_destroy_get_down_error(connected):
    call, app_call = connected
    call.hangup()
    await app_call.wait_for("CHANNEL_DESTROY")
    play_cmd = await app_call.send("play", {"Media-Name": "vm-hello", "Terminators": ALL_KEYS})
    marker = await app_call.send("noop")
    await app_call.send("hangup")
    await app_call.send("record", {"Media-Name": "after.mp3"})
    await app_call.send_raw({"Application-Name": "presence", "Presence-ID": "356@acme.example.com"})
    queued = noop()
    await app_call.queue([queued, play("vm-x")])
    await app_call.wait_for(lambda msg: msg.msg_id == queued["Msg-ID"])
    errors = app_call.find("dialplan")
    assert [e.msg_id for e in errors][:2] == [play_cmd["Msg-ID"], marker["Msg-ID"]]
    assert all(e["Error-Message"].startswith("DOWN") and e["Dialplan-Error"] == "DOWN" for e in errors)
    assert not app_call.find(error_for("hangup")) and not app_call.find(error_for("record"))
    assert not app_call.find(error_for("presence"))
    assert len(app_call.find("CHANNEL_DESTROY")) == 1 and not app_call.find("RECORD_START")


async def test_8_5_storage_upload_after_hangup_still_runs(connected, upload_server):
    call, app_call = connected
    name = secrets.token_hex(16) + ".mp3"
    await app_call.send("record", {"Media-Name": name, "Terminators": ["#"], "Silence-Hits": "5"})
    await app_call.wait_for("RECORD_START")
    call.speak(1.0)
    await asyncio.sleep(0.03)
    call.hangup()
    await app_call.wait_for("CHANNEL_DESTROY")
    url = f"{upload_server.base}/store/{name}"
    await app_call.send("store_vm", {"Media-Name": name, "Media-Transfer-Method": "put",
                                     "Media-Transfer-Destination": url}, insert_at="now")
    done = await app_call.wait_for(completes("store_vm"))
    assert done["Application-Response"] == "success"
    assert upload_server.requests and upload_server.requests[0]["path"] == f"/store/{name}"
    assert not app_call.find(error_for("store_vm"))
