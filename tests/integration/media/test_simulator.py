"""The gateway simulator resolves media as ecallmgr does (media.md 6.6; MED-037 ... MED-041).

On the real broker: voicemail_svc (its real media responder and ``/media/`` endpoint) on a
memory store with media.md 7's world, the gateway simulator, and a fake app that parks the
call and sends the plays.  A queue of the test's own, bound to ``kapps`` / ``media_req``,
sees every media_req the simulator publishes; the endpoint's own counter sees every GET.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest

from gateway_sim import Gateway, GatewayConfig
from services.bus import Bus, open_transport, unique_queue_name
from services.exchanges import KAPPS
from services.media import wav
from services.messages import catalogue as m
from services.messages.spec import Message
from tests.integration.gateway.conftest import FakeApp, completes, connect, finish, new_endpoint, noop
from tests.integration.media.conftest import (A, A_DB, SYSTEM_MEDIA, VALIDATOR, put_prompt, seed_world)

pytestmark = pytest.mark.integration


@dataclass
class Sim:
    service: Any            # tests.integration.media.conftest.MediaService
    gateway: Gateway
    app: FakeApp
    requests: list[Message]  # every media_req seen on kapps

    @property
    def gets(self) -> int:
        """GETs the media endpoint answered (served or refused)."""
        return self.service.endpoint.served + self.service.endpoint.refused

    async def call(self):
        return await connect(self.gateway, self.app, new_endpoint(A))

    async def play(self, app_call, *names: str, **extra: Any) -> list[Message]:
        """Queue plays of ``names`` and a marker noop after them; the plays' completions."""
        marker = noop()
        plays = [{"Application-Name": "play", "Media-Name": name, **extra} for name in names]
        await app_call.queue([marker] + list(reversed(plays)))
        await app_call.wait_for(completes("noop", marker["Msg-ID"]), timeout=10)
        return app_call.find(completes("play"))


async def _bus(url: str, name: str) -> Bus:
    bus = Bus(open_transport(url), VALIDATOR, app_name=name, node=f"{name}@sim-test")
    await bus.start()
    return bus


@pytest.fixture
async def sim(amqp_url, start_media, memory_store, tmp_path):
    await seed_world(memory_store)
    service = await start_media(memory_store)
    tap_bus, gw_bus, app_bus = [await _bus(amqp_url, n) for n in ("tap", "freeswitch", "fakeapp")]
    requests: list[Message] = []
    tap = await tap_bus.consumer(unique_queue_name("media-req-tap"), exclusive=True)
    await tap.bind(KAPPS, m.MEDIA_REQ_KEY)

    async def seen(message: Message) -> None:
        requests.append(message)

    tap.on(m.MEDIA_REQ, seen)
    await tap.start()
    gateway = await Gateway(gw_bus, None, GatewayConfig(recording_dir=str(tmp_path / "recordings"),
                                                        time_scale=0.01, route_timeout=0.6,
                                                        post_hangup_linger=0.05, max_call_seconds=30)).start()
    app = await FakeApp(app_bus, A).start()
    yield Sim(service, gateway, app, requests)
    await app.stop()
    await gateway.stop()
    await tap.stop(1.0)
    for bus in (tap_bus, gw_bus, app_bus):
        await bus.close()


