"""Compose: entry, greeting and the first key (voicemail.md 4.1-4.3; VM-001 ... VM-033)."""

from __future__ import annotations

from gateway_sim import Script
from services.messages.etf import ActionResult

CONTINUE = ActionResult("continue")
LEAVE = Script().on_record_start(speak=3.0, press="1").on_prompt("vm-review_recording", press="1")


def before(prompts: list[str], first: str, second: str) -> bool:
    return first in prompts and second in prompts and prompts.index(first) < prompts.index(second)


async def test_vm_001_no_action_answers_and_greets(vm_env):
    env = await vm_env()
    out = await env.place({"id": env.ids.box}, script=LEAVE)
    assert out.sent[0]["Application-Name"] == "answer"
    assert out.prompts[:3] == ["vm-person", "say:3456", "vm-not_available"]
    assert out.result == CONTINUE


async def test_vm_016_default_greeting_then_instructions_tone_and_record(vm_env):
    env = await vm_env()
    out = await env.place(script=LEAVE)
    assert out.prompts[:5] == ["vm-person", "say:3456", "vm-not_available", "vm-record_message", "tones"]
    says = out.commands("say")
    assert says[0]["Say-Text"] == "3456" and says[0]["Type"] == "name_spelled"
    tones = out.commands("tones")[0]["Tones"]
    assert tones == [{"Frequencies": ["440"], "Duration-ON": "500", "Duration-OFF": "100"}]
    apps = [c["Application-Name"] for c in out.sent]
    assert apps.index("tones") < apps.index("record")
