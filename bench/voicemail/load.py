"""The load process: the gateway simulator's scripted callers, a router that parks, the executor
(action.execute, then a hangup after the result, as callflow_svc does) and a notifier that answers
``voicemail_new`` with ``completed``."""

from __future__ import annotations

import asyncio
import random
import secrets
import time

from bench.voicemail.seed import ACCOUNT, FIRST_BOX, PIN, REALM, box_id

REACT_SECONDS = (0.5, 1.5)          # a caller answers a prompt this long after it ends
DTMF_GAP = 0.3                      # seconds between two keys a caller types
# the gateway keeps a fetched media name like ecallmgr does (media.md 2.3: 3600 s), so a prompt is
# asked for once per load, not once per play; each message and greeting is still asked for
MEDIA_CACHE_SECONDS = 3600.0


def check_script(rng: random.Random) -> "object":
    """A caller checking two new messages: PIN, 1 (new messages), save the first, delete the second,
    hang up at the main menu that follows."""
    from gateway_sim import Script

    def react() -> float:
        return round(rng.uniform(*REACT_SECONDS), 2)

    return (Script()
            .on_prompt("vm-enter_pass", after=react(), press=PIN + "#")
            .on_prompt("vm-main_menu", after=react(), press="1")
            .on_prompt("vm-message_menu", after=react(), press="1")
            .on_prompt("vm-message_menu", after=react(), press="7")
            .on_prompt("vm-main_menu", after=react(), hangup=True))


def compose_script(rng: random.Random) -> "object":
    from gateway_sim import Script
    speak = rng.uniform(10.0, 30.0)
    return Script().on_record_start(speak=speak, press="#") \
        .on_prompt("vm-review_recording", barge=True, after=1.0, press="1")


