"""Compose state by state, with a fake call and no broker (voicemail.md 4; VM-016 ... VM-065).

Each test walks ``Compose`` from ENTRY and checks the states it went through
(``compose.trail``), what the caller heard, and how the module ended.  The
integration tests (tests/integration/voicemail/test_compose_*.py) cover the
same behaviours through the gateway simulator and the real broker.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from services.messages.etf import ActionResult
from services.store import layout
from voicemail_svc.boxes.profile import load_profile
from voicemail_svc.compose.machine import Compose, State
from voicemail_svc.compose.save import DROPPED, UPLOAD_FAILED, Recording, save_message
from voicemail_svc.call_control import RecordResult, StoreFailed
from voicemail_svc.storage.spool import STORED

from tests.support.fake_call import Caller
from tests.support.voicemail_fixture import ACCOUNT, BOX, box_doc

CONTINUE = ActionResult("continue")
GREETING = ["vm-person", "say:3456", "vm-not_available"]


async def compose(stage, caller: Caller | None = None, *, data: dict | None = None, owner: bool = False):
    call = stage.call(caller)
    machine = Compose(stage.deps(), call, stage.info(owner=owner), {"id": BOX} if data is None else data)
    result = await machine.run()
    await machine.deps.background.drain(5.0)          # the save of REVIEW runs in the background
    return machine, call, result


# -- ENTRY (4.1) -----------------------------------------------------------------------------------

async def test_vm_003_entry_without_a_box_plays_no_voicemail_and_continues(stage):
    machine, call, result = await compose(stage, data={"id": "0" * 32})
    assert machine.trail == [State.ENTRY]
    assert call.heard == ["vm-not_available_no_voicemail"]
    assert result == CONTINUE and call.names()[0] == "answer"


async def test_vm_031_entry_sends_the_owner_to_check_when_check_if_owner(stage):
    await stage.put(box_doc(check_if_owner=True))
    machine, call, result = await compose(stage, Caller().on_prompt("vm-main_menu", hangup=True), owner=True)
    assert machine.trail == [State.ENTRY, State.CHECK]
    assert stage.check.calls == [BOX]                      # the hand-over got this box
    assert call.heard[:2] == ["vm-no_messages", "vm-main_menu"] and "tones" not in call.heard
    assert result == CONTINUE


async def test_vm_034_entry_announces_an_announcement_only_box_and_records_nothing(stage):
    await stage.put(box_doc(announcement_only=True))
    machine, call, result = await compose(stage)
    assert machine.trail == [State.ENTRY, State.ANNOUNCE]
    assert call.heard == GREETING
    assert "record" not in call.names() and result == CONTINUE


async def test_vm_038_entry_finds_the_box_full_and_notifies(stage):
    stage.set("callflow", "voicemail.max_message_count", 1)
    await stage.add_message()
    machine, call, result = await compose(stage)
    assert machine.trail == [State.ENTRY, State.FULL]
    assert stage.notes.full == [{"box_id": BOX, "max_count": 1, "count": 1}]
    assert call.heard == GREETING + ["vm-mailbox_full"]
    assert "record" not in call.names() and result == CONTINUE


async def test_vm_016_entry_greets_then_records_and_reviews(stage):
    caller = Caller().on_record(length_ms=4000).on_prompt("vm-review_recording", press="1")
    machine, call, result = await compose(stage, caller)
    assert machine.trail == [State.ENTRY, State.GREET, State.RECORD, State.REVIEW]
    assert call.heard[:6] == GREETING + ["vm-record_message", "tones", "vm-review_recording"]
    assert call.heard[-2:] == ["vm-saved", "vm-thank_you"]
    assert result == CONTINUE


# -- GREET (4.2) ---------------------------------------------------------------------------------

async def test_vm_025_greet_login_key_hands_over_to_check(stage):
    machine, call, result = await compose(stage, Caller().on_prompt("vm-person", press="*")
                                          .on_prompt("vm-enter_pass", hangup=True))
    assert machine.trail == [State.ENTRY, State.GREET, State.CHECK]
    assert call.heard == ["vm-person", "vm-enter_pass"]     # the key stopped the greeting
    assert stage.check.calls == [BOX] and "record" not in call.names()


async def test_vm_026_greet_operator_key_branches_to_the_operator_callflow(stage):
    flow = {"module": "user", "data": {"id": "u"}}
    await stage.add_callflow(["0"], flow)
    machine, call, result = await compose(stage, Caller().on_prompt("vm-not_available", press="0"))
    assert machine.trail == [State.ENTRY, State.GREET]
    assert result == ActionResult("continue_with_flow", flow)
    assert await stage.folders() == {}


async def test_vm_027_greet_operator_key_without_a_callflow_records(stage):
    await stage.add_callflow(["no_match"], {"module": "offnet"})
    caller = Caller().on_prompt("vm-not_available", press="0").on_record(length_ms=3000) \
        .on_prompt("vm-review_recording", press="1")
    machine, call, result = await compose(stage, caller)
    assert machine.trail == [State.ENTRY, State.GREET, State.RECORD, State.REVIEW]
    assert "vm-record_message" not in call.heard            # flushed by the key


async def test_vm_030_greet_continue_key_ends_without_recording(stage):
    stage.set("keys", "voicemail", {"continue": "#"})
    machine, call, result = await compose(stage, Caller().on_prompt("vm-record_message", press="#"))
    assert machine.trail == [State.ENTRY, State.GREET]
    assert result == CONTINUE and "record" not in call.names()


# -- ANNOUNCE (4.4) and FULL (4.5) ----------------------------------------------------------------

async def test_vm_035_announce_login_key_hands_over_to_check(stage):
    await stage.put(box_doc(announcement_only=True))
    caller = Caller().on_prompt("vm-not_available", press="*").on_prompt("vm-enter_pass", hangup=True)
    machine, call, result = await compose(stage, caller)
    assert machine.trail == [State.ENTRY, State.ANNOUNCE, State.CHECK]
    assert call.heard[-1] == "vm-enter_pass"


async def test_vm_036_announce_other_key_ends_quietly(stage):
    await stage.put(box_doc(announcement_only=True))
    machine, call, result = await compose(stage, Caller().on_prompt("vm-person", press="3"))
    assert machine.trail == [State.ENTRY, State.ANNOUNCE]
    assert result == CONTINUE and stage.check.calls == []


async def test_vm_039_full_login_key_hands_over_after_the_queued_prompts(stage):
    stage.set("callflow", "voicemail.max_message_count", 1)
    await stage.add_message()
    caller = Caller().on_prompt("vm-person", press="*").on_prompt("vm-enter_pass", hangup=True)
    machine, call, result = await compose(stage, caller)
    assert machine.trail == [State.ENTRY, State.FULL, State.CHECK]
    assert call.heard.index("vm-mailbox_full") < call.heard.index("vm-enter_pass")


# -- RECORD (4.6) and REVIEW (4.7) -------------------------------------------------------------------

async def test_vm_043_review_save_stores_the_message_and_notifies(stage):
    caller = Caller().on_record(length_ms=4000).on_prompt("vm-review_recording", press="1")
    machine, call, result = await compose(stage, caller)
    folders = await stage.folders()
    assert list(folders.values()) == ["new"]
    assert [s.message_id for s in stage.notes.stored] == list(folders)
    assert stage.notes.stored[0].length_ms == 4000
    assert "store_file" in call.names()


async def test_vm_044_review_listen_plays_the_recording_and_asks_again(stage):
    caller = Caller().on_record(length_ms=4000).on_prompt("vm-review_recording", press="2") \
        .on_prompt("vm-review_recording", press="1")
    machine, call, result = await compose(stage, caller)
    record = next(c for c in call.commands if c["Application-Name"] == "record")
    played = call.heard[call.heard.index("vm-review_recording") + 1]
    assert played == f"/tmp/{record['Media-Name']}"
    assert call.heard.count("vm-review_recording") == 2


async def test_vm_045_review_rerecord_goes_back_to_record(stage):
    caller = Caller().on_record(length_ms=4000).on_prompt("vm-review_recording", press="3") \
        .on_record(length_ms=5000).on_prompt("vm-review_recording", press="1")
    machine, call, result = await compose(stage, caller)
    assert machine.trail == [State.ENTRY, State.GREET, State.RECORD, State.REVIEW, State.RECORD, State.REVIEW]
    names = [c["Media-Name"] for c in call.commands if c["Application-Name"] == "record"]
    assert len(set(names)) == 2
    assert [s.length_ms for s in stage.notes.stored] == [5000]      # only the second recording


async def test_vm_046_review_operator_key_stores_then_branches(stage):
    flow = {"module": "user", "data": {"id": "op"}}
    await stage.add_callflow(["0"], flow)
    caller = Caller().on_record(length_ms=4000).on_prompt("vm-review_recording", press="0")
    machine, call, result = await compose(stage, caller)
    assert result == ActionResult("continue_with_flow", flow)
    assert len(stage.notes.stored) == 1 and call.heard[-1] == "vm-saved"


async def test_vm_048_review_without_an_answer_saves_anyway(stage):
    machine, call, result = await compose(stage, Caller().on_record(length_ms=4000))
    assert call.heard.count("vm-review_recording") == 4
    assert len(stage.notes.stored) == 1 and call.heard[-2:] == ["vm-saved", "vm-thank_you"]


async def test_vm_050_hangup_while_recording_stores_without_review(stage):
    machine, call, result = await compose(stage, Caller().on_record(length_ms=4000, hangup=True))
    assert machine.trail == [State.ENTRY, State.GREET, State.RECORD]
    assert "vm-review_recording" not in call.heard
    assert len(stage.notes.stored) == 1 and result == CONTINUE


async def test_vm_051_hangup_during_the_greeting_stores_nothing(stage):
    machine, call, result = await compose(stage, Caller().on_prompt("vm-person", hangup=True))
    assert machine.trail == [State.ENTRY, State.GREET]
    assert result == CONTINUE and stage.notes.stored == [] and await stage.folders() == {}


# -- SAVE (4.8) ----------------------------------------------------------------------------------------

async def saved(stage, length_ms: int, **call_options) -> tuple[str, object]:
    call = stage.call(**call_options)
    deps = stage.deps()
    box = await stage.mailbox()
    info = stage.info()
    profile = await load_profile(stage.config, box=box, data={"id": BOX}, account_id=info.account_id,
                                 mailboxes=deps.mailboxes)
    recording = Recording(f"{'a' * 32}.mp3", RecordResult(length_ms=length_ms, terminator="#", hangup=False,
                                                          file_path=None))
    return await save_message(deps, call, info, box=box, profile=profile, recording=recording), call


async def test_vm_052_save_drops_a_message_below_the_minimum(stage):
    outcome, call = await saved(stage, 400)
    assert outcome == DROPPED
    assert call.commands == [] and await stage.folders() == {} and stage.notes.stored == []


async def test_vm_065_save_without_an_upload_notifies_nothing(stage):
    outcome, call = await saved(stage, 4000, failing_uploads=True)
    assert outcome == UPLOAD_FAILED
    assert stage.notes.stored == [] and await stage.folders() == {}      # no audio: nothing written


async def test_vm_057_audio_that_arrived_is_kept_when_the_gateway_reports_a_failure(stage):
    """The PUT was stored, the gateway's retry of it is refused as reused, and the gateway reports
    the upload failed: the message is stored once and notified."""
    retries: list[int] = []

    async def upload_then_report_failure(file_name: str, url: str) -> None:
        await stage._upload(file_name, url)
        retries.append(await stage.uploads.take(urlsplit(url).path, b"again", "audio/mpeg"))
        raise StoreFailed(f"storing {file_name} failed after 2 tries: HTTP 403")

    outcome, call = await saved(stage, 4000, uploader=upload_then_report_failure)
    assert outcome == STORED and retries == [403]
    [message_id] = list(await stage.folders())
    assert [s.message_id for s in stage.notes.stored] == [message_id]
    doc = await stage.messages.get(ACCOUNT, message_id)
    assert await stage.store.get_attachment(layout.modb_of_doc_id(ACCOUNT, message_id), message_id,
                                            doc["media_filename"]) == stage.upload_bytes


async def test_vm_057_save_stores_the_audio_then_notifies(stage):
    outcome, call = await saved(stage, 4000)
    assert outcome == STORED
    [message_id] = list(await stage.folders())
    assert stage.uploaded == [message_id]
    assert stage.notes.stored[0].message_id == message_id and stage.notes.stored[0].box_id == BOX


async def test_every_compose_state_is_reached_by_these_calls(stage):
    trails = []
    for box, caller, owner in (
            ({"check_if_owner": True}, Caller().on_prompt("vm-main_menu", hangup=True), True),
            ({"announcement_only": True}, Caller(), False),
            ({}, Caller().on_record(length_ms=3000).on_prompt("vm-review_recording", press="1"), False)):
        await stage.put(box_doc(**box))
        trails.append((await compose(stage, caller, owner=owner))[0].trail)
    stage.set("callflow", "voicemail.max_message_count", 1)
    trails.append((await compose(stage))[0].trail)
    assert set().union(*trails) == set(State)