async def test_MED_037_a_prompt_is_asked_for_with_media_req_and_fetched_before_the_play_completes(sim, memory_store):
    audio = wav.tone(0.5)
    await put_prompt(memory_store, SYSTEM_MEDIA, "vm-enter_pass", "en-us", audio)
    name = f"prompt://{A}/vm-enter_pass/en-us"
    call, app_call = await sim.call()
    marker = noop()
    await app_call.queue([marker, {"Application-Name": "play", "Media-Name": name}])
    done = await app_call.wait_for(completes("play"), timeout=10)
    gets_at_completion = sim.gets
    await app_call.wait_for(completes("noop", marker["Msg-ID"]))
    result = await finish(call, app_call)

    assert done["Application-Response"] == "FILE PLAYED"
    # exactly one media_req, as ecallmgr builds it (media.md 2.2, 6.6 rule 1)
    assert len(sim.requests) == 1
    request = sim.requests[0]
    assert request["Media-Name"] == name and request["Stream-Type"] == "new"
    assert request["Call-ID"] == call.call_id
    assert request.server_id == sim.gateway.media_lookup.server_id
    assert request.msg_id
    # the Stream-URL was fetched (one GET, served) before the play's completion was published
    assert gets_at_completion == 1 and sim.service.endpoint.served == 1
    steps = list(result.transcript)
    fetched = next(i for i, s in enumerate(steps) if s.kind == "media")
    completed = next(i for i, s in enumerate(steps) if s.kind == "event" and "CHANNEL_EXECUTE_COMPLETE" in s.text
                     and "play" in s.text)
    assert fetched < completed
    # the transcript names the prompt id and the byte count
    assert "vm-enter_pass" in steps[fetched].text and f"{len(audio)} bytes" in steps[fetched].text
    assert result.prompts == ["vm-enter_pass"]
    assert result.media == [{"label": "vm-enter_pass", "media_name": name, "via": "media_req", "ok": True,
                             "bytes": len(audio), "stream_url": result.media[0]["stream_url"], "seconds": 0.5,
                             "status": 200}]
    assert result.media[0]["stream_url"].startswith(sim.service.url + "/media/")


async def test_MED_037_a_second_play_asks_again_with_a_fresh_msg_id(sim, memory_store):
    """No Stream-URL cache by default (media.md 6.6 rule 5): every play proves the whole path."""
    await put_prompt(memory_store, SYSTEM_MEDIA, "vm-enter_pass", "en-us", wav.tone(0.2))
    name = f"prompt://{A}/vm-enter_pass/en-us"
    call, app_call = await sim.call()
    played = await sim.play(app_call, name, name)
    await finish(call, app_call)
    assert [p["Application-Response"] for p in played] == ["FILE PLAYED", "FILE PLAYED"]
    assert len(sim.requests) == 2 and sim.requests[0].msg_id != sim.requests[1].msg_id
    assert sim.service.endpoint.served == 2


async def test_MED_038_literal_names_need_no_media_req_and_no_http(sim):
    call, app_call = await sim.call()
    played = await sim.play(app_call, "silence_stream://50", "tone_stream://%(500,100,440)", "say:1234")
    await app_call.quiet(0.3)              # a media_req would have reached the tap by now
    result = await finish(call, app_call)
    assert [p["Application-Response"] for p in played] == ["FILE PLAYED"] * 3
    assert sim.requests == [] and sim.gets == 0 and sim.gateway.media_lookup.gets == 0
    assert result.media == [] and not result.not_found


async def test_MED_038_an_http_name_is_fetched_once_without_media_req(sim):
    world_url = sim.service.endpoint.url_for(A_DB, "5f1d2a3b4c5d6e7f8a9b0c1d2e3f4a5b", "greeting.mp3")
    call, app_call = await sim.call()
    played = await sim.play(app_call, world_url)
    await app_call.quiet(0.3)
    result = await finish(call, app_call)
    assert played[0]["Application-Response"] == "FILE PLAYED"
    assert sim.requests == []
    assert sim.service.endpoint.served == 1
    assert result.media[0]["via"] == "url" and result.media[0]["bytes"] == 5000     # B_G


async def test_MED_039_a_name_recorded_on_the_call_replays_without_media_req(sim):
    name = secrets.token_hex(16) + ".mp3"
    call, app_call = await sim.call()
    marker = noop()
    await app_call.queue([marker, {"Application-Name": "play", "Media-Name": name},
                          {"Application-Name": "record", "Media-Name": name, "Time-Limit": "2",
                           "Silence-Hits": "1"}])
    await app_call.wait_for(completes("noop", marker["Msg-ID"]), timeout=10)
    await app_call.quiet(0.3)
    result = await finish(call, app_call)
    assert app_call.find(completes("play"))[0]["Application-Response"] == "FILE PLAYED"
    assert sim.requests == [] and sim.gets == 0
    recording = result.recordings[0]
    assert result.media == [{"label": name, "media_name": name, "via": "recording", "ok": True,
                             "bytes": recording["size"], "seconds": recording["length_ms"] / 1000}]


