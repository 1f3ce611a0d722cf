"""Data options and box resolution (voicemail.md 1, 5.1, 6; VM-002 ... VM-014).

VM-001 is in test_compose_greeting.py; VM-015 (``skip_module``) is the executor's and is tested
there (tests/integration/callflow/test_flow.py::test_cf_067_skip_module; docs/deviations.md).
"""

from __future__ import annotations

import asyncio

import pytest

from gateway_sim import Script
from services.messages.etf import ActionResult
from tests.integration.voicemail.conftest import put_doc

pytestmark = pytest.mark.integration

CONTINUE = ActionResult("continue")
HANG_UP_AT_MENU = dict(name="vm-main_menu", hangup=True)


def sent_apps(out) -> list[str]:
    return [c["Application-Name"] for c in out.sent]


async def test_vm_002_unknown_action_does_nothing(vm_env):
    env = await vm_env()
    out = await env.place({"action": "listen", "id": env.ids.box})
    assert out.result == CONTINUE
    # only the executor's own hangup reached the gateway
    assert sent_apps(out) == ["hangup"]
    assert out.prompts == [] and out.call.recordings == []


async def test_vm_003_compose_with_missing_box(vm_env):
    env = await vm_env()
    out = await env.place({"action": "compose", "id": "0" * 32})
    assert out.prompts == ["vm-not_available_no_voicemail"]
    assert out.result == CONTINUE
    assert out.commands("record") == [] and await env.messages() == []


async def test_vm_004_check_with_missing_box_asks_for_the_number(vm_env):
    env = await vm_env()
    out = await env.place({"action": "check", "id": "0" * 32}, script=Script().on_prompt("vm-enter_id", hangup=True))
    assert out.prompts[0] == "vm-enter_id"


async def test_vm_005_capture_group_selects_the_box(vm_env):
    env = await vm_env()
    out = await env.place({"action": "check"}, dial="*983456",
                          call_extra={"Key-Value-Store": {"cf_capture_group": "3456"}},
                          script=Script().on_prompt("vm-enter_pass", hangup=True))
    assert out.prompts[0] == "vm-enter_pass" and "vm-enter_id" not in out.prompts


async def test_vm_006_capture_group_matches_the_exact_string(vm_env):
    env = await vm_env(box={"mailbox": "100"})
    out = await env.place({"action": "check"}, dial="*980100",
                          call_extra={"Key-Value-Store": {"cf_capture_group": "0100"}},
                          script=Script().on_prompt("vm-enter_id", hangup=True))
    assert out.prompts[0] == "vm-enter_id"


async def test_vm_007_single_mailbox_login_for_the_owner(vm_env):
    env = await vm_env(box={"require_pin": False})
    out = await env.place({"action": "check", "single_mailbox_login": True}, owner=True,
                          script=Script().on_prompt(**HANG_UP_AT_MENU))
    assert "vm-no_messages" in out.prompts
    assert "vm-enter_id" not in out.prompts and "vm-enter_pass" not in out.prompts


async def test_vm_008_owner_without_login_options_is_asked_for_the_number(vm_env):
    env = await vm_env(box={"require_pin": False})
    out = await env.place({"action": "check", "single_mailbox_login": False, "callerid_match_login": False},
                          owner=True, script=Script().on_prompt("vm-enter_id", hangup=True))
    assert out.prompts[0] == "vm-enter_id"


async def second_box(store, ids) -> None:
    await put_doc(store, ids.db, {"_id": "7" * 32, "name": "Box 7000", "mailbox": "7000", "pin": "1234",
                                  "is_setup": True, "owner_id": ids.user}, "vmbox")


async def test_vm_009_callerid_match_login_picks_the_owned_box(vm_env):
    env = await vm_env(seed=second_box)
    out = await env.place({"action": "check", "callerid_match_login": True}, owner=True,
                          call_extra={"Caller-ID-Number": "7000"}, script=Script().on_prompt(**HANG_UP_AT_MENU))
    assert "vm-enter_id" not in out.prompts and "vm-enter_pass" not in out.prompts
    assert "vm-main_menu" in out.prompts
    assert env.check.calls == [None]
    # the end-of-check MWI names the box that was selected
    await env.wait_until(lambda: env.named("mwi_update"), what="mwi_update")
    assert {u["To"] for u in env.named("mwi_update")} == {"7000@acme.example.com"}


async def test_vm_010_callerid_match_login_without_a_match(vm_env):
    env = await vm_env(seed=second_box)
    out = await env.place({"action": "check", "callerid_match_login": True}, owner=True,
                          call_extra={"Caller-ID-Number": "5555"},
                          script=Script().on_prompt("vm-enter_id", hangup=True))
    assert out.prompts[0] == "vm-enter_id"


async def test_vm_011_owner_found_through_the_authorizing_device(vm_env):
    env = await vm_env(box={"require_pin": False})
    out = await env.place({"action": "check", "single_mailbox_login": True}, owner=True,
                          call_extra={"Owner-ID": None}, script=Script().on_prompt("vm-enter_pass", hangup=True))
    # box B was selected (no box number asked); without a call owner id the caller is not the
    # owner (5.3: ownership comes from the call's owner id), so the PIN is asked
    assert out.prompts[0] == "vm-enter_pass" and "vm-enter_id" not in out.prompts


def leave() -> Script:
    return Script().on_record_start(speak=1.0, press="1").on_prompt("vm-review_recording", press="1")


async def test_vm_012_data_time_limit_wins_over_the_box(vm_env):
    env = await vm_env(box={"max_message_length": 120})
    out = await env.place({"id": env.ids.box, "max_message_length": 60}, script=leave())
    assert out.commands("record")[0]["Time-Limit"] == "60"


async def test_vm_013_default_time_limit(vm_env):
    env = await vm_env()
    out = await env.place({"id": env.ids.box}, script=leave())
    assert out.commands("record")[0]["Time-Limit"] == "500"


async def test_vm_014_box_interdigit_timeout_wins_over_the_data(vm_env):
    """A pause of 1.5 s between PIN digits: longer than the data's 1000 ms, shorter than the box's 3000 ms."""
    env = await vm_env(box={"interdigit_timeout": 3000})

    async def type_pin_with_a_pause(call):
        for _ in range(500):
            if call.control is not None and "vm-enter_pass" in call.control.transcript.texts("prompt"):
                break
            await asyncio.sleep(0.01)
        call.press("12")
        await asyncio.sleep(1.5)
        call.press("34#")

    out = await env.place({"action": "check", "id": env.ids.box, "interdigit_timeout": 1000},
                          script=Script().on_prompt(**HANG_UP_AT_MENU), during=type_pin_with_a_pause)
    assert "vm-fail_auth" not in out.prompts
    assert "vm-main_menu" in out.prompts
