"""Check: playback and the message menu (voicemail.md 5.6; VM-092 ... VM-111, part)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gateway_sim import Script
from services.store.layout import GREGORIAN_OFFSET
from tests.support.message_media import PlayedMessages
from tests.integration.voicemail.test_check_support import (ACCOUNT, BOX, USER, box_doc, message_doc, owner,  # noqa: F401
                                                             stage)

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


# -- VM-093 ... VM-111 (rest) ------------------------------------------------------------------------

def message_plays(out, message_id: str | None = None) -> list[dict]:
    """The ``play`` commands of message audio (signed Stream-URLs), optionally of one message."""
    return PlayedMessages().plays(out.commands, message_id)


def heard_messages(out) -> list[str]:
    """Message ids whose audio the gateway played, in order."""
    return [p for p in out.prompts if "-" in p and p[:6].isdigit()]


async def test_vm_093_oldest_message_first(stage):
    owner(stage)
    await stage.put(box_doc(oldest_message_first=True))
    older, newer = await two_new(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True))
    assert heard_messages(out) == [older["_id"]]


async def test_vm_094_skip_envelope(stage):
    owner(stage)
    await stage.put(box_doc(skip_envelope=True))
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True))
    assert msg["_id"] in out.prompts and "vm-message_menu" in out.prompts
    assert "vm-received" not in out.prompts
    assert out.says("current_date_time") == []


async def test_vm_095_envelope_time_in_the_box_timezone(stage):
    owner(stage)
    # the 2024 message must lie inside the retention window to be played at all
    stage.set_system("callflow", "voicemail.message_retention_duration", 36500)
    await stage.put(box_doc(timezone="America/New_York"))
    await stage.put(message_doc(timestamp=63876877623))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True))
    assert out.says("current_date_time") == ["1709640423"]


async def test_vm_096_envelope_uses_the_owner_timezone(stage):
    owner(stage)
    user = await stage.get(USER)
    await stage.put({**user, "timezone": "Europe/Paris"})
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True))
    unix = msg["metadata"]["timestamp"] - GREGORIAN_OFFSET
    offset = datetime.fromtimestamp(unix, timezone.utc).astimezone(ZoneInfo("Europe/Paris")).utcoffset()
    assert out.says("current_date_time") == [str(unix + int(offset.total_seconds()))]


async def test_vm_098_keep_on_the_last_message_returns_to_updated_counts(stage):
    owner(stage)
    await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="1")
                            .on_prompt("vm-main_menu", hangup=True))
    i = out.prompts.index("vm-saved")
    assert out.prompts[i + 1:i + 5] == ["vm-you_have", "say:1", "vm-saved_message", "vm-main_menu"]
    assert out.says("messages") == ["1", "1"]


async def test_vm_100_delete_publishes_voicemail_deleted_when_enabled(stage):
    owner(stage)
    stage.set_system("callflow", "voicemail.vm_delete_amqp", True)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="7")
                            .on_prompt("vm-main_menu", hangup=True))
    deleted = [n for n in out.notifications if n.get("Event-Name") == "voicemail_deleted"]
    assert len(deleted) == 1
    note = deleted[0]
    assert note["Reason"] == "dtmf"
    assert note["Voicemail-ID"] == msg["_id"] and note["Voicemail-Box"] == BOX
    assert isinstance(note["Voicemail-Timestamp"], str) and note["Voicemail-Timestamp"] == \
        str(msg["metadata"]["timestamp"])
    assert isinstance(note["Voicemail-Length"], str) and note["Voicemail-Length"] == str(msg["metadata"]["length"])


async def test_vm_101_delete_publishes_nothing_by_default(stage):
    owner(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="7")
                            .on_prompt("vm-main_menu", hangup=True))
    assert "vm-deleted" in out.prompts
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "deleted"
    assert [n for n in out.notifications if n.get("Event-Name") == "voicemail_deleted"] == []


async def test_vm_103_next_on_the_last_message_replays_it(stage):
    owner(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="6")
                            .on_prompt("vm-message_menu", hangup=True))
    assert heard_messages(out) == [msg["_id"], msg["_id"]]
    assert out.says("number") == ["1", "1"]


async def test_vm_104_prev_without_history_replays_the_message(stage):
    owner(stage)
    older, newer = await two_new(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="4")
                            .on_prompt("vm-message_menu", hangup=True))
    assert heard_messages(out) == [newer["_id"], newer["_id"]]
    assert out.says("number") == ["1", "1"]


async def test_vm_105_prev_goes_back_to_the_kept_message(stage):
    owner(stage)
    older, newer = await two_new(stage)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="1")
                            .on_prompt("vm-message_menu", press="4").on_prompt("vm-message_menu", hangup=True))
    assert heard_messages(out) == [newer["_id"], older["_id"], newer["_id"]]
    assert out.says("number") == ["1", "2", "1"]


async def test_vm_106_replay_repeats_the_whole_sequence(stage):
    owner(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="2")
                            .on_prompt("vm-message_menu", hangup=True))
    first = out.prompts.index("vm-message_number")
    second = out.prompts.index("vm-message_number", first + 1)
    sequence = out.prompts[first:second]
    assert sequence == ["vm-message_number", "say:1", msg["_id"], "vm-received", sequence[4], "vm-message_menu"]
    assert out.prompts[second:second + 6] == sequence


async def test_vm_109_fast_forward_key_is_invalid_when_disabled(stage):
    owner(stage)
    await stage.put(box_doc(is_voicemail_ff_rw_enabled=True))      # the system switch stays false
    await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="8")
                            .on_prompt("vm-message_menu", hangup=True))
    i = out.prompts.index("menu-invalid_entry")
    assert out.prompts[i + 1] == "vm-message_menu"
    assert [c for c in out.commands if c.get("Application-Name") == "playseek"] == []


async def test_vm_110_fast_forward_seeks_and_keeps_5_and_8_out_of_the_terminators(stage):
    owner(stage)
    stage.set_system("callflow", "voicemail.is_voicemail_ff_rw_enabled", True)
    await stage.put(box_doc(is_voicemail_ff_rw_enabled=True, seek_duration_ms=5000))
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="8")
                            .on_prompt("vm-message_menu", hangup=True))
    plays = message_plays(out, msg["_id"])
    assert plays
    for play in plays:
        assert "5" not in play["Terminators"] and "8" not in play["Terminators"]
    seeks = [c for c in out.commands if c.get("Application-Name") == "playseek"]
    assert len(seeks) == 1
    assert seeks[0]["Direction"] == "fastforward" and int(seeks[0]["Duration"]) == 5000
    assert "menu-invalid_entry" not in out.prompts


async def test_vm_111_box_switch_alone_leaves_5_and_8_as_terminators(stage):
    owner(stage)
    await stage.put(box_doc(is_voicemail_ff_rw_enabled=True))
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True))
    plays = message_plays(out, msg["_id"])
    assert plays
    for play in plays:
        assert "5" in play["Terminators"] and "8" in play["Terminators"]


async def test_message_menu_gives_up_after_four_invalid_entries(stage):
    """Spec README (defects we fix): the message menu has the main menu's limit; KAZOO loops forever."""
    owner(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1")
                            .on_prompt("vm-message_menu", press="#", times=2))
    assert out.count("vm-message_menu") == 4
    assert out.count("menu-invalid_entry") == 3
    assert out.prompts[-1] == "vm-goodbye"
    assert out.box_mwi()
    assert out.result.kind == "continue"
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "new"
