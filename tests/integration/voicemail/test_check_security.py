"""Check beyond KAZOO (spec README, policy 4): lockout across calls, one failure prompt for a wrong
box and a wrong PIN, hashed PINs."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from voicemail_svc.check import pin as pins
from voicemail_svc.check.lockout import doc_id
from tests.integration.voicemail.test_check_support import BOX, DB, box_doc, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration


async def test_lockout_outlives_the_call_and_refuses_even_the_right_pin(stage):
    stage.set_system("callflow", "voicemail.login_lockout", {"max_failures": 3, "lockout_seconds": 600})
    await stage.start()
    first = await stage.check(Script().on_prompt("vm-enter_pass", press="9999#", times=None))
    assert first.count("vm-fail_auth") == 3 and first.prompts[-1] == "vm-abort"
    guard = await stage.store.get(DB, doc_id(BOX))
    assert guard["lockouts"] == 1
    # a new call with the right PIN: refused with the very same prompt as a wrong one
    second = await stage.check(Script().on_prompt("vm-enter_pass", press="1234#")
                               .on_prompt("vm-fail_auth", hangup=True))
    assert second.prompts[:2] == ["vm-enter_pass", "vm-fail_auth"]
    assert "vm-main_menu" not in second.prompts


async def test_a_right_pin_before_the_threshold_clears_the_count(stage):
    stage.set_system("callflow", "voicemail.login_lockout", {"max_failures": 3})
    await stage.start()
    await stage.check(Script().on_prompt("vm-enter_pass", press="9999#").on_prompt("vm-fail_auth", hangup=True))
    assert (await stage.store.get(DB, doc_id(BOX)))["failures"] == 1
    out = await stage.check(Script().on_prompt("vm-enter_pass", press="1234#").on_prompt("vm-main_menu", hangup=True))
    assert "vm-main_menu" in out.prompts
    assert (await stage.store.get(DB, doc_id(BOX)))["failures"] == 0


async def test_concealed_unknown_box_sounds_like_a_wrong_pin(stage):
    stage.set_system("callflow", "voicemail.conceal_box_numbers", True)
    await stage.start()
    unknown = await stage.check(Script().on_prompt("vm-enter_id", press="9876#")
                                .on_prompt("vm-enter_pass", press="1234#", times=None), data={"action": "check"})
    known = await stage.check(Script().on_prompt("vm-enter_id", press="3456#")
                              .on_prompt("vm-enter_pass", press="1111#", times=None), data={"action": "check"})
    assert unknown.prompts == known.prompts
    assert unknown.prompts == ["vm-enter_id"] + ["vm-enter_pass", "vm-fail_auth"] * 3 + ["vm-abort"]
    assert "menu-invalid_entry" not in unknown.prompts


async def test_pin_hashing_stores_a_hash_and_logs_in_with_it(stage):
    owner(stage)
    stage.set_system("callflow", "voicemail.pin_hashing", True)
    await stage.start()
    await stage.check(Script().on_prompt("vm-main_menu", press="5").on_prompt("vm-settings_menu", press="3")
                      .on_prompt("vm-enter_new_pin", press="4321#").on_prompt("vm-enter_new_pin_confirm", press="4321#")
                      .on_prompt("vm-settings_menu", hangup=True))
    box = await stage.box()
    assert "pin" not in box and box[pins.PIN_HASH_FIELD].startswith("pbkdf2_sha256$")
    assert "4321" not in str(box)
    stage.caller_owner = None
    out = await stage.check(Script().on_prompt("vm-enter_pass", press="4321#").on_prompt("vm-main_menu", hangup=True))
    assert "vm-main_menu" in out.prompts and "vm-fail_auth" not in out.prompts
