"""Recording, review and the minimum length (voicemail.md 4.6-4.8; VM-042 ... VM-053)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from services.messages.etf import ActionResult
from tests.integration.voicemail.conftest import add_callflow, validate_message_doc

pytestmark = pytest.mark.integration

CONTINUE = ActionResult("continue")
OPERATOR_FLOW = {"module": "play", "data": {"id": "operator-music"}, "children": {}}


def record(speak: float = 3.0, press: str = "1") -> Script:
    return Script().on_record_start(speak=speak, press=press)


async def stored(env, count: int = 1) -> list[dict]:
    await env.settle()
    await env.wait_until(lambda: _count(env, count), what=f"{count} stored message(s)")
    return await env.messages()


async def _count(env, count: int) -> bool:
    return len(await env.messages()) >= count


async def test_vm_042_answered_recording_goes_to_review(vm_env):
    env = await vm_env()
    out = await env.place(script=record().on_prompt("vm-review_recording", press="1"))
    assert "vm-review_recording" in out.prompts
    assert out.prompts.index("tones") < out.prompts.index("vm-review_recording")


async def test_vm_043_save_stores_a_new_message_and_thanks(vm_env):
    env = await vm_env()
    out = await env.place(script=record().on_prompt("vm-review_recording", press="1"))
    assert out.result == CONTINUE
    assert out.prompts[-2:] == ["vm-saved", "vm-thank_you"]
    [doc] = await stored(env)
    assert doc["metadata"]["folder"] == "new" and doc["source_id"] == env.ids.box
    validate_message_doc(doc)


async def test_vm_044_listen_plays_the_recording_then_asks_again(vm_env):
    env = await vm_env()
    script = record().on_prompt("vm-review_recording", press="2").on_prompt("vm-review_recording", press="1")
    out = await env.place(script=script)
    name = out.commands("record")[0]["Media-Name"]
    assert name in out.prompts                                   # the recording itself was played
    first = out.prompts.index("vm-review_recording")
    assert out.prompts.index(name) > first
    assert out.prompts.count("vm-review_recording") == 2
    assert out.prompts.index(name) < len(out.prompts) - 1 - out.prompts[::-1].index("vm-review_recording")


async def test_vm_045_re_record_uses_a_new_name_and_drops_the_first(vm_env):
    env = await vm_env()
    script = Script().on_record_start(speak=2.0, press="1", times=2) \
        .on_prompt("vm-review_recording", press="3").on_prompt("vm-review_recording", press="1")
    out = await env.place(script=script)
    first, second = [c["Media-Name"] for c in out.commands("record")]
    assert first != second
    assert out.prompts.count("tones") == 2
    [doc] = await stored(env)
    assert doc["media_filename"] == second and list(doc["_attachments"]) == [second]
    assert env.voicemail.deps.uploads.accepted == 1             # the first recording was never uploaded


async def test_vm_046_operator_from_review_saves_then_branches(vm_env):
    env = await vm_env(seed=lambda store, ids: add_callflow(store, ids, ["0"], OPERATOR_FLOW))
    out = await env.place(script=record().on_prompt("vm-review_recording", press="0"))
    assert out.result == ActionResult("continue_with_flow", OPERATOR_FLOW)
    assert out.prompts[-1] == "vm-saved" and "vm-thank_you" not in out.prompts
    # saved synchronously, before the branch
    assert len(await env.messages()) == 1


async def test_vm_047_operator_from_review_without_operator_asks_again(vm_env):
    env = await vm_env()
    script = record().on_prompt("vm-review_recording", press="0").on_prompt("vm-review_recording", press="1")
    out = await env.place(script=script)
    assert out.prompts.count("vm-review_recording") == 2
    assert out.result == CONTINUE


async def test_vm_048_four_silent_reviews_still_store_the_message(vm_env):
    env = await vm_env()
    out = await env.place(script=record())
    assert out.prompts.count("vm-review_recording") == 4
    assert out.prompts[-2:] == ["vm-saved", "vm-thank_you"]
    assert len(await stored(env)) == 1


async def test_vm_049_hangup_in_review_stores_and_notifies(vm_env):
    env = await vm_env()
    await env.place(script=record().on_prompt("vm-review_recording", hangup=True))
    [doc] = await stored(env)
    await env.wait_until(lambda: env.named("voicemail_new"), what="voicemail_new")
    assert env.named("voicemail_new")[0]["Voicemail-ID"] == doc["_id"]


async def test_vm_050_hangup_while_recording_stores_without_review(vm_env):
    env = await vm_env()
    out = await env.place(script=Script().on_record_start(speak=4.0, hangup=True))
    assert "vm-review_recording" not in out.prompts
    [doc] = await stored(env)
    assert doc["metadata"]["length"] == 4000
    await env.wait_until(lambda: env.named("mwi_update"), what="mwi_update")
    assert env.named("voicemail_new")[0]["Voicemail-ID"] == doc["_id"]
    assert env.named("mwi_update")[0]["Messages-New"] == 1
    assert out.result == CONTINUE


async def test_vm_051_hangup_during_the_greeting_leaves_nothing(vm_env):
    env = await vm_env()
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, hangup=True))
    await env.settle()
    assert out.result == CONTINUE
    assert out.commands("record") == []
    assert await env.messages() == []
    assert env.notifications == [] and env.presence == []


async def test_vm_052_too_short_message_is_dropped_after_the_prompts(vm_env):
    env = await vm_env()
    out = await env.place(script=record(speak=0.4).on_prompt("vm-review_recording", press="1"))
    assert out.prompts[-2:] == ["vm-saved", "vm-thank_you"]
    await env.settle()
    assert await env.messages() == []
    assert env.notifications == [] and env.presence == []
    assert env.voicemail.deps.uploads.accepted == 0


async def test_vm_053_account_minimum_length(vm_env):
    env = await vm_env(account_config={"callflow": {"voicemail": {"min_message_size": 2000}}})
    await env.place(script=record(speak=1.5).on_prompt("vm-review_recording", press="1"))
    await env.settle()
    assert await env.messages() == []
    assert env.named("voicemail_new") == []