async def test_MED_039_the_same_name_on_another_call_is_asked_for(sim):
    """Only the call that recorded it plays the local file; another call asks the media responder."""
    name = secrets.token_hex(16) + ".mp3"
    first, first_app = await sim.call()
    marker = noop()
    await first_app.queue([marker, {"Application-Name": "record", "Media-Name": name, "Time-Limit": "1"}])
    await first_app.wait_for(completes("noop", marker["Msg-ID"]), timeout=10)
    await finish(first, first_app)
    second, second_app = await sim.call()
    played = await sim.play(second_app, name)
    await finish(second, second_app)
    assert played[0]["Application-Response"] == "FILE NOT FOUND"       # system_media holds no such name
    assert [r["Media-Name"] for r in sim.requests] == [name]


async def test_MED_040_a_media_error_completes_with_file_not_found(sim):
    call, app_call = await sim.call()
    played = await sim.play(app_call, f"prompt://{A}/vm-nothing/en-us")
    result = await finish(call, app_call)
    assert played[0]["Application-Response"] == "FILE NOT FOUND"
    assert not app_call.find("dialplan")
    assert len(sim.requests) == 1 and sim.gets == 0
    assert result.not_found[0]["reason"] == "media_error not_found/invalid_media_name"
    assert any("vm-nothing" in text and "FILE NOT FOUND" in text and "not_found" in text
               for text in result.transcript.texts("media"))


async def test_MED_040_no_reply_within_2000_ms_completes_with_file_not_found(sim, memory_store):
    await put_prompt(memory_store, SYSTEM_MEDIA, "vm-enter_pass", "en-us", wav.tone(0.2))
    await sim.service.responder.stop(1.0)        # nobody answers media_req any more
    call, app_call = await sim.call()
    started = time.monotonic()
    played = await sim.play(app_call, f"prompt://{A}/vm-enter_pass/en-us")
    waited = time.monotonic() - started
    result = await finish(call, app_call)
    assert played[0]["Application-Response"] == "FILE NOT FOUND"
    assert len(sim.requests) == 1 and sim.gets == 0
    assert waited >= 2.0                          # ecallmgr's whole wait
    assert result.not_found[0]["reason"] == "no reply to media_req in 2000 ms"
    assert any("no reply to media_req in 2000 ms" in text for text in result.transcript.texts("media"))


async def test_MED_040_a_get_answered_404_completes_with_file_not_found(sim, memory_store):
    # a valid Stream-URL whose document is gone by the time it is fetched (MED-032 answers 404)
    doc = await memory_store.get(A_DB, "5f1d2a3b4c5d6e7f8a9b0c1d2e3f4a5b")
    url = sim.service.endpoint.url_for(A_DB, doc["_id"], "greeting.mp3")
    await memory_store.delete(A_DB, doc["_id"], doc["_rev"])
    call, app_call = await sim.call()
    played = await sim.play(app_call, url)
    result = await finish(call, app_call)
    assert played[0]["Application-Response"] == "FILE NOT FOUND"
    assert sim.requests == []
    assert result.not_found[0]["reason"] == "HTTP 404" and result.not_found[0]["status"] == 404
    assert any("HTTP 404" in text for text in result.transcript.texts("media"))


async def test_MED_041_a_stored_two_second_wav_plays_two_seconds(sim, memory_store):
    await put_prompt(memory_store, SYSTEM_MEDIA, "vm-two_seconds", "en-us", wav.tone(2.0))
    await put_prompt(memory_store, SYSTEM_MEDIA, "vm-half_second", "en-us", wav.tone(0.5))
    call, app_call = await sim.call()
    started = time.monotonic()
    played = await sim.play(app_call, f"prompt://{A}/vm-two_seconds/en-us")
    elapsed = time.monotonic() - started
    await sim.play(app_call, f"prompt://{A}/vm-half_second/en-us")
    result = await finish(call, app_call)
    assert played[0]["Application-Response"] == "FILE PLAYED"
    # simulated seconds heard: the WAV's frames / rate, not the 1.5 s default
    assert [(h.label, h.seconds) for h in result.heard] == [("vm-two_seconds", 2.0), ("vm-half_second", 0.5)]
    assert elapsed >= 2.0 * sim.gateway.config.time_scale


