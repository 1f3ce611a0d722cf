"""Compose: greeting and the first key (voicemail.md 4.1-4.3; VM-001, VM-016 ... VM-033)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from services.messages.etf import ActionResult
from tests.integration.voicemail.conftest import ALL_DTMF, add_callflow

pytestmark = pytest.mark.integration

CONTINUE = ActionResult("continue")
GREETING = ["vm-person", "say:3456", "vm-not_available"]
OPERATOR_FLOW = {"module": "play", "data": {"id": "operator-music"}, "children": {}}


def leave() -> Script:
    """Wait for the beep, speak 3 s, stop with 1, save at review."""
    return Script().on_record_start(speak=3.0, press="1").on_prompt("vm-review_recording", press="1")


def before(prompts: list[str], first: str, second: str) -> bool:
    return first in prompts and second in prompts and prompts.index(first) < prompts.index(second)


def apps(out) -> list[str]:
    return [c["Application-Name"] for c in out.sent]


async def test_vm_001_no_action_answers_and_greets(vm_env):
    env = await vm_env()
    out = await env.place({"id": env.ids.box}, script=leave())
    assert out.sent[0]["Application-Name"] == "answer"
    assert out.prompts[:3] == GREETING
    assert out.result == CONTINUE


async def test_vm_016_default_greeting_then_instructions_tone_and_record(vm_env):
    env = await vm_env()
    out = await env.place(script=leave())
    assert out.prompts[:5] == GREETING + ["vm-record_message", "tones"]
    says = out.commands("say")
    assert says[0]["Say-Text"] == "3456" and says[0]["Type"] == "name_spelled"
    assert says[0]["Method"] == "pronounced"
    tones = out.commands("tones")[0]["Tones"]
    assert tones == [{"Frequencies": ["440"], "Duration-ON": "500", "Duration-OFF": "100"}]
    assert apps(out).index("tones") < apps(out).index("record")


async def test_vm_017_recorded_unavailable_greeting_replaces_the_default(vm_env):
    env = await vm_env(box={"media": {"unavailable": "m1greeting"}})
    out = await env.place(script=leave())
    assert out.prompts[:2] == ["m1greeting", "vm-record_message"]
    assert not set(GREETING) & set(out.prompts)
    assert f"/{env.ids.account}/m1greeting" in [c["Media-Name"] for c in out.commands("play")]


async def test_vm_018_temporary_greeting_wins(vm_env):
    env = await vm_env(box={"media": {"unavailable": "m1greeting", "temporary_unavailable": "m2temporary"}})
    out = await env.place(script=leave())
    assert out.prompts[:2] == ["m2temporary", "vm-record_message"]
    assert "m1greeting" not in out.prompts


async def test_vm_019_skip_greeting_beats_even_the_temporary_greeting(vm_env):
    env = await vm_env(box={"skip_greeting": True, "media": {"temporary_unavailable": "m2temporary"}})
    out = await env.place(script=leave())
    assert out.prompts[:2] == ["vm-record_message", "tones"]
    assert "m2temporary" not in out.prompts


async def test_vm_020_skip_instructions_goes_from_greeting_to_tone(vm_env):
    env = await vm_env(box={"skip_instructions": True})
    out = await env.place(script=leave())
    assert out.prompts[:4] == GREETING + ["tones"]
    assert "vm-record_message" not in out.prompts


async def test_vm_021_person_not_available_without_box_number(vm_env):
    env = await vm_env(box={"use_person_not_available": True})
    out = await env.place(script=leave())
    assert out.prompts[:2] == ["vm-person_not_available", "vm-record_message"]
    assert out.commands("say") == []


async def test_vm_022_greeting_intro_before_the_greeting(vm_env):
    env = await vm_env(box={"play_greeting_intro": True})
    out = await env.place(script=leave())
    assert out.prompts[:4] == ["vm-greeting_intro"] + GREETING


async def test_vm_023_recorded_name_is_never_part_of_the_greeting(vm_env):
    env = await vm_env(box={"media": {"name": "namemedia"}})
    out = await env.place(script=leave())
    assert out.prompts[:3] == GREETING
    assert "namemedia" not in out.prompts
    assert not any("namemedia" in str(c.get("Media-Name", "")) for c in out.commands())


async def test_vm_024_record_command_terminators_and_silence(vm_env):
    env = await vm_env()
    out = await env.place(script=leave())
    record = out.commands("record")[0]
    assert sorted(record["Terminators"]) == sorted(ALL_DTMF)
    assert record["Silence-Threshold"] == "200" and record["Silence-Hits"] == "5"


async def test_vm_025_login_key_flushes_and_hands_over_to_check(vm_env):
    # the box number is said for 0.5 s of real time (test scale), not 10 ms: the flush that the '*'
    # sends must reach the gateway before the greeting moves on, also on a slow, loaded broker
    env = await vm_env(media={"say:3456": 50.0})
    script = Script().on_prompt("vm-person", barge=True, press="*").on_prompt("vm-enter_pass", hangup=True)
    out = await env.place(script=script)
    assert env.check.calls == [env.ids.box]               # check with the same box
    assert any(c.get("Insert-At") == "flush" for c in out.commands("noop"))
    assert "vm-not_available" not in out.prompts           # the rest of the greeting was flushed
    assert out.commands("record") == [] and "tones" not in out.prompts
    assert "vm-enter_pass" in out.prompts


async def test_vm_026_operator_key_branches_to_the_operator_callflow(vm_env):
    env = await vm_env(seed=lambda store, ids: add_callflow(store, ids, ["0"], OPERATOR_FLOW))
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, press="0"))
    assert out.result == ActionResult("continue_with_flow", OPERATOR_FLOW)
    assert out.commands("record") == []
    assert await env.messages() == []


async def test_vm_027_operator_key_without_operator_callflow_records(vm_env):
    env = await vm_env(seed=lambda store, ids: add_callflow(store, ids, ["no_match"], OPERATOR_FLOW))
    script = Script().on_prompt("vm-person", barge=True, press="0").on_record_start(speak=1.0, press="1") \
        .on_prompt("vm-review_recording", press="1")
    out = await env.place(script=script)
    assert out.commands("record") and "tones" in out.prompts
    assert out.result == CONTINUE


async def test_vm_028_operator_number_of_the_box(vm_env):
    other = {"module": "play", "data": {"id": "desk-1000"}, "children": {}}

    async def seed(store, ids):
        await add_callflow(store, ids, ["0"], OPERATOR_FLOW)
        await add_callflow(store, ids, ["1000"], other)

    env = await vm_env(box={"operator_number": "1000"}, seed=seed)
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, press="0"))
    assert out.result == ActionResult("continue_with_flow", other)


@pytest.mark.parametrize("key", ["5", "#"])
async def test_vm_029_other_key_stops_the_greeting_and_records_at_once(vm_env, key):
    # as in VM-025: the box number lasts 0.5 s of real time, so the flush the key sends reaches the
    # gateway before vm-not_available could start, also on a slow, loaded broker
    env = await vm_env(media={"say:3456": 50.0})
    script = Script().on_prompt("vm-person", barge=True, press=key).on_record_start(speak=1.0, press="1") \
        .on_prompt("vm-review_recording", press="1")
    out = await env.place(script=script)
    heard = out.prompts[:out.prompts.index("tones")]
    # the key stops vm-person; the say queued behind it may start before the flush stops it too
    assert heard in (["vm-person"], ["vm-person", "say:3456"])
    assert "vm-record_message" not in out.prompts and "vm-not_available" not in out.prompts
    assert out.commands("record")


async def test_vm_030_configured_continue_key_ends_without_recording(vm_env):
    env = await vm_env(system={"keys": {"voicemail": {"continue": "#"}}})
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, press="#"))
    assert out.result == CONTINUE
    assert out.commands("record") == [] and "tones" not in out.prompts


async def test_vm_031_owner_with_check_if_owner_goes_to_check(vm_env):
    env = await vm_env(box={"check_if_owner": True})
    out = await env.place(script=Script().on_prompt("vm-main_menu", hangup=True), owner=True)
    assert env.check.calls == [env.ids.box]
    assert not set(GREETING) & set(out.prompts)
    assert out.commands("record") == []
    assert "vm-no_messages" in out.prompts and "vm-enter_pass" not in out.prompts


async def test_vm_032_owner_without_check_if_owner_leaves_a_message(vm_env):
    env = await vm_env(box={"check_if_owner": False})
    out = await env.place(script=leave(), owner=True)
    assert out.prompts[:3] == GREETING and out.commands("record")
    assert env.check.calls == []


async def test_vm_033_box_without_check_if_owner_key_records_for_the_owner(vm_env):
    env = await vm_env(box={"check_if_owner": None})
    box = await env.store.get(env.ids.db, env.ids.box)
    assert "check_if_owner" not in box
    out = await env.place(script=leave(), owner=True)
    assert out.prompts[:3] == GREETING and out.commands("record")
    assert env.check.calls == []
