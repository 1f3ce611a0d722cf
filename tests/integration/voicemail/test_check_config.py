"""Check: the configuration menu (voicemail.md 5.9, 5.10; VM-121 ... VM-133)."""

from __future__ import annotations

import secrets

import pytest

from gateway_sim import Script
from services.store import layout
from tests.integration.voicemail.test_check_support import (ACCOUNT, BOX, DB, USER, box_doc, message_doc,  # noqa: F401
                                                             owner, stage)

pytestmark = pytest.mark.integration


def to_config(*more: tuple[str, str]) -> Script:
    """Owner at the main menu presses 5; then one key per ``(prompt, key)``."""
    script = Script().on_prompt("vm-main_menu", press="5")
    for name, key in more:
        script.on_prompt(name, press=key)
    return script


def record_and(script: Script, review_key: str | None = "1") -> Script:
    """Speak 2 s into the next recording (ended by a key), then press ``review_key`` at the review."""
    script.on_record_start(speak=2.0, press="#")
    if review_key is not None:
        script.on_prompt("vm-review_recording", press=review_key)
    return script


async def media_doc(stage, **fields) -> dict:
    doc = {"_id": secrets.token_hex(16), "name": "a greeting", "streamable": True, **fields}
    return await stage.put(layout.stamp(doc, pvt_type="media", db=DB))