class Load:
    def __init__(self, amqp_url: str, time_scale: float, recording_dir: str) -> None:
        self.amqp_url = amqp_url
        self.time_scale = time_scale
        self.recording_dir = recording_dir
        self.failures: list[str] = []
        self.media: dict[str, float] = {}        # message id -> seconds it plays (check levels)

    async def start(self) -> "Load":
        from gateway_sim import Gateway, GatewayConfig
        from services.bus import Bus, open_transport, unique_queue_name
        from services.exchanges import CALLMGR, NOTIFICATIONS, route_req_key
        from services.messages import catalogue as m
        from services.messages.validation import Validator

        validator = Validator()
        self.m = m
        self.gw_bus = Bus(open_transport(self.amqp_url), validator, app_name="freeswitch", node="fs@bench")
        await self.gw_bus.start()
        self.bus = Bus(open_transport(self.amqp_url), validator, app_name="callflow", node="cf@bench")
        await self.bus.start()
        self.gateway = Gateway(self.gw_bus, None, GatewayConfig(time_scale=self.time_scale, route_timeout=5.0,
                                                                max_call_seconds=180.0, post_hangup_linger=0.5,
                                                                recording_dir=self.recording_dir,
                                                                dtmf_gap=DTMF_GAP, media_seconds=self.media,
                                                                media_cache_seconds=MEDIA_CACHE_SECONDS))
        await self.gateway.start()
        self.replies = await self.bus.reply_queue("bench-executor")
        self.replies.on(m.ROUTE_WIN, self._on_win)
        self.wins: dict[str, asyncio.Future] = {}
        self.reqs: dict[str, dict] = {}
        routes = await self.bus.consumer(unique_queue_name("bench-router"), exclusive=True, prefetch=256)
        await routes.bind(CALLMGR, route_req_key("audio", account_id=ACCOUNT))
        routes.on(m.ROUTE_REQ, self._on_req)
        await routes.start()
        notifier = await self.bus.consumer(unique_queue_name("bench-notifier"), exclusive=True, prefetch=256)
        await notifier.bind(NOTIFICATIONS, "notifications.voicemail.new")
        notifier.on(m.VOICEMAIL_NEW, self._on_new)
        await notifier.start()
        return self

    def _win(self, call_id: str) -> asyncio.Future:
        return self.wins.setdefault(call_id, asyncio.get_running_loop().create_future())

    async def _on_req(self, req) -> None:
        self.reqs[req["Call-ID"]] = dict(req)
        await self.bus.publish(self.m.ROUTE_RESP, {"Msg-ID": req.msg_id, "Call-ID": req["Call-ID"],
                                                   "Method": "park", "Routes": [], "Pre-Park": "none"},
                               to=req.server_id, server_id=self.replies.name)

    async def _on_win(self, win) -> None:
        future = self._win(win["Call-ID"])
        if not future.done():
            future.set_result(win)

    async def _on_new(self, message) -> None:
        await self.bus.publish(self.m.NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": "completed"},
                               to=message.server_id)

    async def one_call(self, kind: str, i: int, box: int, rng: random.Random) -> None:
        from gateway_sim import Endpoint
        from services.messages.etf import decode_result
        m = self.m
        if kind == "check":
            script, dial, data = check_script(rng), "*97", {"action": "check", "id": box_id(box)}
        else:
            script, dial, data = compose_script(rng), str(FIRST_BOX + box), {"id": box_id(box)}
        endpoint = Endpoint(account_id=ACCOUNT, realm=REALM, username=f"caller{i}", caller_id_name="Bench",
                            caller_id_number=f"{2000 + i}", device_id=secrets.token_hex(16))
        call = await self.gateway.start_call(endpoint=endpoint, dial=dial, script=script)
        try:
            win = await asyncio.wait_for(self._win(call.call_id), 30)
        except asyncio.TimeoutError:
            self.failures.append(f"call {i}: not routed")
            return
        req = self.reqs.pop(call.call_id)
        self.wins.pop(call.call_id, None)
        call_object = {"Call-ID": call.call_id, "Account-ID": ACCOUNT, "Control-Queue": win["Control-Queue"],
                       "Request": req["Request"], "To": req["To"], "From": req["From"], "Language": "en-us",
                       "Caller-ID-Number": req.get("Caller-ID-Number"), "Caller-ID-Name": req.get("Caller-ID-Name"),
                       "Switch-Nodename": req.get("Switch-Nodename"),
                       "Key-Value-Store": {"remote-action": "voicemail"}}
        body = self.bus.publisher.build(m.ACTION_EXECUTE, {"Call-ID": call.call_id, "Data": data,
                                                           "Call": call_object}, server_id=self.replies.name)
        stream = self.replies.stream(body["Msg-ID"])
        await self.bus.publisher.send(m.ACTION_EXECUTE, body)
        try:
            while True:
                reply = await stream.next(150)
                if reply.spec.key == "callflow.action.result":
                    if decode_result(reply["Result"]).kind != "continue":
                        self.failures.append(f"call {i}: result {reply['Result']}")
                    break
        except asyncio.TimeoutError:
            self.failures.append(f"call {i}: no result")
        finally:
            stream.close()
        await self.bus.publish(m.COMMANDS["hangup"], {"Call-ID": call.call_id, "Application-Name": "hangup"},
                               to=win["Control-Queue"])
        await call.finished(timeout=120)

    async def level(self, calls: int, seed: int, ramp_s: float = 0.0, *, kind: str = "compose",
                    first_box: int = 0) -> float:
        """``calls`` callers arriving evenly over ``ramp_s`` real seconds, all on the line together."""
        rng = random.Random(seed)
        started = time.perf_counter()

        async def caller(i: int) -> None:
            await asyncio.sleep(ramp_s * i / max(1, calls))
            await self.one_call(kind, i, first_box + i, rng)

        await asyncio.gather(*(caller(i) for i in range(calls)))
        return time.perf_counter() - started

    def hang_up_all(self) -> None:
        """Every caller on the line hangs up now."""
        for call in list(self.gateway.calls.values()):
            call.hangup()

    async def stop(self) -> None:
        await self.gateway.stop()
        await self.bus.close()
        await self.gw_bus.close()
