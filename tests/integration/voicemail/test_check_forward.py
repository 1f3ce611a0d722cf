"""Check: callback (key 9) and forward (key 3) from the message menu (voicemail.md 5.7, 5.8; VM-112 ... VM-120)."""

from __future__ import annotations

import asyncio

import pytest

from gateway_sim import Script
from services.store import layout
from tests.integration.voicemail.test_check_support import (ACCOUNT, BOX, BOX_7000, DEVICE, REALM, USER,  # noqa: F401
                                                             box_doc, message_doc, owner, stage)

pytestmark = pytest.mark.integration

NUMBER = "+14155550123"            # classified did_us
CALLBACK_FLOW = {"module": "device", "data": {"id": "c" * 32}, "children": {}}


def play_then(key: str) -> Script:
    """Owner logs in, hears new messages, presses ``key`` at the first message menu."""
    return Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press=key)


def heard_messages(out) -> list[str]:
    return [p for p in out.prompts if "-" in p and p[:6].isdigit()]


async def messages_in(stage, box_id: str) -> list[dict]:
    modb = layout.modb_at(ACCOUNT, layout.now_gregorian())
    try:
        return await stage.store.vm_messages(modb, box_id)
    except Exception:
        return []


# -- callback (5.7) -----------------------------------------------------------------------------

async def test_vm_112_callback_without_caller_number(stage):
    owner(stage)
    msg = await stage.put(message_doc(caller=None))
    await stage.start()
    out = await stage.check(play_then("9").on_prompt("vm-message_menu", hangup=True))
    i = out.prompts.index("vm-not_available")
    assert out.prompts[i + 1:i + 3] == ["vm-message_number", "say:1"]
    assert heard_messages(out) == [msg["_id"], msg["_id"]]
    assert out.result.kind == "continue"


@pytest.mark.parametrize("where", ["device", "owner", "account"])
async def test_vm_113_callback_refused_by_the_callers_restrictions(stage, where):
    owner(stage)
    msg = await stage.put(message_doc(caller=NUMBER))
    await stage.add_callflow([NUMBER], CALLBACK_FLOW)
    doc_id = {"device": DEVICE, "owner": USER, "account": ACCOUNT}[where]
    doc = await stage.get(doc_id)
    await stage.put({**doc, "call_restriction": {"did_us": {"action": "deny"}}})
    await stage.start()
    out = await stage.check(play_then("9").on_prompt("vm-message_menu", hangup=True))
    i = out.prompts.index("cf-unauthorized_call")
    assert out.prompts[i + 1:i + 3] == ["vm-message_number", "say:1"]
    assert heard_messages(out) == [msg["_id"], msg["_id"]]
    assert out.result.kind == "continue"


async def test_vm_113_device_allow_overrides_an_account_deny(stage):
    """The caller's own (device) rule decides before the account's (docs/deviations.md)."""
    owner(stage)
    await stage.put(message_doc(caller=NUMBER))
    await stage.add_callflow([NUMBER], CALLBACK_FLOW)
    device = await stage.get(DEVICE)
    await stage.put({**device, "call_restriction": {"did_us": {"action": "allow"}}})
    account = await stage.get(ACCOUNT)
    await stage.put({**account, "call_restriction": {"did_us": {"action": "deny"}}})
    await stage.start()
    out = await stage.check(play_then("9"))
    assert "cf-unauthorized_call" not in out.prompts
    assert out.result.kind == "continue_with_flow"


async def test_vm_114_callback_branches_to_the_numbers_callflow(stage):
    owner(stage)
    # the message's number as stored (10 digits) is normalised to E.164 before the lookup
    await stage.put(message_doc(caller="4155550123"))
    await stage.add_callflow([NUMBER], CALLBACK_FLOW)
    await stage.start()
    out = await stage.check(play_then("9"))
    assert out.result.kind == "continue_with_flow"
    assert out.result.value == CALLBACK_FLOW
    # the session ends with the branch: no replay, no further prompt
    assert out.count("vm-message_menu") == 1
    assert "fault-can_not_be_completed_as_dialed" not in out.prompts


async def test_callback_accepts_the_accounts_no_match_callflow(stage):
    """5.7 step 4: a match on the account's ``no_match`` callflow is accepted."""
    owner(stage)
    await stage.put(message_doc(caller=NUMBER))
    await stage.add_callflow(["no_match"], CALLBACK_FLOW)
    await stage.start()
    out = await stage.check(play_then("9"))
    assert out.result.kind == "continue_with_flow" and out.result.value == CALLBACK_FLOW


async def test_vm_115_callback_without_any_callflow(stage):
    owner(stage)
    msg = await stage.put(message_doc(caller=NUMBER))
    await stage.add_callflow(["5000"], CALLBACK_FLOW)       # some other number; no no_match
    await stage.start()
    out = await stage.check(play_then("9").on_prompt("vm-message_menu", hangup=True))
    i = out.prompts.index("fault-can_not_be_completed_as_dialed")
    assert out.prompts[i + 1:i + 3] == ["vm-message_number", "say:1"]
    assert heard_messages(out) == [msg["_id"], msg["_id"]]
    assert out.result.kind == "continue"


# -- forward (5.8) ------------------------------------------------------------------------------

async def with_box_7000(stage) -> None:
    await stage.put(box_doc(BOX_7000, mailbox="7000", owner_id=None))