async def test_MED_041_a_configured_length_wins_over_the_body(sim, memory_store, tmp_path):
    await put_prompt(memory_store, SYSTEM_MEDIA, "vm-two_seconds", "en-us", wav.tone(2.0))
    gateway = await Gateway(sim.gateway.bus, None, sim.gateway.config.with_(
        media_seconds={"vm-two_seconds": 0.3}, recording_dir=str(tmp_path / "other"))).start()
    try:
        call, app_call = await connect(gateway, sim.app, new_endpoint(A))
        await sim.play(app_call, f"prompt://{A}/vm-two_seconds/en-us")
        result = await finish(call, app_call)
    finally:
        await gateway.stop()
    assert [(h.label, h.seconds) for h in result.heard] == [("vm-two_seconds", 0.3)]
    assert result.media[0]["seconds"] == 2.0      # the body's own length, overridden by the test


async def test_a_load_test_media_cache_plays_a_name_again_until_a_media_change(sim, amqp_url, memory_store,
                                                                                tmp_path):
    """``media_cache_seconds`` (off by default): a fetched name is played again with no media_req
    and no GET, as ecallmgr and FreeSWITCH's HTTP cache do (media.md 2.3); a miss is never kept;
    a change event for a media document drops what was kept."""
    prompt = await put_prompt(memory_store, SYSTEM_MEDIA, "vm-enter_pass", "en-us", wav.tone(0.2))
    name = f"prompt://{A}/vm-enter_pass/en-us"
    missing = f"prompt://{A}/vm-no_such_prompt/en-us"
    gw_bus = await _bus(amqp_url, "freeswitch-cached")
    cached = await Gateway(gw_bus, None, GatewayConfig(recording_dir=str(tmp_path / "cached"), time_scale=0.01,
                                                       route_timeout=0.6, post_hangup_linger=0.05,
                                                       max_call_seconds=30, media_cache_seconds=3600)).start()
    try:
        call, app_call = await connect(cached, sim.app, new_endpoint(A))
        # the first media_req writes the media config's defaults back, and that change drops the
        # cache too: play until a play is served from the cache
        for _ in range(5):
            await sim.play(app_call, name)
            if cached.media_lookup.cache_hits:
                break
        assert cached.media_lookup.cache_hits == 1
        asked, fetched = len(sim.requests), sim.gets
        played = (await sim.play(app_call, name, name))[-2:]
        assert [p["Application-Response"] for p in played] == ["FILE PLAYED", "FILE PLAYED"]
        assert (len(sim.requests), sim.gets) == (asked, fetched)      # no media_req, no GET
        assert cached.media_lookup.cache_hits == 3

        for n in (1, 2):                                    # a miss is asked for again each time
            missed = (await sim.play(app_call, missing))[-1:]
            assert [p["Application-Response"] for p in missed] == ["FILE NOT FOUND"]
            assert len(sim.requests) == asked + n

        edited = await memory_store.put_over(SYSTEM_MEDIA, {**prompt, "description": "edited"})
        flushes = cached.media_lookup.cache_flushes
        await sim.app.bus.publish(m.DOC_CHANGES["doc_edited"],
                                  {"ID": edited["_id"], "Database": SYSTEM_MEDIA, "Type": "media",
                                   "Rev": edited["_rev"]})
        deadline = time.monotonic() + 5
        while cached.media_lookup.cache_flushes == flushes and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert cached.media_lookup.cache_flushes > flushes
        again = (await sim.play(app_call, name))[-1:]
        assert [p["Application-Response"] for p in again] == ["FILE PLAYED"]
        assert len(sim.requests) == asked + 3 and sim.gets == fetched + 1   # asked and fetched again
        result = await finish(call, app_call)
        vias = [entry["via"] for entry in result.media if entry["media_name"] == name]
        assert vias[-4:] == ["cache", "cache", "cache", "media_req"]
    finally:
        await cached.stop()
        await gw_bus.close()
