"""BusCallControl against the gateway simulator on the real broker (bus.md 4.3, 4.4)."""

from __future__ import annotations

import asyncio
import time

import pytest

from voicemail_svc.call_control import Hangup


def media(name: str) -> str:
    return f"prompt://system_media/{name}/en-us"


async def settle(seconds: float = 0.2) -> None:
    await asyncio.sleep(seconds)


async def test_answer_completes_and_the_gateway_answered(vm_call):
    call, control = vm_call
    await control.answer()
    assert call.control.state.answered


async def test_play_waits_for_its_marker_noop_until_the_media_ended(vm_call):
    call, control = vm_call
    started = time.monotonic()
    await control.play(media("long"))          # 1 s of real time
    assert time.monotonic() - started >= 0.9


async def test_play_many_plays_in_the_given_order(vm_call):
    call, control = vm_call
    await control.play_many([media("short"), media("medium")])
    prompts = [s.text for s in call.transcript.of_kind("prompt")]
    short = next(i for i, p in enumerate(prompts) if "short" in p)
    medium = next(i for i, p in enumerate(prompts) if "medium" in p)
    assert short < medium


async def test_key_during_a_blocking_prompt_stops_it_and_is_consumed(vm_call):
    call, control = vm_call
    asyncio.get_running_loop().call_later(0.2, call.press, "5")
    started = time.monotonic()
    await control.play(media("long"))
    assert time.monotonic() - started < 0.8          # the key was a terminator of the prompt
    assert await control.collect(1, timeout_ms=300) == ""


async def test_typed_ahead_digits_reach_the_next_collection(vm_call):
    call, control = vm_call
    call.press("12#")
    await settle()
    assert await control.collect(4, timeout_ms=1000) == "12"


async def test_terminator_ends_collection_and_later_keys_stay_for_the_next(vm_call):
    call, control = vm_call
    call.press("12#9")
    await settle()
    started = time.monotonic()
    assert await control.collect(10, timeout_ms=2000, interdigit_ms=2000) == "12"
    assert time.monotonic() - started < 0.5
    assert await control.collect(1, timeout_ms=300) == "9"


async def test_collection_stops_at_max_digits(vm_call):
    call, control = vm_call
    call.press("1234")
    await settle()
    assert await control.collect(3, timeout_ms=1000) == "123"
    assert await control.collect(1, timeout_ms=300) == "4"


async def test_first_timeout_returns_nothing(vm_call):
    call, control = vm_call
    started = time.monotonic()
    assert await control.collect(3, timeout_ms=300) == ""
    assert 0.28 <= time.monotonic() - started < 1.0


async def test_interdigit_timeout_ends_a_started_entry(vm_call):
    call, control = vm_call
    call.press("1")
    asyncio.get_running_loop().call_later(0.8, call.press, "2")
    started = time.monotonic()
    assert await control.collect(5, timeout_ms=3000, interdigit_ms=300) == "1"
    assert time.monotonic() - started < 0.7


async def test_first_timeout_starts_only_when_the_marker_completes(vm_call):
    call, control = vm_call
    marker = await control.queue_media([media("medium")])       # 0.2 s
    started = time.monotonic()
    assert await control.collect(2, timeout_ms=300, marker=marker) == ""
    assert time.monotonic() - started >= 0.45


async def test_first_digit_flushes_the_rest_of_the_prompts(vm_call):
    call, control = vm_call
    marker = await control.queue_media([media("long"), media("long")])
    asyncio.get_running_loop().call_later(0.1, call.press, "3")
    assert await control.collect(1, marker=marker) == "3"
    started = time.monotonic()
    await control.play(media("short"))
    assert time.monotonic() - started < 0.6        # the second "long" was flushed away


async def test_without_flush_on_digit_the_queued_prompts_still_play(vm_call):
    call, control = vm_call
    marker = await control.queue_media([media("long"), media("long")])
    asyncio.get_running_loop().call_later(0.1, call.press, "3")
    assert await control.collect(1, marker=marker, flush_on_digit=False) == "3"
    started = time.monotonic()
    await control.play(media("short"))
    assert time.monotonic() - started >= 0.8       # waited for the second "long"


async def test_hangup_fails_collect_and_every_later_command(vm_call):
    call, control = vm_call
    asyncio.get_running_loop().call_later(0.2, call.hangup)
    with pytest.raises(Hangup):
        await control.collect(3, timeout_ms=3000)
    assert control.hung_up
    with pytest.raises(Hangup):
        await control.play(media("short"))


async def test_hangup_during_a_blocking_prompt_fails_it(vm_call):
    call, control = vm_call
    asyncio.get_running_loop().call_later(0.2, call.hangup)
    with pytest.raises(Hangup):
        await control.play(media("long"))


async def test_beep_completes(vm_call):
    call, control = vm_call
    await control.beep()
    commands = [s.data.get("application") for s in call.transcript.of_kind("command")]
    assert "tones" in commands


async def test_flush_completes(vm_call):
    call, control = vm_call
    await control.flush()
    assert not control.hung_up


async def test_playseek_reaches_the_gateway_at_once(vm_call):
    call, control = vm_call
    marker = await control.queue_media([media("long")])
    await settle(0.1)
    await control.playseek("fastforward", 500)
    assert await control.collect(1, timeout_ms=200, marker=marker) == ""
    commands = [s.data.get("application") for s in call.transcript.of_kind("command")]
    assert "playseek" in commands


def test_prompt_names_follow_the_account_and_language():
    from voicemail_svc.call_control import BusCallControl
    control = BusCallControl(None, {"Call-ID": "c", "Control-Queue": "q", "Account-ID": "acc", "Language": "EN-US"},
                             None, None)
    assert control.prompt("vm-enter_pass") == "prompt://acc/vm-enter_pass/en-us"
    control.account_id = None
    assert control.prompt("vm-enter_pass") == "prompt://system_media/vm-enter_pass/en-us"
