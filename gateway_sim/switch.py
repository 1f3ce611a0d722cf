"""The gateway-wide listener on ``switch.command.<encoded node>``: ``send_http`` uploads a recording
(bus.md 3.12, 5.3, 8.6), also after the call that made it hung up; other commands are answered
``not_implemented``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Awaitable, Callable

from services.bus import Bus, Consumer, unique_queue_name
from services.exchanges import SWITCH, switch_command_key
from services.messages import catalogue as m
from services.messages.errors import InvalidMessage
from services.messages.spec import Message

from gateway_sim import media

log = logging.getLogger(__name__)

Uploader = Callable[..., Awaitable[media.UploadOutcome]]


class SwitchCommands:
    def __init__(self, bus: Bus, node: str, recordings: media.Recordings, upload: Uploader, *,
                 calls: Mapping[str, Any]) -> None:
        """``calls`` (Call-ID -> call with a ``transcript``): an upload is noted in the transcript of the
        call that recorded the file while that call goes on."""
        self._bus = bus
        self.node = node
        self._recordings = recordings
        self._upload = upload
        self._calls = calls
        self._consumer: Consumer | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> "SwitchCommands":
        self._consumer = await self._bus.consumer(unique_queue_name("gw-switch"), exclusive=True,
                                                  on_invalid=self._on_invalid)
        await self._consumer.bind(SWITCH, switch_command_key(self.node))
        self._consumer.on(m.SWITCH_COMMAND, self._on_command)
        await self._consumer.start()
        return self

    async def stop(self, *, upload_timeout: float) -> None:
        """Let running uploads finish (up to ``upload_timeout``), then stop listening."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=upload_timeout)
        if self._consumer is not None:
            await self._consumer.stop(drain_timeout=1.0)
            try:
                await self._bus.transport.delete_queue(self._consumer.queue)
            except Exception as exc:
                log.debug("deleting %s: %s", self._consumer.queue, exc)

    async def _on_command(self, message: Message) -> None:
        task = asyncio.get_running_loop().create_task(self._command(message.to_dict()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_invalid(self, body: Mapping[str, Any] | None, exc: InvalidMessage) -> None:
        if not isinstance(body, Mapping) or body.get("Event-Category") != "switch_event" \
                or body.get("Event-Name") != "command" or not body.get("Server-ID") or not body.get("Msg-ID"):
            return
        command = str(body.get("Command") or "unknown")
        error = "no arguments" if not body.get("Args") else exc.detail
        await self._reply(body, command, error=error)

    async def _reply(self, request: Mapping[str, Any], command: str, *, error: str | None = None,
                            response: dict[str, Any] | None = None) -> None:
        server_id = request.get("Server-ID")
        if not server_id:
            return
        fields: dict[str, Any] = {"Msg-ID": request.get("Msg-ID"), "App-Name": "ecallmgr", "Node": self.node,
                                  "Command": command, "Result": "error" if error else "success",
                                  "FreeSWITCH-Node": request.get("FreeSWITCH-Node")}
        if request.get("Call-ID"):
            fields["Call-ID"] = request["Call-ID"]
        if error:
            fields["Error"] = error
        if response:
            fields["Response"] = response
        await self._bus.publish(m.SWITCH_REPLY, fields, to=str(server_id))

    async def _command(self, request: Mapping[str, Any]) -> None:
        """send_http: upload a recording (bus.md 3.12, 5.3, 8.6); works after the call hung up."""
        command = str(request.get("Command"))
        args = request.get("Args") or {}
        if command != "send_http":
            await self._reply(request, command, error=f"{command} not_implemented")
            return
        if not args:
            await self._reply(request, command, error="no arguments")
            return
        file_name = str(args.get("File-Name") or "")
        url = str(args.get("Url") or "")
        method = str(args.get("Http-Method") or "put").lower()
        path = self._recordings.path_for(file_name) if file_name else None
        if not file_name or not url:
            outcome = media.UploadOutcome(False, error="File-Name and Url are required")
        elif path is None:
            outcome = media.UploadOutcome(False, error=f"no recording named {file_name}")
        else:
            outcome = await self._upload(path, url, method, file_name)
        record = {"command": "send_http", "file": file_name, "url": url, "method": method, "ok": outcome.ok,
                  "status": outcome.status, "error": outcome.error}
        self._note_upload(path, record)
        await self._reply(request, command, error=None if outcome.ok else outcome.error,
                          response={"Status-Code": outcome.status} if outcome.status else None)

    def _note_upload(self, path, record: dict[str, Any]) -> None:
        """Put an upload into the transcript of the call that recorded the file, if it is still going."""
        if path is None:
            return
        for info in self._recordings:
            if info.path == str(path):
                call = self._calls.get(info.call_id)
                if call is not None:
                    call.transcript.add("upload", f"send_http {record['method']} {record['file']} -> "
                                        f"{record['url']}: " + ("success" if record["ok"] else
                                                                f"error ({record['error']})"),
                                        status=record["status"], ok=record["ok"])
                return
