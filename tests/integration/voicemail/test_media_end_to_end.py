"""Leave a message, then hear it, with every play resolved as a real gateway resolves it (media.md 6.6).

voicemail_svc hosts the media responder; the gateway simulator asks it (media_req) for every
prompt and the greeting and GETs each Stream-URL, and GETs the message's own signed URL.  The
prompts are the seeded system prompts (``kzvoice prompts seed``), the greeting an account media
document with its audio.
"""

from __future__ import annotations

import secrets

import pytest

from gateway_sim import Script
from testkit.media import put_media, tone

pytestmark = pytest.mark.integration

GREETING = secrets.token_hex(16)


async def test_compose_then_check_resolve_every_prompt_the_greeting_and_the_message(vm_env):
    greeting_audio = tone(0.75)

    async def with_greeting(store, ids) -> None:
        await put_media(store, ids.account, GREETING, audio=greeting_audio, attachment="greeting.wav")

    env = await vm_env(box={"media": {"unavailable": GREETING}}, seed=with_greeting)
    left = await env.place(script=Script().on_record_start(speak=1.0, press="1")
                           .on_prompt("vm-review_recording", press="1"))
    assert left.call.ok and len(await env.messages()) == 1
    heard = await env.place({"action": "check", "id": env.ids.box}, owner=True, script=(
        Script().on_prompt("vm-enter_pass", press="1234#").on_prompt("vm-main_menu", press="1")
        .on_prompt("vm-message_menu", hangup=True)))

    for out in (left, heard):
        assert out.call.media, "nothing was fetched"
        assert out.call.not_found == [], out.call.not_found
        assert not any("FILE NOT FOUND" in text for text in out.call.transcript.texts())
    # the greeting: asked for as /<account>/<media id>, fetched with its bytes, and heard
    greeting = [m for m in left.call.media if m["media_name"] == f"/{env.ids.account}/{GREETING}"]
    assert [(g["via"], g["bytes"]) for g in greeting] == [("media_req", len(greeting_audio))]
    # every prompt of both calls came through media_req + GET
    prompts = [m for out in (left, heard) for m in out.call.media if m["media_name"].startswith("prompt://")]
    assert {"vm-record_message", "vm-saved", "vm-main_menu", "vm-message_menu"} <= {m["label"] for m in prompts}
    assert {m["via"] for m in prompts} == {"media_req"}
    # the message: one GET of its signed URL, which returned the recording's bytes
    recorded = left.call.recordings[0]
    message = [m for m in heard.call.media if m["via"] == "url"]
    assert len(message) == 1 and message[0]["bytes"] == recorded["size"]
    assert message[0]["seconds"] == recorded["length_ms"] / 1000
