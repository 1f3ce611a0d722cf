"""LOGIN and BOX-ENTRY state by state, with a fake call and no broker (voicemail.md 5.2, 5.3; VM-066 ... VM-078).

``Login.states`` is the trail of the login sub-flow; each test checks it, what
the caller heard, and the outcome.  tests/integration/voicemail/test_check_login.py
covers the same through the gateway simulator.
"""

from __future__ import annotations

import pytest

from voicemail_svc.boxes.profile import Profile
from voicemail_svc.call_control import Hangup
from voicemail_svc.check.env import build_env
from voicemail_svc.check.login import Login, LoginState, attempts_used_up, owner_needs_no_pin

from tests.support.fake_call import Caller
from tests.support.voicemail_fixture import BOX, box_doc

S = LoginState


async def login(stage, caller: Caller | None = None, *, owner: bool = False, box_id: str | None = BOX):
    """A login sub-flow on box ``box_id`` (None: no box resolved yet), run to its end."""
    call = stage.call(caller)
    data = {"id": box_id} if box_id else {}
    env = await build_env(stage.deps(), stage.info(owner=owner), data)
    box = await env.resolve_box(data) if box_id else None
    flow = Login(call, env, box=box, profile=await env.profile(box))
    outcome = await flow.run()
    return flow, call, outcome


def test_the_rules_of_5_3_by_name():
    assert attempts_used_up(3, Profile(max_login_attempts=3)) and not attempts_used_up(2, Profile())
    assert owner_needs_no_pin(Profile(is_setup=False, require_pin=True))
    assert owner_needs_no_pin(Profile(is_setup=True, require_pin=False))
    assert not owner_needs_no_pin(Profile(is_setup=True, require_pin=True))


async def test_vm_066_owner_enters_without_a_pin(stage):
    flow, call, outcome = await login(stage, owner=True)
    assert (flow.states, outcome) == ([S.DECIDE], S.ENTERED)
    assert call.heard == []


async def test_vm_067_owner_with_require_pin_is_asked_for_it(stage):
    await stage.put(box_doc(require_pin=True))
    flow, call, outcome = await login(stage, Caller().on_prompt("vm-enter_pass", press="1234#"), owner=True)
    assert (flow.states, outcome) == ([S.DECIDE, S.PIN], S.ENTERED)
    assert call.heard == ["vm-enter_pass"]


async def test_vm_068_force_require_pin_asks_the_owner_too(stage):
    stage.set("callflow", "voicemail.force_require_pin", True)
    flow, call, outcome = await login(stage, Caller().on_prompt("vm-enter_pass", press="1234#"), owner=True)
    assert flow.states == [S.DECIDE, S.PIN] and outcome is S.ENTERED


async def test_vm_078_owner_of_a_box_not_set_up_needs_no_pin(stage):
    await stage.put(box_doc(is_setup=False, require_pin=True))
    flow, call, outcome = await login(stage, owner=True)
    assert (flow.states, outcome) == ([S.DECIDE], S.ENTERED)


async def test_vm_069_box_without_pin_refuses_everyone_who_needs_one(stage):
    await stage.put(box_doc(pin=None))
    flow, call, outcome = await login(stage)
    assert (flow.states, outcome) == ([S.DECIDE, S.NO_ACCESS], S.REFUSED)
    assert call.heard == ["vm-no_access"]


async def test_vm_072_three_wrong_pins_abort(stage):
    caller = Caller()
    for _ in range(3):
        caller.on_prompt("vm-enter_pass", press="9999#")
    flow, call, outcome = await login(stage, caller)
    assert flow.states == [S.DECIDE, S.PIN] * 3 + [S.DECIDE, S.ABORT] and outcome is S.REFUSED
    assert call.heard == ["vm-enter_pass", "vm-fail_auth"] * 3 + ["vm-abort"]
    assert flow.failed_attempts == 3


async def test_vm_076_box_numbers_and_pins_share_one_budget(stage):
    caller = (Caller().on_prompt("vm-enter_id", press="11#").on_prompt("vm-enter_id", press="22#")
              .on_prompt("vm-enter_id", press="3456#").on_prompt("vm-enter_pass", press="9#"))
    flow, call, outcome = await login(stage, caller, box_id=None)
    assert flow.states == [S.DECIDE, S.BOX_ENTRY, S.DECIDE, S.PIN, S.DECIDE, S.ABORT]
    assert call.heard == ["vm-enter_id", "menu-invalid_entry", "vm-enter_id", "menu-invalid_entry", "vm-enter_id",
                          "vm-enter_pass", "vm-fail_auth", "vm-abort"]
    assert flow.box is not None and flow.box.id == BOX        # the typed number found the box


async def test_vm_075_typed_box_number_ignores_leading_zeros_and_logs_in(stage):
    caller = Caller().on_prompt("vm-enter_id", press="03456#").on_prompt("vm-enter_pass", press="1234#")
    flow, call, outcome = await login(stage, caller, box_id=None)
    assert (flow.states, outcome) == ([S.DECIDE, S.BOX_ENTRY, S.DECIDE, S.PIN], S.ENTERED)


async def test_concealed_box_numbers_answer_an_unknown_number_like_a_wrong_pin(stage):
    stage.set("callflow", "voicemail.conceal_box_numbers", True)
    caller = Caller().on_prompt("vm-enter_id", press="777#").on_prompt("vm-enter_pass", press="1234#")
    flow, call, outcome = await login(stage, caller, box_id=None)
    assert flow.states[:4] == [S.DECIDE, S.BOX_ENTRY, S.PIN, S.DECIDE]
    assert call.heard[:3] == ["vm-enter_id", "vm-enter_pass", "vm-fail_auth"]
    assert "menu-invalid_entry" not in call.heard and outcome is S.REFUSED


async def test_a_hangup_at_the_pin_prompt_ends_the_login(stage):
    with pytest.raises(Hangup):
        await login(stage, Caller().on_prompt("vm-enter_pass", hangup=True))


async def test_every_login_state_is_reached_by_these_calls(stage):
    seen: set[LoginState] = set()
    for caller, owner, box_id in ((Caller(), True, BOX),                                      # ENTERED
                                  (Caller().on_prompt("vm-enter_id", press="3456#"), False, None)):
        flow, _, outcome = await login(stage, caller, owner=owner, box_id=box_id)
        seen |= set(flow.states) | {outcome}
    await stage.put(box_doc(pin=None))
    flow, _, outcome = await login(stage)                                                    # NO_ACCESS
    seen |= set(flow.states) | {outcome}
    assert seen == set(LoginState)
