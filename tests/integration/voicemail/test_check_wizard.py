"""Check: the first-login setup wizard (voicemail.md 5.4; VM-078 ... VM-082)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from tests.integration.voicemail.test_check_support import DB, box_doc, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration


def new_pin(script: Script, first: str, second: str | None = None, *, times: int | None = 1) -> Script:
    return (script.on_prompt("vm-enter_new_pin", press=first, times=times)
            .on_prompt("vm-enter_new_pin_confirm", press=second if second is not None else first, times=times))


async def test_vm_078_owner_of_a_box_not_set_up_gets_the_wizard_without_a_pin(stage):
    owner(stage)
    await stage.put(box_doc(is_setup=False, require_pin=True))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-setup_intro", hangup=True))
    assert out.prompts[:1] == ["vm-setup_intro"]
    assert "vm-enter_pass" not in out.prompts


async def test_vm_079_wizard_sets_pin_and_greeting_then_main_menu(stage):
    owner(stage)
    await stage.put(box_doc(is_setup=False))
    await stage.start()
    script = new_pin(Script(), "5678#").on_record_start(speak=2.0, press="#") \
        .on_prompt("vm-review_recording", press="1").on_prompt("vm-main_menu", hangup=True)
    out = await stage.check(script)
    end = out.prompts.index("vm-setup_complete") + 1
    assert out.prompts[:end] == ["vm-setup_intro", "vm-enter_new_pin", "vm-enter_new_pin_confirm", "vm-pin_set",
                                 "vm-setup_rec_greeting", "vm-record_greeting", "tones", "vm-review_recording",
                                 "vm-saved", "vm-setup_complete"]
    records = [c for c in out.commands if c.get("Application-Name") == "record"]
    assert len(records) == 1 and records[0]["Time-Limit"] == "300"
    # the record command is sent after the prompt and the tone, before the review
    names = [c.get("Application-Name") for c in out.commands]
    assert names.index("tones") < names.index("record")
    assert out.prompts[end:end + 2] == ["vm-no_messages", "vm-main_menu"]
    box = await stage.box()
    assert box["pin"] == "5678" and box["is_setup"] is True
    assert isinstance(box["media"]["unavailable"], str) and box["media"]["unavailable"]
    # the wizard's greeting is stored with its audio: the bytes the gateway recorded
    greeting = await stage.get(box["media"]["unavailable"])
    name = greeting["media_filename"]
    assert list(greeting["_attachments"]) == [name]
    assert await stage.store.get_attachment(DB, greeting["_id"], name) == \
        stage.gateway.recordings.path_for(name).read_bytes()


async def test_vm_080_three_mismatched_pins_end_with_goodbye_and_stop(stage):
    owner(stage)
    await stage.put(box_doc(is_setup=False))
    await stage.start()
    out = await stage.check(new_pin(Script(), "1111#", "2222#", times=None))
    assert out.count("vm-enter_new_pin") == 3
    assert out.count("vm-pin_invalid") == 2
    assert out.prompts[-1] == "vm-goodbye"
    assert out.result.kind == "stop"
    box = await stage.box()
    assert box["is_setup"] is False and box["pin"] == "1234"


async def test_vm_081_greeting_abandoned_in_review_keeps_the_new_pin(stage):
    owner(stage)
    await stage.put(box_doc(is_setup=False))
    await stage.start()
    # the review menu gets no key at all, four times
    out = await stage.check(new_pin(Script(), "5678#").on_record_start(speak=2.0, press="#"))
    assert out.count("vm-review_recording") == 4
    assert out.prompts[-1] == "vm-deleted"
    assert "vm-setup_complete" not in out.prompts
    assert out.result.kind == "continue"
    box = await stage.box()
    assert box["is_setup"] is False
    assert box["pin"] == "5678"
    assert not (box.get("media") or {}).get("unavailable")


async def test_vm_082_not_configurable_does_not_skip_the_wizard(stage):
    owner(stage)
    await stage.put(box_doc(is_setup=False, not_configurable=True))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_new_pin", hangup=True))
    assert out.prompts[:2] == ["vm-setup_intro", "vm-enter_new_pin"]