async def test_vm_121_configure_key_opens_the_settings_menu(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(to_config().on_prompt("vm-settings_menu", hangup=True))
    assert out.prompts[:3] == ["vm-no_messages", "vm-main_menu", "vm-settings_menu"]


async def test_vm_122_record_the_unavailable_greeting(stage):
    owner(stage)
    await stage.start()
    script = record_and(to_config(("vm-settings_menu", "1"))).on_prompt("vm-settings_menu", hangup=True)
    out = await stage.check(script)
    i = out.prompts.index("vm-record_greeting")
    assert out.prompts[i:i + 5] == ["vm-record_greeting", "tones", "vm-review_recording", "vm-saved",
                                    "vm-settings_menu"]
    records = [c for c in out.commands if c.get("Application-Name") == "record"]
    assert len(records) == 1 and records[0]["Time-Limit"] == "300"
    names = [c.get("Application-Name") for c in out.commands]
    assert names.index("tones") < names.index("record")
    box = await stage.box()
    media = await stage.get(box["media"]["unavailable"])
    assert media["pvt_type"] == "media"
    assert media["media_source"] == "recording" and media["source_id"] == BOX


async def test_vm_123_an_uploaded_greeting_is_never_overwritten(stage):
    owner(stage)
    uploaded = await media_doc(stage, media_source="upload", description="the company greeting")
    await stage.put(box_doc(media={"unavailable": uploaded["_id"]}))
    await stage.start()
    out = await stage.check(record_and(to_config(("vm-settings_menu", "1"))).on_prompt("vm-settings_menu",
                                                                                         hangup=True))
    assert "vm-saved" in out.prompts
    box = await stage.box()
    assert box["media"]["unavailable"] != uploaded["_id"]
    new = await stage.get(box["media"]["unavailable"])
    assert new["media_source"] == "recording" and new["source_id"] == BOX
    assert await stage.get(uploaded["_id"]) == uploaded


async def test_vm_124_recorded_name_goes_on_the_owner(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(record_and(to_config(("vm-settings_menu", "2"))).on_prompt("vm-settings_menu",
                                                                                         hangup=True))
    assert out.before("vm-record_name", "vm-saved")
    user = await stage.get(USER)
    assert isinstance(user["media"]["name"], str) and user["media"]["name"]
    assert (await stage.get(user["media"]["name"]))["pvt_type"] == "media"
    assert "name" not in ((await stage.box()).get("media") or {})


async def test_vm_125_recorded_name_goes_on_a_box_without_owner(stage):
    await stage.put(box_doc(owner_id=None))
    await stage.start()
    script = Script().on_prompt("vm-enter_pass", press="1234#")
    script = record_and(script.on_prompt("vm-main_menu", press="5").on_prompt("vm-settings_menu", press="2"))
    out = await stage.check(script.on_prompt("vm-settings_menu", hangup=True))
    assert out.before("vm-record_name", "vm-saved")
    box = await stage.box()
    assert isinstance(box["media"]["name"], str) and box["media"]["name"]
    assert "media" not in await stage.get(USER)


async def test_vm_126_change_the_pin(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(to_config(("vm-settings_menu", "3"), ("vm-enter_new_pin", "4321#"),
                                      ("vm-enter_new_pin_confirm", "4321#")).on_prompt("vm-settings_menu",
                                                                                        hangup=True))
    i = out.prompts.index("vm-pin_set")
    assert out.prompts[i + 1] == "vm-settings_menu"
    assert (await stage.box())["pin"] == "4321"


async def test_vm_127_a_two_digit_pin_is_refused(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(to_config(("vm-settings_menu", "3"), ("vm-enter_new_pin", "12#"),
                                      ("vm-enter_new_pin_confirm", "12#")).on_prompt("vm-enter_new_pin",
                                                                                     hangup=True))
    i = out.prompts.index("vm-enter_new_pin_confirm")
    assert out.prompts[i + 1:i + 3] == ["vm-pin_invalid", "vm-enter_new_pin"]
    assert "vm-pin_set" not in out.prompts
    assert (await stage.box())["pin"] == "1234"


async def test_vm_128_temporary_greeting_is_played_by_compose(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(record_and(to_config(("vm-settings_menu", "4"))).on_prompt("vm-settings_menu",
                                                                                         hangup=True))
    assert out.before("vm-record_temp_greeting", "vm-saved")
    temporary = (await stage.box())["media"]["temporary_unavailable"]
    assert isinstance(temporary, str) and temporary
    # a later caller leaving a message (compose) hears that media as the greeting
    stage.caller_owner = None
    compose = await stage.check(Script().on_prompt("vm-record_message", hangup=True), data={"id": BOX})
    plays = [c for c in compose.commands if c.get("Application-Name") == "play"]
    assert any(c.get("Media-Name") == f"/{ACCOUNT}/{temporary}" for c in plays)
    assert "vm-person" not in compose.prompts


async def test_vm_129_delete_the_temporary_greeting_returns_to_the_main_menu(stage):
    owner(stage)
    temporary = await media_doc(stage, media_source="recording")
    await stage.put(box_doc(media={"temporary_unavailable": temporary["_id"]}))
    await stage.start()
    out = await stage.check(to_config(("vm-settings_menu", "5")).on_prompt("vm-main_menu", hangup=True))
    i = out.prompts.index("vm-settings_menu")
    assert out.prompts[i + 1:i + 4] == ["vm-saved", "vm-no_messages", "vm-main_menu"]
    assert not (await stage.box())["media"].get("temporary_unavailable")


async def test_vm_130_toggle_announcement_only(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(to_config(("vm-settings_menu", "6")).on_prompt("vm-settings_menu_announcement_on",
                                                                            hangup=True))
    i = out.prompts.index("vm-settings_menu")
    assert out.prompts[i + 1:i + 3] == ["vm-saved", "vm-settings_menu_announcement_on"]
    assert (await stage.box())["announcement_only"] is True


async def test_vm_131_return_to_the_main_menu(stage):
    owner(stage)
    await stage.put(message_doc())
    await stage.start()
    out = await stage.check(to_config(("vm-settings_menu", "0")).on_prompt("vm-main_menu", hangup=True))
    i = out.prompts.index("vm-settings_menu")
    assert out.prompts[i + 1:i + 5] == ["vm-you_have", "say:1", "vm-new_message", "vm-main_menu"]


async def test_vm_132_three_invalid_selections_say_goodbye(stage):
    owner(stage)
    await stage.start()
    out = await stage.check(to_config().on_prompt("vm-settings_menu", press="9", times=None))
    assert out.count("vm-settings_menu") == 3
    assert out.prompts[-1] == "vm-goodbye"
    assert out.box_mwi()
    assert out.result.kind == "continue"


async def test_vm_133_greeting_review_abandoned(stage):
    owner(stage)
    previous = await media_doc(stage, media_source="recording")
    await stage.put(box_doc(media={"unavailable": previous["_id"]}))
    await stage.start()
    # four reviews: two empty, two with a key that means nothing there
    script = record_and(to_config(("vm-settings_menu", "1")), review_key=None)
    script.on_prompt("vm-review_recording", press="9", times=2)
    out = await stage.check(script)
    assert out.count("vm-review_recording") == 4
    assert out.prompts[-1] == "vm-deleted"
    assert out.result.kind == "continue"
    assert (await stage.box())["media"]["unavailable"] == previous["_id"]
    assert await stage.get(previous["_id"]) == previous


# -- the config menu's crash paths, fixed (spec README) ---------------------------------------------

async def test_key_5_in_a_config_menu_entered_at_login_says_goodbye(stage):
    owner(stage)
    await stage.put(box_doc(announcement_only=True))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-settings_menu_announcement_on", press="5"))
    assert out.prompts == ["vm-settings_menu_announcement_on", "vm-goodbye"]
    assert out.box_mwi()
    assert out.result.kind == "continue"


async def test_unknown_key_in_announcement_mode_says_goodbye(stage):
    owner(stage)
    await stage.put(box_doc(announcement_only=True))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-settings_menu_announcement_on", press="9"))
    assert out.prompts == ["vm-settings_menu_announcement_on", "vm-goodbye"]
    assert out.box_mwi()
    assert out.result.kind == "continue"


async def test_a_too_short_greeting_is_discarded_and_the_previous_one_kept(stage):
    """Spec README (defects we fix): a greeting shorter than ``min_message_size`` (500 ms) is not
    pointed to; the previous greeting stays and no media document is written."""
    owner(stage)
    previous = await media_doc(stage, media_source="recording")
    await stage.put(box_doc(media={"unavailable": previous["_id"]}))
    await stage.start()
    before = {row["id"] for row in await stage.store.all_docs(DB)}
    script = to_config(("vm-settings_menu", "1")).on_record_start(speak=0.2, press="#")
    out = await stage.check(script.on_prompt("vm-review_recording", press="1")
                            .on_prompt("vm-settings_menu", hangup=True))
    stops = [e for e in out.call_result.events if e.get("Event-Name") == "RECORD_STOP"]
    assert len(stops) == 1 and int(stops[0]["Length"]) < 500
    assert out.before("vm-review_recording", "vm-saved")
    assert (await stage.box())["media"]["unavailable"] == previous["_id"]
    assert await stage.get(previous["_id"]) == previous
    assert {row["id"] for row in await stage.store.all_docs(DB)} == before
    assert stage.uploads.accepted == 0                                          # never uploaded
