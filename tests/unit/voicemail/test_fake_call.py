"""The fake call of tests/support behaves as its docstring says (the unit tests of compose and check rely on it)."""

from __future__ import annotations

import pytest

from voicemail_svc.call_control import Hangup, StoreFailed

from tests.support.fake_call import Caller, FakeCall, ScriptError


def prompt(call: FakeCall, name: str) -> str:
    return call.prompt(name)


async def test_queued_media_is_heard_when_the_session_collects_and_a_key_flushes_the_rest():
    call = FakeCall(Caller().on_prompt("a", press="1"))
    marker = await call.queue_media([prompt(call, "a"), prompt(call, "b")])
    assert call.heard == ["a", "b"]                     # queued, nothing stopped it yet
    assert await call.collect(1, marker=marker) == "1"
    assert call.heard == ["a"]
    assert call.names() == ["queue", "noop"]            # the first digit flushed


async def test_without_flush_on_digit_the_queue_plays_on():
    call = FakeCall(Caller().on_prompt("a", press="1"))
    await call.queue_media([prompt(call, "a"), prompt(call, "b")])
    assert await call.collect(1, flush_on_digit=False) == "1"
    assert call.heard == ["a", "b"]


async def test_collect_stops_at_a_terminator_and_keeps_the_rest_typed_ahead():
    call = FakeCall(Caller(typed_ahead="12#9"))
    assert await call.collect(5) == "12"
    assert await call.collect(1) == "9"
    assert await call.collect(1) == ""                  # nothing left: the timeout


async def test_keys_pressed_during_a_blocking_prompt_are_used_up_by_it():
    call = FakeCall(Caller().on_prompt("a", press="5"))
    await call.play(prompt(call, "a"))
    assert await call.collect(1) == ""


async def test_a_hangup_fails_the_wait_and_every_later_command():
    call = FakeCall(Caller().on_prompt("a", hangup=True))
    await call.queue_media([prompt(call, "a")])
    with pytest.raises(Hangup):
        await call.collect(1)
    assert call.hung_up
    with pytest.raises(Hangup):
        await call.play(prompt(call, "b"))


async def test_recordings_come_from_the_script_and_a_missing_one_fails_loudly():
    call = FakeCall(Caller().on_record(length_ms=1500, press="#"))
    result = await call.record("x.mp3")
    assert (result.length_ms, result.terminator, result.hangup, result.file_path) == (1500, "#", False, "/tmp/x.mp3")
    with pytest.raises(ScriptError):
        await call.record("y.mp3")


async def test_store_file_uploads_or_fails_as_told():
    uploads: list[tuple[str, str]] = []

    async def uploader(name: str, url: str) -> None:
        uploads.append((name, url))

    await FakeCall(uploader=uploader).store_file("/tmp/x.mp3", "http://u/x")
    assert uploads == [("/tmp/x.mp3", "http://u/x")]
    with pytest.raises(StoreFailed):
        await FakeCall(failing_uploads=True).store_file("/tmp/x.mp3", "http://u/x")
