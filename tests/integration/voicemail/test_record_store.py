"""b_record and store_file against the gateway simulator (bus.md 4.3, 3.12, 5.3)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from aiohttp import web

from voicemail_svc.call_control import Hangup, StoreFailed


class Storage:
    """An HTTP server that keeps PUT bodies; the first ``fail_first`` requests answer 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[str, str, bytes]] = []

    async def start(self) -> "Storage":
        async def handle(request: web.Request) -> web.Response:
            self.requests.append((request.method, request.path, await request.read()))
            if len(self.requests) <= self.fail_first:
                return web.Response(status=500, text="broken")
            return web.json_response({"ok": True}, status=201)

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()


async def speak_when_recording(call, seconds: float, then_press: str | None) -> None:
    for _ in range(200):
        if call.control.recording() is not None:
            call.speak(seconds, then_press=then_press)
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the gateway never started recording")


async def record_something(call, control):
    name = f"{secrets.token_hex(16)}.mp3"
    speaker = asyncio.create_task(speak_when_recording(call, 2.0, "#"))
    result = await control.record(name, time_limit_s=60)
    await speaker
    return name, result


async def test_record_reports_length_terminator_and_file(vm_call):
    call, control = vm_call
    await control.answer()
    name, result = await record_something(call, control)
    assert result.terminator == "#"
    assert not result.hangup
    assert result.file_path is not None and result.file_path.endswith(name)
    assert 1500 <= result.length_ms <= 4000          # ~2 s of simulated speech


async def test_hangup_while_recording_still_gives_a_result_marked_hangup(vm_call):
    call, control = vm_call
    await control.answer()
    name = f"{secrets.token_hex(16)}.mp3"

    async def speak_then_hang_up():
        for _ in range(200):
            if call.control.recording() is not None:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        call.hangup()

    task = asyncio.create_task(speak_then_hang_up())
    result = await control.record(name, time_limit_s=60, silence_hits=100)
    await task
    assert result.hangup
    assert result.terminator is None
    # RECORD_STOP comes before CHANNEL_DESTROY: the next wait meets the destroy
    with pytest.raises(Hangup):
        await control.play("prompt://system_media/short/en-us")
    assert control.hung_up


async def test_store_file_uploads_the_recording(vm_call):
    call, control = vm_call
    await control.answer()
    name, result = await record_something(call, control)
    storage = await Storage().start()
    try:
        await control.store_file(f"/tmp/{name}", f"{storage.base}/store/{name}")
        assert len(storage.requests) == 1
        method, path, body = storage.requests[0]
        assert method == "PUT" and path == f"/store/{name}" and len(body) > 0
    finally:
        await storage.stop()


async def test_store_file_retries_after_an_error(vm_call):
    call, control = vm_call
    await control.answer()
    name, _ = await record_something(call, control)
    storage = await Storage(fail_first=1).start()
    try:
        await control.store_file(f"/tmp/{name}", f"{storage.base}/store/{name}")
        assert len(storage.requests) == 2
    finally:
        await storage.stop()


async def test_store_file_gives_up_after_its_tries(vm_call):
    call, control = vm_call
    await control.answer()
    name, _ = await record_something(call, control)
    storage = await Storage(fail_first=100).start()
    try:
        with pytest.raises(StoreFailed):
            await control.store_file(f"/tmp/{name}", f"{storage.base}/store/{name}")
        assert len(storage.requests) == control.timers.store_file_tries == 3
    finally:
        await storage.stop()


async def test_store_file_of_an_unknown_recording_fails(vm_call):
    call, control = vm_call
    with pytest.raises(StoreFailed):
        await control.store_file(f"/tmp/{secrets.token_hex(16)}.mp3", "http://127.0.0.1:9/nowhere")
