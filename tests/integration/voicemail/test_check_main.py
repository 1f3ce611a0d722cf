"""Check: main menu (voicemail.md 5.5; VM-083 ... VM-091)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from tests.integration.voicemail.test_check_support import box_doc, message_doc, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration

HANG_UP_AT_MENU = dict(name="vm-main_menu", hangup=True)


async def test_vm_083_no_messages(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt(**HANG_UP_AT_MENU))
    assert out.prompts[:2] == ["vm-no_messages", "vm-main_menu"]


async def test_vm_084_one_new_message(stage):
    owner(stage)
    await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt(**HANG_UP_AT_MENU))
    assert out.prompts[:4] == ["vm-you_have", "say:1", "vm-new_message", "vm-main_menu"]
    assert out.says("messages") == ["1"]


async def test_vm_085_three_new_and_one_saved(stage):
    owner(stage)
    for age in (100, 200, 300):
        await stage.put(message_doc(age_s=age))
    await stage.put(message_doc(folder="saved"))
    await stage.start()
    out = await stage.check(Script().on_prompt(**HANG_UP_AT_MENU))
    assert out.prompts[:6] == ["vm-you_have", "say:3", "vm-new_and", "say:1", "vm-saved_message", "vm-main_menu"]
    assert out.says("messages") == ["3", "1"]


async def test_vm_086_two_saved(stage):
    owner(stage)
    await stage.put(message_doc(folder="saved", age_s=10))
    await stage.put(message_doc(folder="saved", age_s=20))
    await stage.start()
    out = await stage.check(Script().on_prompt(**HANG_UP_AT_MENU))
    assert out.prompts[:3] == ["vm-you_have", "say:2", "vm-saved_messages"]
    assert out.says("messages") == ["2"]


async def test_vm_087_not_configurable_ignores_the_configure_key(stage):
    owner(stage)
    await stage.put(box_doc(not_configurable=True))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu_not_configurable", press="5")
                            .on_prompt("vm-main_menu_not_configurable", hangup=True))
    assert out.count("vm-main_menu_not_configurable") >= 2
    assert "vm-settings_menu" not in out.prompts and "vm-main_menu" not in out.prompts


async def test_vm_088_four_idle_menus_then_goodbye_and_mwi(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(Script())
    assert out.count("vm-main_menu") == 4
    assert out.prompts[-1] == "vm-goodbye"
    assert out.box_mwi()
    assert out.result.kind == "continue"


async def test_vm_089_lone_hash_exits_like_the_exit_key(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="#"))
    assert out.count("vm-main_menu") == 1 and "vm-goodbye" not in out.prompts
    assert out.box_mwi()
    assert out.result.kind == "continue"


async def test_vm_090_remapped_exit_key(stage):
    owner(stage)
    stage.keys = {"exit": "*"}
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="*"))
    assert out.count("vm-main_menu") == 1 and "vm-goodbye" not in out.prompts
    assert out.box_mwi()
    assert out.result.kind == "continue"


async def test_vm_091_empty_folder_replays_the_main_menu(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-main_menu", hangup=True))
    assert out.prompts[:4] == ["vm-no_messages", "vm-main_menu", "vm-no_messages", "vm-main_menu"]
