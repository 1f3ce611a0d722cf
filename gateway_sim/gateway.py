"""The gateway simulator: a stand-in for KAZOO's ecallmgr + FreeSWITCH on the bus.

::

    gateway = Gateway(bus, store, GatewayConfig(time_scale=0.01))
    await gateway.start()
    result = await gateway.place_call(account_id=..., device_id=..., dial="*97",
                                      script=Script().on_prompt("vm-enter_pass", press="1234#"))
    print(result.transcript)
    await gateway.stop()

One gateway serves many concurrent calls.  Per call it publishes a route_req
(``Switch-Nodename`` = its node), picks the winner, creates the call's own
control queue (bound to ``callctl`` and ``targeted`` with its own name), sends
route_win and then usurp_control, and runs the command queue (``channel``)
while a scripted caller (``scripts``) reacts.  Gateway-wide, it listens on
``switch.command.<encoded node>`` for storage uploads (``switch``).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import aiohttp

from services.bus import Bus, Consumer, unique_queue_name
from services.exchanges import CALLCTL, KAZOO_QUEUE_ARGS, TARGETED
from services.messages import catalogue as m
from services.messages.errors import InvalidMessage
from services.messages.spec import Message

from gateway_sim import media
from gateway_sim.config import GatewayConfig
from gateway_sim.lookup import MediaLookup
from gateway_sim.channel import CallState, CommandQueue, Outbox
from gateway_sim.routing import (Endpoint, EndpointError, build_route_req, collect_route_responses, deferred,
                                 new_call_id, new_fetch_id, resolve_endpoint)
from gateway_sim.scripts import Caller, Script
from gateway_sim.switch import SwitchCommands
from gateway_sim.transcript import Transcript

log = logging.getLogger(__name__)

NO_HANDLERS = ("604", "no available handlers")   # KAZOO's answer when no route_resp arrives


@dataclass
class CallResult:
    """How one call went."""

    call_id: str
    status: str                      # "completed" (routed and ended), "rejected" or "failed"
    transcript: Transcript
    hangup_cause: str | None = None
    hung_up_by: str | None = None    # "caller", "app", "max_duration"
    reject_code: str | None = None
    reject_message: str | None = None
    error: str | None = None         # status "failed": what went wrong
    winner: dict[str, Any] | None = None   # App-Name, Node, Server-ID of the winning route_resp
    control_queue: str | None = None
    route_responses: int = 0
    duration: float = 0.0
    prompts: list[str] = field(default_factory=list)
    digits: str = ""
    commands: list[str] = field(default_factory=list)
    recordings: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # per play that needed bytes (media.md 6.6): label, media_name, via, ok, bytes, reason, ...
    media: list[dict[str, Any]] = field(default_factory=list)
    # what the caller heard, in order (gateway_sim.audio_out writes it as one WAV)
    heard: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @property
    def not_found(self) -> list[dict[str, Any]]:
        """The plays that ended in FILE NOT FOUND, with their reasons."""
        return [entry for entry in self.media if not entry.get("ok")]

    def event_names(self) -> list[str]:
        return [e["Event-Name"] for e in self.events]

    def summary(self) -> str:
        if self.status == "rejected":
            return f"rejected: {self.reject_code} {self.reject_message}"
        if self.status == "failed":
            return f"failed: {self.error}"
        return f"hangup {self.hangup_cause} by {self.hung_up_by} after {self.duration:.2f} s"

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "status": self.status, "summary": self.summary(),
            "hangup_cause": self.hangup_cause, "hung_up_by": self.hung_up_by,
            "reject_code": self.reject_code, "reject_message": self.reject_message, "error": self.error,
            "winner": self.winner, "control_queue": self.control_queue, "route_responses": self.route_responses,
            "duration": round(self.duration, 3), "prompts": self.prompts, "digits": self.digits,
            "commands": self.commands, "recordings": self.recordings, "uploads": self.uploads,
            "media": self.media, "heard": [{"label": h.label, "seconds": round(h.seconds, 4)} for h in self.heard],
            "events": self.event_names(), "transcript": self.transcript.to_json(),
        }

    def __str__(self) -> str:
        return f"{self.transcript}\n{self.summary()}"


class Call:
    """A call in progress: its command queue (``control``, once routed), its transcript, and how to wait for its end."""

    def __init__(self, gateway: "Gateway", endpoint: Endpoint, dial: str, script: Script | None,
                 call_id: str) -> None:
        self.gateway = gateway
        self.endpoint = endpoint
        self.dial = dial
        self.script = script
        self.call_id = call_id
        self.fetch_id = new_fetch_id()
        self.transcript = Transcript(call_id)
        self.control: CommandQueue | None = None
        self.caller: Caller | None = None
        self.control_queue: str | None = None
        self.routed = asyncio.get_running_loop().create_future()   # True once route_win is sent
        self._task: asyncio.Task[CallResult] | None = None

    async def wait_routed(self, timeout: float | None = None) -> bool:
        """True when the call was parked and handed to an app, False if it was rejected."""
        return await asyncio.wait_for(asyncio.shield(self.routed), timeout)

    def press(self, keys: str) -> None:
        """The caller presses ``keys`` at once (one DTMF event each)."""
        if self.control is None:
            raise RuntimeError("the call is not connected")
        for key in keys:
            self.control.press(key)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up."""
        if self.control is not None:
            self.control.hangup(cause, by="caller")

    def speak(self, seconds: float, *, then_press: str | None = None) -> bool:
        """The caller speaks into the running recording; False if nothing is recording."""
        if self.control is None or (record := self.control.recording()) is None:
            return False
        if then_press:
            record.speak(seconds, lambda rec: self.control.press(then_press[0]))  # type: ignore[union-attr]
        else:
            record.speak(seconds)
        return True

    async def finished(self, timeout: float | None = None) -> CallResult:
        assert self._task is not None
        return await asyncio.wait_for(asyncio.shield(self._task), timeout)


