"""Check: login (voicemail.md 5.1-5.3; VM-066 ... VM-077)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from tests.integration.voicemail.test_check_support import BOX, box_doc, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration

GOODBYE_AT_MENU = dict(name="vm-main_menu", hangup=True)


async def test_vm_066_owner_without_require_pin_skips_the_pin(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt(**GOODBYE_AT_MENU))
    assert "vm-no_messages" in out.prompts and "vm-main_menu" in out.prompts
    assert "vm-enter_pass" not in out.prompts


async def test_vm_067_owner_with_require_pin_is_asked_for_it(stage):
    owner(stage)
    await stage.put(box_doc(require_pin=True))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_pass", hangup=True))
    assert out.prompts[:1] == ["vm-enter_pass"]


async def test_vm_068_force_require_pin_asks_the_owner(stage):
    owner(stage)
    stage.set_system("callflow", "voicemail.force_require_pin", True)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_pass", hangup=True))
    assert "vm-enter_pass" in out.prompts and "vm-main_menu" not in out.prompts


async def test_vm_069_non_owner_and_box_without_pin_gets_no_access(stage):
    await stage.put(box_doc(pin=None))
    await stage.start()
    out = await stage.check(Script())
    assert out.prompts == ["vm-no_access"]
    assert out.result.kind == "continue"


async def test_vm_070_right_pin_leads_to_the_main_menu(stage):
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_pass", press="1234#").on_prompt(**GOODBYE_AT_MENU))
    assert out.before("vm-enter_pass", "vm-no_messages")
    assert "vm-fail_auth" not in out.prompts


async def test_vm_071_wrong_pin_asks_again_without_the_box_number(stage):
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_pass", press="9999#")
                            .on_prompt("vm-fail_auth").on_prompt("vm-enter_pass", hangup=True))
    assert out.prompts[:3] == ["vm-enter_pass", "vm-fail_auth", "vm-enter_pass"]
    assert "vm-enter_id" not in out.prompts


async def test_vm_072_three_wrong_pins_abort(stage):
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_pass", press="9999#", times=None))
    assert out.count("vm-fail_auth") == 3
    assert out.prompts[-1] == "vm-abort"
    assert out.result.kind == "continue"


async def test_vm_073_a_seven_digit_pin_can_never_be_entered(stage):
    await stage.put(box_doc(pin="1234567"))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_pass", press="1234567#")
                            .on_prompt("vm-fail_auth", hangup=True))
    assert "vm-fail_auth" in out.prompts and "vm-main_menu" not in out.prompts


async def test_vm_074_empty_box_number_is_an_invalid_entry(stage):
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_id", press="#").on_prompt("vm-enter_id", hangup=True),
                            data={"action": "check"})
    assert out.prompts[:3] == ["vm-enter_id", "menu-invalid_entry", "vm-enter_id"]


async def test_vm_075_typed_box_number_ignores_leading_zeros(stage):
    await stage.put(box_doc("c" * 32, mailbox="100"))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_id", press="0100#").on_prompt("vm-enter_pass", hangup=True),
                            data={"action": "check"})
    assert out.prompts[:2] == ["vm-enter_id", "vm-enter_pass"]


async def test_vm_076_box_numbers_and_pins_share_one_budget(stage):
    await stage.start()
    script = (Script().on_prompt("vm-enter_id", press="1111#").on_prompt("vm-enter_id", press="2222#")
              .on_prompt("vm-enter_id", press="3456#").on_prompt("vm-enter_pass", press="9999#"))
    out = await stage.check(script, data={"action": "check"})
    assert out.count("menu-invalid_entry") == 2
    assert out.prompts[-2:] == ["vm-fail_auth", "vm-abort"]


async def test_vm_077_three_unknown_box_numbers_abort(stage):
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-enter_id", press="1111#", times=None), data={"action": "check"})
    assert out.count("menu-invalid_entry") == 3
    assert out.prompts[-1] == "vm-abort"
    assert out.result.kind == "continue"
