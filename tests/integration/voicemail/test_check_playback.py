"""Check: playback and the message menu (voicemail.md 5.6; VM-092 ... VM-111, part)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from tests.integration.voicemail.test_check_support import message_doc, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration


async def two_new(stage):
    older = await stage.put(message_doc(age_s=7200))
    newer = await stage.put(message_doc(age_s=60))
    return older, newer


async def test_vm_092_newest_first_with_envelope(stage):
    owner(stage)
    older, newer = await two_new(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True))
    start = out.prompts.index("vm-message_number")
    assert out.prompts[start:start + 6] == ["vm-message_number", "say:1", newer["_id"], "vm-received",
                                            out.prompts[start + 4], "vm-message_menu"]
    assert out.says("number") == ["1"] and len(out.says("current_date_time")) == 1


async def test_vm_097_keep_saves_and_moves_on(stage):
    owner(stage)
    older, newer = await two_new(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="1")
                            .on_prompt("vm-message_menu", hangup=True))
    assert "vm-saved" in out.prompts and out.says("number")[:2] == ["1", "2"]
    assert (await stage.get(newer["_id"]))["metadata"]["folder"] == "saved"
    assert (await stage.get(older["_id"]))["metadata"]["folder"] == "new"


async def test_vm_099_delete_changes_the_folder_only(stage):
    owner(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="7")
                            .on_prompt("vm-main_menu", hangup=True))
    assert "vm-deleted" in out.prompts
    doc = await stage.get(msg["_id"])
    assert doc["metadata"]["folder"] == "deleted" and not doc.get("pvt_deleted")
    assert out.prompts[-2:] == ["vm-no_messages", "vm-main_menu"]


async def test_vm_102_next_keeps_the_folder(stage):
    owner(stage)
    older, newer = await two_new(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="6")
                            .on_prompt("vm-message_menu", hangup=True))
    assert older["_id"] in out.prompts
    assert (await stage.get(newer["_id"]))["metadata"]["folder"] == "new"


async def test_vm_107_return_main_saves(stage):
    owner(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="0")
                            .on_prompt("vm-main_menu", hangup=True))
    assert out.before("vm-saved", "vm-main_menu")
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "saved"


async def test_vm_108_invalid_key_replays_only_the_menu(stage):
    owner(stage)
    await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="#")
                            .on_prompt("vm-message_menu", hangup=True))
    i = out.prompts.index("menu-invalid_entry")
    assert out.prompts[i + 1] == "vm-message_menu"
    assert out.count("vm-message_number") == 1