class Gateway:
    def __init__(self, bus: Bus, store=None, config: GatewayConfig | None = None) -> None:
        self.bus = bus
        self.store = store
        self.config = config or GatewayConfig()
        self.recordings: media.Recordings | None = None
        self.calls: dict[str, Call] = {}
        self._routes = None
        self._switch: SwitchCommands | None = None
        self._session: aiohttp.ClientSession | None = None
        self.media_lookup: MediaLookup | None = None
        self._tmpdir: str | None = None
        self.started = False

    @property
    def node(self) -> str:
        return self.config.node

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> "Gateway":
        if self.started:
            return self
        self.bus.validator.compile_all()   # the first command of the first call pays nothing
        directory = self.config.recording_dir
        if directory is None:
            self._tmpdir = directory = tempfile.mkdtemp(prefix="kzvoice-recordings-")
        self.recordings = media.Recordings(directory)
        self._session = aiohttp.ClientSession()
        self.media_lookup = await MediaLookup(self.bus, self._session, timeout=self.config.media_timeout,
                                              http_timeout=self.config.media_http_timeout,
                                              keep_audio=self.config.keep_audio,
                                              cache_seconds=self.config.media_cache_seconds).start()
        self._routes = await self.bus.reply_queue("gw-route")
        self._switch = await SwitchCommands(self.bus, self.node, self.recordings, self._upload,
                                            calls=self.calls).start()
        self.started = True
        log.info("gateway simulator %s started (recordings in %s)", self.node, directory)
        return self

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            if call.control is not None:
                call.control.shutdown()
        for call in list(self.calls.values()):
            if call._task is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(call._task), 5)
                except (asyncio.TimeoutError, Exception):
                    call._task.cancel()
        if self._switch is not None:
            await self._switch.stop(upload_timeout=self.config.upload_timeout)
        if self._routes is not None:
            await self._routes.close()
        if self.media_lookup is not None:
            await self.media_lookup.stop()
        if self._session is not None:
            await self._session.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        self.started = False

    async def __aenter__(self) -> "Gateway":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- calls ---------------------------------------------------------------------------

    async def place_call(self, *, account_id: str | None = None, device_id: str | None = None, dial: str,
                         script: Script | None = None, endpoint: Endpoint | None = None,
                         call_id: str | None = None) -> CallResult:
        """Place one call and return when it is over (after the post-hangup linger)."""
        call = await self.start_call(account_id=account_id, device_id=device_id, dial=dial, script=script,
                                     endpoint=endpoint, call_id=call_id)
        return await call.finished()

    async def start_call(self, *, account_id: str | None = None, device_id: str | None = None, dial: str,
                         script: Script | None = None, endpoint: Endpoint | None = None,
                         call_id: str | None = None) -> Call:
        """Start one call and return its handle at once.  Raises ``EndpointError`` for an unknown device."""
        if not self.started:
            raise RuntimeError("start the gateway first")
        if endpoint is None:
            if self.store is None or not account_id or not device_id:
                raise EndpointError("give account_id and device_id (and a store), or an endpoint")
            endpoint = await resolve_endpoint(self.store, account_id, device_id)
        call = Call(self, endpoint, dial, script, call_id or new_call_id())
        self.calls[call.call_id] = call
        call._task = asyncio.get_running_loop().create_task(self._run(call), name=f"call-{call.call_id}")
        return call

    async def _publish(self, spec, fields: Mapping[str, Any], to: str | None = None) -> None:
        await self.bus.publish(spec, fields, to=to)

    async def _run(self, call: Call) -> CallResult:
        started = time.monotonic()
        try:
            result = await self._route_and_run(call)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("call %s failed", call.call_id)
            call.transcript.add("result", f"failed: {exc}")
            result = CallResult(call.call_id, "failed", call.transcript, error=f"{type(exc).__name__}: {exc}")
        finally:
            self.calls.pop(call.call_id, None)
            if not call.routed.done():
                call.routed.set_result(False)
        result.duration = time.monotonic() - started
        return result

    async def _route_and_run(self, call: Call) -> CallResult:
        config = self.config
        transcript = call.transcript
        endpoint = call.endpoint
        assert self._routes is not None and self.recordings is not None
        route_req = build_route_req(endpoint, call.dial, call_id=call.call_id, fetch_id=call.fetch_id,
                                    node=config.node, hostname=config.hostname, server_id=self._routes.name)
        stream = self._routes.stream(call.fetch_id)

        def seen(response: Message) -> None:
            transcript.add("route", f"route_resp {response.get('Method')} from {response.get('App-Name')} "
                                    f"({response.get('Node', '?')})" + (" (deferred)" if deferred(response) else ""),
                           server_id=response.server_id)

        try:
            sent = await self.bus.publish(m.ROUTE_REQ, route_req)
            transcript.add("route", f"route_req {endpoint.username}@{endpoint.realm} -> {call.dial} "
                                    f"(account {endpoint.account_id})", msg_id=sent["Msg-ID"])
            outcome = await collect_route_responses(stream, config.route_timeout, on_response=seen)
        finally:
            stream.close()
        winner = outcome.winner
        if winner is None:
            code, message = NO_HANDLERS
            transcript.add("result", f"rejected: {code} {message} (no route_resp in {config.route_timeout:g} s)")
            return CallResult(call.call_id, "rejected", transcript, reject_code=code, reject_message=message)
        method = winner.get("Method")
        winner_info = {"App-Name": winner.get("App-Name"), "Node": winner.get("Node"),
                       "Server-ID": winner.server_id, "Method": method}
        if method == "error":
            code = str(winner.get("Route-Error-Code") or "500")
            message = str(winner.get("Route-Error-Message") or "route error")
            transcript.add("result", f"rejected by {winner.get('App-Name')}: {code} {message}")
            return CallResult(call.call_id, "rejected", transcript, reject_code=code, reject_message=message,
                              winner=winner_info, route_responses=len(outcome.responses))
        if method != "park":
            transcript.add("result", f"rejected: route method {method!r} is not simulated (only park)")
            return CallResult(call.call_id, "rejected", transcript, reject_code="488",
                              reject_message=f"method {method} not simulated", winner=winner_info,
                              route_responses=len(outcome.responses))
        transcript.add("route", f"winner: {winner.get('App-Name')} (Server-ID {winner.server_id})")
        return await self._connect(call, route_req, winner, winner_info, len(outcome.responses))

    async def _connect(self, call: Call, route_req: dict[str, Any], winner: Message, winner_info: dict[str, Any],
                       responses: int) -> CallResult:
        config = self.config
        transcript = call.transcript
        ccvs = dict(route_req["Custom-Channel-Vars"])
        if isinstance(winner.get("Custom-Channel-Vars"), Mapping):
            ccvs.update(winner["Custom-Channel-Vars"])
        ccvs.update({"Application-Name": winner.get("App-Name"), "Application-Node": winner.get("Node"),
                     "Ecallmgr-Node": config.node})
        ccvs = {k: v for k, v in ccvs.items() if v not in (None, "")}
        cavs = dict(winner.get("Custom-Application-Vars") or {})
        state = CallState(call_id=call.call_id, fetch_id=call.fetch_id, ccvs=ccvs, cavs=cavs,
                          caller_id_name=route_req["Caller-ID-Name"], caller_id_number=route_req["Caller-ID-Number"],
                          from_=route_req["From"], to=route_req["To"], request=route_req["Request"])
        outbox = Outbox(self._publish, name=call.call_id)
        assert self.recordings is not None and self._session is not None
        control = CommandQueue(state, config=config, emit=outbox.put, parse=self.bus.validator.parse,
                              recordings=self.recordings, uploader=self._upload, transcript=transcript,
                              media_lookup=self.media_lookup)
        call.control = control

        queue = unique_queue_name("gw-ctl")
        transport = self.bus.transport
        await transport.declare_queue(queue, exclusive=True, auto_delete=True, arguments=KAZOO_QUEUE_ARGS)
        consumer = Consumer(transport, self.bus.validator, queue, metrics=self.bus.metrics,
                            on_invalid=lambda body, exc: self._on_invalid_command(control, body, exc))
        await consumer.bind(CALLCTL, queue)
        await consumer.bind(TARGETED, queue)
        consumer.on_any(lambda message: self._on_command(control, message))
        await consumer.start()
        call.control_queue = queue
        try:
            call.caller = Caller(call.script, control, max_duration=config.max_call_seconds)
            pre_park = winner.get("Pre-Park")
            if pre_park == "answer":
                control.answer()
            elif pre_park == "ring_ready":
                transcript.add("route", "ringing (Pre-Park ring_ready)")
            outbox.put(m.ROUTE_WIN, {"Msg-ID": call.call_id, "Server-ID": queue, "App-Name": "ecallmgr",
                                     "Node": config.node, "Call-ID": call.call_id, "Control-Queue": queue,
                                     "Custom-Channel-Vars": dict(ccvs), "Switch-Hostname": config.hostname},
                       to=winner.server_id)
            transcript.add("route", f"route_win -> {winner.server_id} (Control-Queue {queue})")
            # bus.md 8.8: usurp_control right after route_win, with the call's Fetch-ID
            outbox.put(m.USURP_CONTROL, {"App-Name": "ecallmgr", "Node": config.node, "Call-ID": call.call_id,
                                         "Fetch-ID": call.fetch_id, "Reason": "Route-Win",
                                         "Media-Node": config.node})
            transcript.add("route", f"usurp_control (Fetch-ID {call.fetch_id})")
            call.routed.set_result(True)
            call.caller.started()
            await control.closed
        finally:
            if call.caller is not None:
                call.caller.stop()
            await consumer.stop(drain_timeout=1.0)
            try:
                await transport.delete_queue(queue)
            except Exception as exc:
                log.debug("deleting control queue %s: %s", queue, exc)
            await outbox.drain()
            await outbox.close()
        return self._result(call, control, winner_info, responses)

    def _result(self, call: Call, control: CommandQueue, winner_info: dict[str, Any], responses: int) -> CallResult:
        state = control.state
        transcript = call.transcript
        return CallResult(
            call.call_id, "completed", transcript, hangup_cause=state.hangup_cause, hung_up_by=state.hung_up_by,
            winner=winner_info, control_queue=call.control_queue, route_responses=responses,
            prompts=[str(s.data.get("label", s.text)) for s in transcript.of_kind("prompt")],
            digits="".join(str(s.data.get("digit", "")) for s in transcript.of_kind("digits")),
            commands=[str(s.data["application"]) for s in transcript.of_kind("command") if "application" in s.data],
            recordings=[{"path": info.path, "media_name": info.media_name, "length_ms": info.length_ms,
                         "size": info.size} for info in (self.recordings or []) if info.call_id == call.call_id],
            uploads=[{"text": s.text, **s.data} for s in transcript.of_kind("upload")],
            events=list(control.events), media=[dict(s.data) for s in transcript.of_kind("media")],
            heard=list(control.heard))

    # -- bus handlers --------------------------------------------------------------------

    async def _on_command(self, control: CommandQueue, message: Message) -> None:
        # no await before receive(): commands are taken in the order they arrive
        if not message.spec.key.startswith("command."):
            log.debug("ignoring %s on a control queue", message.spec.key)
            return
        control.receive(message.to_dict())

    async def _on_invalid_command(self, control: CommandQueue, body: Mapping[str, Any] | None,
                                  exc: InvalidMessage) -> None:
        if isinstance(body, Mapping) and body.get("Event-Category") == "call" and body.get("Event-Name") == "command":
            control.receive_invalid(body, exc.detail)
        else:
            control.transcript.add("error", f"dropped a message that is not a valid call command: {exc.detail}")

    async def _upload(self, path, url: str, method: str, name: str, headers: Any = None) -> media.UploadOutcome:
        assert self._session is not None
        return await media.upload(self._session, path, url, method=method, attachment_name=name,
                                  additional_headers=headers, timeout=self.config.upload_timeout)
