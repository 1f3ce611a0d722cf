"""``kzvoice demo``: every installed service and the gateway simulator in one process.

By default it runs on the embedded defaults -- the in-process bus and a fresh
SQLite store in a temporary folder -- so it needs no broker.  Setting
``KZ_AMQP_URL`` / ``KZ_STORE_URL`` explicitly runs the same demo on a real
broker or store.

It seeds a sample account (two users with desk phones, a mailbox, callflows), then shows:

1. an operator setting a system default over the bus (``kzvoice config set-default``);
2. calls placed by scripted callers, each printed as a transcript: a welcome line;
   Bob leaving Ann a message (box 1000); Ann hearing it with ``*97``; Bob logging
   in with ``*98`` and the box number; Ann with the feature code ``*981000``;
   the MWI updates and the ``voicemail_new`` notification they cause;
3. a callflow edited in the store, announced on ``configuration``, routing the
   very next call differently (cache flush);
4. a number nobody routes, rejected the way KAZOO's gateway rejects it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

ACCOUNT = "5a4e3b2c1d0f4e8a9b7c6d5e4f3a2b1c"
REALM = "demo.kzvoice.example"
USER = "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6"
DEVICE = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
CF_HELLO = "c0000000000000000000000000002000"
CF_VOICEMAIL = "c00000000000000000000000000000a7"
CF_VM_PATTERN = "c000000000000000000000000000a98e"
CF_VM_ASK = "c000000000000000000000000000a980"
CF_LEAVE = "c0000000000000000000000000001000"
BOX = "b0c0000000000000000000000000b0c1"
BOB = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
BOB_DEVICE = "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"


def _callflow(doc_id: str, *, numbers=(), patterns=(), flow: dict, name: str) -> dict[str, Any]:
    return {"_id": doc_id, "name": name, "numbers": list(numbers), "patterns": list(patterns), "flow": flow}


HELLO_FLOW = {"module": "play", "data": {"id": "/system_media/demo-welcome"},
              "children": {"_": {"module": "hangup", "data": {}}}}
HELLO_FLOW_EDITED = {"module": "play", "data": {"id": "/system_media/demo-edited-greeting"},
                     "children": {"_": {"module": "hangup", "data": {}}}}


async def seed(store) -> None:
    """The sample account: realm, a user with a desk phone, and three callflows."""
    from gateway_sim.seed import seed_account, seed_device, seed_user
    from services.store import layout

    await store.init_db()
    await seed_account(store, ACCOUNT, realm=REALM, name="Demo Telecom", language="en-us")
    await seed_user(store, ACCOUNT, USER, first_name="Ann", last_name="Smith", caller_id_number="356")
    await seed_device(store, ACCOUNT, DEVICE, username="user_356", owner_id=USER, name="Ann's desk phone")
    await seed_user(store, ACCOUNT, BOB, first_name="Bob", last_name="Jones", caller_id_number="357")
    await seed_device(store, ACCOUNT, BOB_DEVICE, username="user_357", owner_id=BOB, name="Bob's desk phone")
    db = layout.account_db(ACCOUNT)
    await store.put_over(db, layout.stamp({"_id": BOX, "name": "Ann's mailbox", "mailbox": "1000", "pin": "1234",
                                           "owner_id": USER, "is_setup": True, "timezone": "Europe/London"},
                                          pvt_type="vmbox", db=db))
    for doc in (
        _callflow(CF_HELLO, numbers=["2000"], flow=HELLO_FLOW, name="welcome line"),
        _callflow(CF_LEAVE, numbers=["1000"], name="Ann's voicemail",
                  flow={"module": "voicemail", "data": {"action": "compose", "id": BOX}}),
        _callflow(CF_VOICEMAIL, numbers=["*97"], name="check my voicemail",
                  flow={"module": "voicemail", "data": {"action": "check", "single_mailbox_login": True}}),
        _callflow(CF_VM_ASK, numbers=["*98"], name="check a mailbox (asks for the number)",
                  flow={"module": "voicemail", "data": {"action": "check"}}),
        _callflow(CF_VM_PATTERN, patterns=[r"^\*98(\d+)$"], name="check a given box",
                  flow={"module": "voicemail", "data": {"action": "check"}}),
    ):
        await store.put_over(db, layout.stamp(doc, pvt_type="callflow", db=db))
    await seed_media(store)


# the demo's own recordings, played as /system_media/<id> (old-style system media, media.md 4.2)
DEMO_MEDIA = {"demo-welcome": "Welcome to the kzvoice demo. Goodbye.",
              "demo-edited-greeting": "This greeting was edited a moment ago. Goodbye."}


async def seed_media(store) -> None:
    """What the gateway simulator asks voicemail_svc for (media.md 6.6, 6.7): every system prompt
    (``kzvoice prompts seed``: speech where espeak-ng is installed, else a tone) and the demo's own
    two recordings."""
    from services.media.names import SYSTEM_MEDIA
    from services.media.seeding import PromptVoice, seed_prompts
    from services.store import layout
    import base64
    voice = PromptVoice()
    await seed_prompts(store, voice=voice)
    for media_id, words in DEMO_MEDIA.items():
        audio = await voice.audio(words, language="en-us")
        doc = {"_id": media_id, "name": media_id, "media_source": "upload", "streamable": True,
               "description": words,
               "_attachments": {f"{media_id}.wav": {"content_type": "audio/wav",
                                                    "data": base64.b64encode(audio).decode("ascii")}}}
        await store.put_over(SYSTEM_MEDIA, layout.stamp(doc, pvt_type="media", db=SYSTEM_MEDIA))


@dataclass
class DemoReport:
    sections: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, title: str, body: Any) -> None:
        self.sections.append((title, body))


def _settings_for_demo(env: dict[str, str], workdir: str):
    from services.settings import Settings
    overrides = dict(env)
    overrides.setdefault("KZ_AMQP_URL", "memory://demo")
    overrides.setdefault("KZ_STORE_URL", f"sqlite:///{os.path.join(workdir, 'demo.sqlite3')}")
    overrides.setdefault("KZ_HTTP_PORT", "0")           # any free port: the demo must not clash
    overrides.setdefault("KZ_HTTP_HOST", "127.0.0.1")
    overrides.setdefault("KZ_SPOOL_DIR", os.path.join(workdir, "spool"))
    overrides.setdefault("KZ_NODE", "kzvoice@demo")
    return Settings.from_env(overrides)


async def run_demo(*, as_json: bool = False, time_scale: float = 0.05, out=print,
                   audio_out: str | None = None) -> int:
    """``audio_out``: a file to write what the callers heard, every call in turn, as one WAV."""
    from gateway_sim.config import GatewayConfig
    from gateway_sim.gateway import Gateway
    from gateway_sim.scripts import Script
    from services import exchanges as x
    from services.bus import unique_queue_name
    from services.messages import catalogue
    from services.runtime import Runtime
    from services.store import layout

    workdir = tempfile.mkdtemp(prefix="kzvoice-demo-")
    env = {k: v for k, v in os.environ.items() if k.startswith("KZ_")}
    settings = _settings_for_demo(env, workdir)
    runtime = Runtime(settings)
    report = DemoReport()
    say = (lambda text: None) if as_json else out
    say(f"kzvoice demo: bus {settings.amqp_url.split('@')[-1]}, store {settings.store_url}")
    say(f"services: {', '.join(runtime.service_names)}")

    store = await runtime.context.store()
    await seed(store)
    await runtime.start()
    gateway = None
    try:
        gateway_bus = await runtime.context.bus("freeswitch")
        gateway = Gateway(gateway_bus, store, GatewayConfig(time_scale=time_scale, route_timeout=2.75,
                                                           max_call_seconds=30, keep_audio=bool(audio_out)))
        await gateway.start()
        heard: list[Any] = []            # what the callers heard, call after call (--audio-out)
        operator = await runtime.context.bus("kzvoice-cli")
        replies = await operator.reply_queue("demo-operator")
        mwi_seen: list[dict[str, Any]] = []
        lamps = await operator.consumer(unique_queue_name("demo-mwi"), exclusive=True)
        await lamps.bind(x.PRESENCE, "mwi_updates.#")

        async def on_mwi(message) -> None:
            mwi_seen.append({"to": message["To"], "new": message["Messages-New"], "saved": message["Messages-Saved"],
                             "blf": message.get("Extended-Presence-ID")})
            say(f"   [presence] MWI for {message['To']}: {message['Messages-New']} new, "
                f"{message['Messages-Saved']} saved" + (f" (BLF {message['Extended-Presence-ID']})"
                                                        if message.get("Extended-Presence-ID") else ""))
        lamps.on(catalogue.MWI_UPDATE, on_mwi)
        await lamps.start()

        # the notifications app (KAZOO's teletype): acknowledges voicemail_new as delivered
        notifier = await operator.consumer(unique_queue_name("demo-notifier"), exclusive=True)
        await notifier.bind(x.NOTIFICATIONS, "notifications.voicemail.*")

        async def on_voicemail_new(message) -> None:
            say(f"   [notify] voicemail_new: box id {message.get('Voicemail-Box')} from "
                f"{message.get('Caller-ID-Number') or message.get('From-User')}, "
                f"{int(message.get('Voicemail-Length') or 0) // 1000} s; e-mail would go out here")
            if message.server_id:
                await operator.publish(catalogue.NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": "completed"},
                                       to=message.server_id)
        notifier.on(catalogue.VOICEMAIL_NEW, on_voicemail_new)
        await notifier.start()

        # 1. the operator's config change, answered by config_svc
        if "config" in runtime.service_names:
            say("\n== operator: kzvoice config set-default callflow dialog_subscribed_mwi_prefix '*98'")
            reply = await replies.request(catalogue.SYSCONF_SET_REQ,
                                          {"Category": "callflow", "Key": "dialog_subscribed_mwi_prefix",
                                           "Value": "*98"}, timeout=5)
            say(f"   set_resp: Value={reply.get('Value')!r} Status={reply.get('Status', 'ok')}")
            reply = await replies.request(catalogue.SYSCONF_GET_REQ,
                                          {"Category": "callflow", "Key": "dialog_subscribed_mwi_prefix"},
                                          timeout=5)
            say(f"   get_resp: Value={reply.get('Value')!r}")
            report.add("config", {"set": "*98", "read_back": reply.get("Value")})

        async def call(title: str, dial: str, script: Script | None = None, device: str = DEVICE) -> None:
            say(f"\n== call: {title} (dials {dial})")
            result = await gateway.place_call(account_id=ACCOUNT, device_id=device, dial=dial, script=script)
            heard.extend(result.heard)
            if as_json:
                report.add(title, result.to_json())
            else:
                for line in str(result.transcript).splitlines():
                    say("   " + line)
                say("   => " + result.summary())

        # 2. scripted calls
        await call("welcome line", "2000")
        voicemail = "voicemail" in runtime.service_names
        if voicemail:
            await call("Bob leaves Ann a message", "1000",
                       Script().on_record_start(speak=4.0, press="1").on_prompt("vm-review_recording", press="1"),
                       device=BOB_DEVICE)
            await call("Ann checks her voicemail with *97 and hears the message", "*97",
                       Script().on_prompt("vm-enter_pass", press="1234#")
                       .on_prompt("vm-main_menu", press="1")        # hear new messages
                       .on_prompt("vm-message_menu", press="1")     # keep it (saved folder)
                       .on_prompt("vm-main_menu", press="#")        # exit
                       .on_prompt("vm-goodbye", hangup=True).hang_up_after(20))
            await call("Bob uses *98 and types the box number", "*98",
                       Script().on_prompt("vm-enter_id", press="1000#").on_prompt("vm-enter_pass", press="1234#")
                       .on_prompt("vm-main_menu", press="#").on_prompt("vm-goodbye", hangup=True)
                       .hang_up_after(20), device=BOB_DEVICE)
            await call("Ann uses the feature code *98<box>", "*981000",
                       Script().on_prompt("vm-enter_pass", press="1234#")
                       .on_prompt("vm-main_menu", press="#").on_prompt("vm-goodbye", hangup=True)
                       .hang_up_after(20))

        # 3. edit a callflow; announce it; the next call follows the new flow
        db = layout.account_db(ACCOUNT)
        edited = await store.put_over(db, {**(await store.get(db, CF_HELLO)), "flow": HELLO_FLOW_EDITED})
        await operator.publish(catalogue.DOC_CHANGES["doc_edited"],
                               {"ID": CF_HELLO, "Database": layout.encode_db_name(db),
                                "Type": "callflow", "Rev": edited["_rev"], "Account-ID": ACCOUNT})
        await asyncio.sleep(0.2)
        say("\n== the welcome line's callflow was edited in the store and announced on `configuration`")
        await call("welcome line after the edit", "2000")

        # 4. nobody routes this number
        await call("a number with no callflow", "5555")
        report.add("mwi", mwi_seen)
        if audio_out:
            from gateway_sim import audio_out as writer
            written = await asyncio.to_thread(writer.write, audio_out, heard)
            say(f"\nwhat the callers heard: {written.seconds:.1f} s in {audio_out}")
    finally:
        if gateway is not None:
            await gateway.stop()
        await runtime.stop()
    if as_json:
        out(json.dumps([{"title": t, "result": b} for t, b in report.sections], indent=2))
    say(f"\nstore left in {workdir}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the services and scripted calls in one process",
        description="Run every installed service and the gateway simulator in one process on the in-process "
                    "bus and a fresh SQLite store, seed a sample account, and print the transcripts of "
                    "scripted calls. KZ_AMQP_URL / KZ_STORE_URL, when set, put it on a real broker or store.")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--time-scale", type=float, default=0.05,
                        help="real seconds per simulated second of media (default 0.05; 1 = real time)")
    parser.add_argument("--audio-out", default=None, metavar="FILE",
                        help="write what the callers heard (prompts, greetings, beeps, messages, call after call) "
                             "to FILE as one 8 kHz mono 16-bit WAV")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from services.logging import configure
    from services.settings import Settings, SettingsError
    try:
        level = Settings.from_env().log_level
    except SettingsError as exc:
        print(f"kzvoice: {exc}")
        return 2
    configure("warning" if level == "info" else level, "text")
    return asyncio.run(run_demo(as_json=args.json, time_scale=args.time_scale, audio_out=args.audio_out))
