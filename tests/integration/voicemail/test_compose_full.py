"""Announcement-only and full boxes (voicemail.md 4.4, 4.5; VM-034 ... VM-041)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from services.messages.etf import ActionResult
from tests.integration.voicemail.conftest import seed_messages

pytestmark = pytest.mark.integration

CONTINUE = ActionResult("continue")
GREETING = ["vm-person", "say:3456", "vm-not_available"]


def leave() -> Script:
    return Script().on_record_start(speak=1.0, press="1").on_prompt("vm-review_recording", press="1")


async def test_vm_034_announcement_only_plays_the_greeting_and_continues(vm_env):
    env = await vm_env(box={"announcement_only": True})
    out = await env.place()
    assert out.prompts == GREETING
    assert out.commands("record") == [] and out.commands("tones") == []
    assert out.result == CONTINUE


async def test_vm_035_announcement_only_login_key(vm_env):
    env = await vm_env(box={"announcement_only": True})
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, press="*")
                          .on_prompt("vm-enter_pass", hangup=True))
    assert env.check.calls == [env.ids.box]
    assert "vm-enter_pass" in out.prompts


async def test_vm_036_announcement_only_other_key_ends_quietly(vm_env):
    # as in VM-025: the box number lasts 0.5 s of real time, so the flush reaches the gateway first
    env = await vm_env(box={"announcement_only": True}, media={"say:3456": 50.0})
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, press="3"))
    assert out.result == CONTINUE
    assert env.check.calls == []
    assert "vm-not_available" not in out.prompts               # flushed; nothing more was played
    assert any(c.get("Insert-At") == "flush" for c in out.commands("noop"))
    assert out.commands("record") == []


async def test_vm_037_announcement_only_owner_goes_to_the_settings_menu(vm_env):
    env = await vm_env(box={"announcement_only": True, "require_pin": False})
    out = await env.place(owner=True, script=Script().on_prompt("vm-settings_menu_announcement_on", hangup=True))
    assert env.check.calls == [env.ids.box]
    assert not set(GREETING) & set(out.prompts)
    assert "vm-settings_menu_announcement_on" in out.prompts


async def test_vm_038_full_box_notifies_and_does_not_record(vm_env):
    env = await vm_env(seed=lambda store, ids: seed_messages(store, ids, 100, folder="saved"))
    out = await env.place(script=Script())
    full = env.named("voicemail_full")
    assert len(full) == 1
    assert full[0]["Voicemail-Box"] == env.ids.box and full[0]["Account-ID"] == env.ids.account
    assert full[0]["Max-Message-Count"] == 100 and full[0]["Message-Count"] == 100
    assert out.prompts[:3] == GREETING and "vm-mailbox_full" in out.prompts
    assert out.commands("record") == [] and out.commands("tones") == []
    assert out.result == CONTINUE
    assert env.named("mwi_update") == []


async def test_vm_039_full_box_login_key_during_the_greeting(vm_env):
    env = await vm_env(seed=lambda store, ids: seed_messages(store, ids, 100))
    out = await env.place(script=Script().on_prompt("vm-person", barge=True, press="*")
                          .on_prompt("vm-enter_pass", hangup=True))
    assert env.check.calls == [env.ids.box]
    assert not any(c.get("Insert-At") == "flush" for c in out.commands("noop"))   # nothing is flushed
    assert "vm-not_available" in out.prompts and "vm-mailbox_full" in out.prompts
    assert out.prompts.index("vm-mailbox_full") < out.prompts.index("vm-enter_pass")


async def test_vm_040_unlimited_box_when_the_account_sets_zero(vm_env):
    env = await vm_env(account_config={"callflow": {"voicemail": {"max_message_count": 0}}},
                       seed=lambda store, ids: seed_messages(store, ids, 500))
    out = await env.place(script=leave())
    assert env.named("voicemail_full") == []
    assert out.commands("record") and "vm-mailbox_full" not in out.prompts


async def test_vm_041_deleted_messages_do_not_fill_the_box(vm_env):
    async def seed(store, ids):
        await seed_messages(store, ids, 60, folder="new")
        await seed_messages(store, ids, 39, folder="saved")
        await seed_messages(store, ids, 5, folder="deleted")

    env = await vm_env(seed=seed)
    out = await env.place(script=leave())
    assert env.named("voicemail_full") == []
    assert out.commands("record") and "vm-mailbox_full" not in out.prompts
