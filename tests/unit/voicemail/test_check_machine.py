"""Check state by state, with a fake call and no broker (voicemail.md 5; VM-066 ... VM-133).

``CheckSession.states`` is the trail of the check machine; each test checks
it, what the caller heard, what was stored, and the module result.  The
integration tests (tests/integration/voicemail/test_check_*.py) cover the
same behaviours through the gateway simulator and the real broker.
"""

from __future__ import annotations

from services.messages.etf import ActionResult
from voicemail_svc.check.machine import State, open_check

from tests.support.fake_call import Caller
from tests.support.voicemail_fixture import BOX, BOX_7000, box_doc

S = State
CONTINUE = ActionResult("continue")
LOGGED_IN = [S.LOGIN, S.DISPATCH, S.MAIN]


async def check(stage, caller: Caller | None = None, *, owner: bool = True, data: dict | None = None):
    call = stage.call(caller)
    deps = stage.deps()
    session = await open_check(deps, call, stage.info(owner=owner), {"action": "check", "id": BOX}
                               if data is None else data, box=None)
    result = await session.run()
    await deps.background.drain(5.0)
    return session, call, result


def hang_up_at_main_menu(caller: Caller | None = None) -> Caller:
    return (caller or Caller()).on_prompt("vm-main_menu", hangup=True)


# -- LOGIN, DISPATCH, MAIN (5.3, 5.5) ----------------------------------------------------------------

async def test_vm_070_right_pin_leads_to_the_main_menu(stage):
    caller = hang_up_at_main_menu(Caller().on_prompt("vm-enter_pass", press="1234#"))
    session, call, result = await check(stage, caller, owner=False)
    assert session.states == LOGGED_IN
    assert call.heard == ["vm-enter_pass", "vm-no_messages", "vm-main_menu"]
    assert call.names()[0] == "answer" and result == CONTINUE
    assert stage.mwi.boxes == [BOX]                       # the entry box, once (5.13)


async def test_vm_072_refused_login_ends_the_check(stage):
    session, call, result = await check(stage, owner=False)
    assert session.states == [S.LOGIN]
    assert call.heard[-1] == "vm-abort" and result == CONTINUE


async def test_vm_088_idle_main_menu_says_goodbye_after_four_menus(stage):
    session, call, result = await check(stage)
    assert session.states == [S.LOGIN, S.DISPATCH] + [S.MAIN] * 5 + [S.GOODBYE]
    assert call.heard.count("vm-main_menu") == 4 and call.heard[-1] == "vm-goodbye"
    assert result == CONTINUE and stage.mwi.boxes == [BOX]


async def test_vm_090_exit_key_ends_without_goodbye(stage):
    stage.set("keys", "voicemail", {"exit": "*"})
    session, call, result = await check(stage, Caller().on_prompt("vm-main_menu", press="*"))
    assert session.states == LOGGED_IN + [S.EXIT]
    assert "vm-goodbye" not in call.heard and stage.mwi.boxes == [BOX]


async def test_vm_089_lone_hash_is_the_default_exit_key(stage):
    session, call, result = await check(stage, Caller().on_prompt("vm-main_menu", press="#"))
    assert session.states == LOGGED_IN + [S.EXIT]


async def test_vm_085_count_announcement_before_the_menu(stage):
    for _ in range(3):
        await stage.add_message()
    await stage.add_message(folder="saved")
    session, call, result = await check(stage, hang_up_at_main_menu())
    assert call.heard == ["vm-you_have", "say:3", "vm-new_and", "say:1", "vm-saved_message", "vm-main_menu"]


async def test_vm_037_announcement_only_box_goes_straight_to_config(stage):
    await stage.put(box_doc(announcement_only=True))
    caller = Caller().on_prompt("vm-settings_menu_announcement_on", press="0")
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert session.states == [S.LOGIN, S.DISPATCH, S.CONFIG, S.MAIN]
    assert call.heard[0] == "vm-settings_menu_announcement_on"