async def test_vm_116_forward_to_another_box(stage):
    owner(stage)
    await with_box_7000(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="7000#")
                            .on_prompt("vm-main_menu", hangup=True))
    copies = await messages_in(stage, BOX_7000)
    assert len(copies) == 1
    copy = copies[0]
    assert copy["metadata"]["folder"] == "new"
    assert copy["source_id"] == BOX_7000
    assert BOX in copy["history"]
    assert copy["_id"] != msg["_id"]
    assert "vm-forward_confirmed" in out.prompts
    new = [n for n in out.notifications if n.get("Event-Name") == "voicemail_new"]
    assert [n["Voicemail-Box"] for n in new] == [BOX_7000]
    assert new[0]["Voicemail-ID"] == copy["_id"]
    assert out.box_mwi(f"7000@{REALM}")
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "saved"


async def test_vm_117_forward_to_the_source_box_is_refused(stage):
    owner(stage)
    await stage.put(message_doc())
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="3456#")
                            .on_prompt("vm-enter_forward_id", hangup=True))
    i = out.prompts.index("vm-enter_forward_id")
    assert out.prompts[i:i + 3] == ["vm-enter_forward_id", "menu-invalid_entry", "vm-enter_forward_id"]
    assert len(await messages_in(stage, BOX)) == 1


async def test_vm_118_three_unknown_destinations_abort_the_forward(stage):
    owner(stage)
    await with_box_7000(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="1111#", times=3)
                            .on_prompt("vm-main_menu", hangup=True))
    assert out.count("menu-invalid_entry") == 3
    i = out.prompts.index("vm-forward_abort")
    assert out.prompts[i + 1] == "vm-saved"
    assert "vm-forward_confirmed" not in out.prompts
    assert await messages_in(stage, BOX_7000) == []
    assert [m["_id"] for m in await messages_in(stage, BOX)] == [msg["_id"]]
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "saved"


async def test_vm_119_prepend_forward_records_an_introduction(stage):
    owner(stage)
    stage.set_system("callflow", "voicemail.vm_message_forward_type", "prepend_forward")
    await with_box_7000(stage)
    msg = await stage.put(message_doc(length=4000))
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="7000#")
                            .on_prompt("vm-message_forwarding", press="1")
                            .on_record_start(speak=3.0, press="#")
                            .on_prompt("vm-review_recording", press="1")
                            .on_prompt("vm-main_menu", hangup=True))
    i = out.prompts.index("vm-message_forwarding")
    assert out.prompts[i + 1:i + 3] == ["vm-record_message", "tones"]
    names = [c.get("Application-Name") for c in out.commands]
    assert "record" in names[names.index("tones"):]
    stops = [e for e in out.call_result.events if e.get("Event-Name") == "RECORD_STOP"]
    assert len(stops) == 1
    intro_ms = int(stops[0]["Length"])
    assert intro_ms > 0
    copies = await messages_in(stage, BOX_7000)
    assert len(copies) == 1
    new = [n for n in out.notifications if n.get("Event-Name") == "voicemail_new"]
    assert len(new) == 1 and new[0]["Voicemail-ID"] == copies[0]["_id"]
    assert new[0]["Voicemail-Length"] == intro_ms + 4000
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "saved"


async def test_vm_120_prepend_menu_cancel(stage):
    owner(stage)
    stage.set_system("callflow", "voicemail.vm_message_forward_type", "prepend_forward")
    await with_box_7000(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="7000#")
                            .on_prompt("vm-message_forwarding", press="0")
                            .on_prompt("vm-main_menu", hangup=True))
    assert "vm-message_forwarding" in out.prompts and "vm-record_message" not in out.prompts
    assert await messages_in(stage, BOX_7000) == []
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "saved"
    assert "vm-saved" in out.prompts[out.prompts.index("vm-message_forwarding"):]


async def test_prepend_menu_gives_up_after_four_menus_with_goodbye_and_mwi(stage):
    """Spec README (defects we fix): the prepend menu has the main menu's limit; KAZOO loops forever."""
    owner(stage)
    stage.set_system("callflow", "voicemail.vm_message_forward_type", "prepend_forward")
    await with_box_7000(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="7000#")
                            .on_prompt("vm-message_forwarding", press="5", times=2))
    assert out.count("vm-message_forwarding") == 4
    assert out.prompts[-1] == "vm-goodbye"
    assert out.box_mwi()
    assert out.result.kind == "continue"
    assert await messages_in(stage, BOX_7000) == []
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "new"


async def test_forward_does_not_wait_for_the_notifier(stage):
    """A notifier that never answers ``voicemail_new`` must not keep the caller waiting in silence:
    the caller is back in the menus before the notification exchange ends, which it still does."""
    owner(stage)
    stage.notify_status = None                                     # nobody answers voicemail_new
    stage.set_system("notify", "notify_publisher_timeout_ms", 3000)
    await with_box_7000(stage)
    msg = await stage.put(message_doc())
    await stage.start()
    out = await stage.check(play_then("3").on_prompt("vm-enter_forward_id", press="7000#")
                            .on_prompt("vm-main_menu", hangup=True))
    assert out.before("vm-forward_confirmed", "vm-main_menu")
    assert [n for n in out.notifications if n.get("Event-Name") == "voicemail_saved"] == []
    assert (await stage.get(msg["_id"]))["metadata"]["folder"] == "saved"
    # the exchange times out in the background, then voicemail_saved and the destination's MWI follow
    assert await stage.deps.background.drain(15.0)
    await asyncio.sleep(0.3)
    assert [n["Voicemail-Box"] for n in stage.notes_seen if n.get("Event-Name") == "voicemail_saved"] == [BOX_7000]
    assert [u for u in stage.mwi_seen if u.get("To") == f"7000@{REALM}"]