# -- WIZARD (5.4) --------------------------------------------------------------------------------------

async def test_vm_079_wizard_sets_pin_and_greeting_then_the_main_menu(stage):
    await stage.put(box_doc(is_setup=False))
    caller = (Caller().on_prompt("vm-enter_new_pin", press="5678#").on_prompt("vm-enter_new_pin_confirm", press="5678#")
              .on_record(length_ms=2000).on_prompt("vm-review_recording", press="1"))
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert session.states == [S.LOGIN, S.DISPATCH, S.MAIN, S.WIZARD, S.MAIN]
    assert call.heard == ["vm-setup_intro", "vm-enter_new_pin", "vm-enter_new_pin_confirm", "vm-pin_set",
                          "vm-setup_rec_greeting", "vm-record_greeting", "tones", "vm-review_recording", "vm-saved",
                          "vm-setup_complete", "vm-no_messages", "vm-main_menu"]
    box = await stage.box()
    assert box["pin"] == "5678" and box["is_setup"] is True and box["media"]["unavailable"]
    assert session.profile.is_setup                        # the profile follows the saved box


async def test_vm_080_wizard_stops_after_three_refused_pins(stage):
    await stage.put(box_doc(is_setup=False))
    caller = Caller()
    for first, second in (("1111#", "2222#"),) * 3:
        caller.on_prompt("vm-enter_new_pin", press=first).on_prompt("vm-enter_new_pin_confirm", press=second)
    session, call, result = await check(stage, caller)
    assert session.states == [S.LOGIN, S.DISPATCH, S.MAIN, S.WIZARD]
    assert call.heard.count("vm-pin_invalid") == 2 and call.heard[-1] == "vm-goodbye"
    assert result == ActionResult("stop")
    assert (await stage.box())["is_setup"] is False


# -- PLAY (5.6), callback (5.7), forward (5.8) ----------------------------------------------------------

async def test_vm_097_keep_then_delete_then_back_to_main(stage):
    older = await stage.add_message(age_s=7200)
    newer = await stage.add_message(age_s=3600)
    caller = (Caller().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="1")
              .on_prompt("vm-message_menu", press="7"))
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert session.states == LOGGED_IN + [S.PLAY_NEW, S.MAIN]
    first = call.heard.index("vm-main_menu") + 1
    assert stage.media.labels(call.heard[first:first + 3]) == ["vm-message_number", "say:1", newer["_id"]]
    assert "vm-saved" in call.heard and "vm-deleted" in call.heard
    assert await stage.folders() == {newer["_id"]: "saved", older["_id"]: "deleted"}
    assert stage.mwi.boxes == [BOX] * 3                                # after each change, and at the end


async def test_vm_107_saved_folder_and_return_to_main(stage):
    message = await stage.add_message(folder="saved")
    caller = Caller().on_prompt("vm-main_menu", press="2").on_prompt("vm-message_menu", press="0")
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert session.states == LOGGED_IN + [S.PLAY_SAVED, S.MAIN]
    assert await stage.folders() == {message["_id"]: "saved"}


async def test_vm_094_skip_envelope_comes_from_the_profile(stage):
    await stage.put(box_doc(skip_envelope=True))
    await stage.add_message()
    caller = Caller().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", hangup=True)
    session, call, result = await check(stage, caller)
    assert "vm-received" not in call.heard and "vm-message_menu" in call.heard


async def test_vm_110_fastforward_sends_playseek(stage):
    stage.set("callflow", "voicemail.is_voicemail_ff_rw_enabled", True)
    stage.set("callflow", "voicemail.seek_duration_ms", 5000)
    await stage.put(box_doc(is_voicemail_ff_rw_enabled=True))
    await stage.add_message()
    caller = (Caller().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="8")
              .on_prompt("vm-message_menu", hangup=True))
    session, call, result = await check(stage, caller)
    seeks = [c for c in call.commands if c["Application-Name"] == "playseek"]
    assert seeks == [{"Application-Name": "playseek", "Direction": "fastforward", "Duration": 5000}]


async def test_vm_114_callback_branches_through_the_services_finder(stage):
    flow = {"module": "resource", "data": {}}
    await stage.add_callflow(["no_match"], flow)              # 5.7 step 4 accepts the no_match callflow
    await stage.add_message(caller="4155550123")
    caller = Caller().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="9")
    session, call, result = await check(stage, caller)
    assert session.states == LOGGED_IN + [S.PLAY_NEW]
    assert result == ActionResult("continue_with_flow", flow)


async def test_vm_116_forward_copies_the_message_into_the_other_box(stage):
    await stage.put(box_doc(BOX_7000, "7000", owner_id=None))
    source = await stage.add_message()
    caller = (Caller().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="3")
              .on_prompt("vm-enter_forward_id", press="7000#"))
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert "vm-forward_confirmed" in call.heard
    [copy] = list(await stage.folders(BOX_7000))
    assert [s.box_id for s in stage.notes.stored] == [BOX_7000] and stage.notes.stored[0].message_id == copy
    assert await stage.folders() == {source["_id"]: "saved"}


# -- CONFIG (5.10) ---------------------------------------------------------------------------------

async def test_vm_130_toggle_announcement_is_heard_in_the_next_menu(stage):
    caller = (Caller().on_prompt("vm-main_menu", press="5").on_prompt("vm-settings_menu", press="6")
              .on_prompt("vm-settings_menu_announcement_on", press="0"))
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert session.states == LOGGED_IN + [S.CONFIG, S.MAIN]
    i = call.heard.index("vm-settings_menu")
    assert call.heard[i + 1:i + 3] == ["vm-saved", "vm-settings_menu_announcement_on"]
    assert (await stage.box())["announcement_only"] is True and session.profile.announcement_only


async def test_vm_126_change_pin_from_the_config_menu(stage):
    caller = (Caller().on_prompt("vm-main_menu", press="5").on_prompt("vm-settings_menu", press="3")
              .on_prompt("vm-enter_new_pin", press="4321#").on_prompt("vm-enter_new_pin_confirm", press="4321#")
              .on_prompt("vm-settings_menu", press="0"))
    session, call, result = await check(stage, hang_up_at_main_menu(caller))
    assert "vm-pin_set" in call.heard and (await stage.box())["pin"] == "4321"
    assert session.states == LOGGED_IN + [S.CONFIG, S.MAIN]


async def test_vm_132_config_menu_limit_says_goodbye(stage):
    caller = Caller().on_prompt("vm-main_menu", press="5")
    session, call, result = await check(stage, caller)
    assert session.states == LOGGED_IN + [S.CONFIG, S.GOODBYE]
    assert call.heard.count("vm-settings_menu") == 3 and call.heard[-1] == "vm-goodbye"
    assert stage.mwi.boxes == [BOX] and result == CONTINUE


async def test_every_check_state_is_reached_by_these_calls(stage):
    seen: set[State] = set()
    for caller in (Caller().on_prompt("vm-main_menu", press="#"),                              # EXIT
                   Caller().on_prompt("vm-main_menu", press="2"),                              # PLAY_SAVED
                   Caller().on_prompt("vm-main_menu", press="1")                               # PLAY_NEW
                   .on_prompt("vm-main_menu", press="5").on_prompt("vm-settings_menu", press="0")):  # CONFIG
        seen |= set((await check(stage, hang_up_at_main_menu(caller)))[0].states)
    seen |= set((await check(stage))[0].states)                                                # GOODBYE
    await stage.put(box_doc(is_setup=False))
    seen |= set((await check(stage, Caller().on_prompt("vm-setup_intro", hangup=True)))[0].states)  # WIZARD
    assert seen | {S.END} == set(State)
