"""The stage for the check tests (VM-066 ... VM-140): the spec's default fixture of voicemail.md 11
on the real broker.

* a memory store seeded with account ``acme.example.com``, user ``U``, device ``D``
  (``dev1``) and box ``B`` (3456, PIN 1234, set up, owned by ``U``);
* config_svc on that store (so configuration is read the real way), with short
  ``call_command`` timers so idle menus do not take seconds;
* the gateway simulator and a router that parks the call, then ``run_check`` on
  the call with the service's own dependencies (``deps.Deps``);
* taps on ``presence`` (MWI) and ``notifications``.

``Stage.check(script, ...)`` places one call, runs check on it (or, when
``data`` names another action, that action through ``app.Actions``),
hangs up and returns ``Outcome`` (result, prompts heard, says, commands, MWI
and notifications seen; a message's Stream-URL shows as the message id in the prompts).  ``voicemail_new`` is answered ``completed``
(``Stage.notify_status``), as the spec's default notifier does.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway_sim import Endpoint, Gateway, GatewayConfig, Script
from services.bus import unique_queue_name
from services.config.announce import Announcer
from services.exchanges import NOTIFICATIONS, PRESENCE
from services.media.audio import AudioResolver
from services.media.signer import Purpose, UrlSigner
from services.messages.catalogue import NOTIFY_UPDATE
from services.runtime import ServiceContext
from services.settings import Settings
from services.store import layout
from services.store.memory import MemoryStore
from voicemail_svc.app import Actions, action_name, callflow_finder
from voicemail_svc.boxes.mailbox import CallInfo, Mailboxes
from voicemail_svc.call_control import Timers
from voicemail_svc.check import run_check
from voicemail_svc.deps import Deps
from voicemail_svc.notify.mwi import Mwi
from voicemail_svc.notify.notifier import Notifier
from voicemail_svc.storage.messages import Messages
from voicemail_svc.storage.recorded_media import RecordedMedia
from voicemail_svc.storage.spool import Spool
from voicemail_svc.storage.upload import UploadServer

from tests.integration.voicemail.conftest import Bound, CommandLog, Router, make_bus
from tests.support import voicemail_fixture
from tests.support.message_media import MessageMedia
from tests.support.voicemail_fixture import (ACCOUNT, BOX, BOX_7000, DB, DEVICE, REALM, USER,  # noqa: F401
                                             box_doc, message_doc)

STRANGER = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

TIMERS = Timers(store_file_tries=2, store_file_timeout_ms=3000, store_file_retry_delay_ms=50)
FAST_CALL_COMMAND = {"collect_timeout": 400, "interdigit_timeout": 300}
MEDIA = {"say": 0.5}


@dataclass
class Outcome:
    result: Any
    prompts: list[str]
    call_result: Any
    mwi: list[dict]
    notifications: list[dict]
    commands: list[dict] = field(default_factory=list)

    def says(self, type_: str | None = None) -> list[str]:
        return [c.get("Say-Text") for c in self.commands
                if c.get("Application-Name") == "say" and (type_ is None or c.get("Type") == type_)]

    def count(self, prompt: str) -> int:
        return self.prompts.count(prompt)

    def before(self, first: str, second: str) -> bool:
        return first in self.prompts and second in self.prompts[self.prompts.index(first):]

    def box_mwi(self, to: str = f"3456@{REALM}") -> list[dict]:
        return [b for b in self.mwi if b.get("Event-Name") == "mwi_update" and b.get("To") == to]


class Stage:
    def __init__(self, amqp_url: str, tmp_path) -> None:
        self.amqp_url = amqp_url
        self.tmp_path = tmp_path
        self.store = MemoryStore()
        self.system: dict[str, dict] = {"call_command": dict(FAST_CALL_COMMAND)}
        self.keys: dict[str, str] | None = None
        self.caller_owner: str | None = None          # Owner-ID of the calling endpoint
        self.caller_id_number = "356"
        self.kvs: dict[str, Any] = {}
        self.notify_status: str | None = "completed"

    # -- data ---------------------------------------------------------------------------------

    async def seed(self) -> None:
        await voicemail_fixture.seed(self.store)

    async def put(self, doc: dict[str, Any]) -> dict[str, Any]:
        return await voicemail_fixture.upsert(self.store, doc)

    async def add_callflow(self, numbers: list[str], flow: dict[str, Any]) -> dict[str, Any]:
        doc = {"_id": secrets.token_hex(16), "numbers": list(numbers), "flow": flow}
        return await self.put(layout.stamp(doc, pvt_type="callflow", db=DB))

    async def get(self, doc_id: str) -> dict[str, Any]:
        if "-" in doc_id and doc_id[:6].isdigit():
            return await self.store.get(layout.modb_of_doc_id(ACCOUNT, doc_id), doc_id)
        return await self.store.get(DB, doc_id)

    async def box(self, box_id: str = BOX) -> dict[str, Any]:
        return await self.store.get(DB, box_id)

    def set_system(self, category: str, path: str, value: Any) -> None:
        section = self.system.setdefault(category, {})
        *parents, last = path.split(".")
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = value

    async def _write_config(self) -> None:
        for category, values in self.system.items():
            await self.store.put(layout.SYSTEM_CONFIG_DB, {"_id": category, "default": values})
        if self.keys is not None:
            await self.store.put(layout.SYSTEM_CONFIG_DB, {"_id": "keys", "default": {"voicemail": self.keys}})

    # -- services -------------------------------------------------------------------------------

    async def start(self) -> "Stage":
        from config_svc.app import build as build_config
        from services.config.client import ConfigClient

        await self._write_config()
        settings = Settings(amqp_url=self.amqp_url, store_url="memory://", node="kzvoice@vmtest", zone="local")
        self.context = ServiceContext(settings, store=self.store)
        self.config_svc = build_config(self.context)
        await self.config_svc.start()
        self.gw_bus = await make_bus(self.amqp_url, "freeswitch")
        self.vm_bus = await make_bus(self.amqp_url, "callflow")
        self.gateway = Gateway(self.gw_bus, self.store, GatewayConfig(
            recording_dir=str(self.tmp_path / "recordings"), time_scale=0.01, route_timeout=0.6,
            post_hangup_linger=0.1, max_call_seconds=30.0, media_seconds=MEDIA))
        await self.gateway.start()
        self.router = await Router(self.vm_bus, ACCOUNT).start()
        self.config = await ConfigClient(self.vm_bus).start()
        self.mwi_seen: list[dict] = []
        self.notes_seen: list[dict] = []
        self.taps = await self.vm_bus.consumer(unique_queue_name("check-taps"), exclusive=True)
        await self.taps.bind(PRESENCE, "mwi_updates.#")
        await self.taps.bind(PRESENCE, "mwi_unsolicited_updates.#")
        await self.taps.bind(NOTIFICATIONS, "notifications.voicemail.*")

        async def tap(message) -> None:
            target = self.mwi_seen if message.spec.category == "presence" else self.notes_seen
            target.append(dict(message))
            # the notifier of voicemail.md 11: voicemail_new gets a notify_update (``completed``)
            if message.spec.name == "voicemail_new" and self.notify_status and message.server_id:
                await self.vm_bus.publish(NOTIFY_UPDATE, {"Msg-ID": message.msg_id, "Status": self.notify_status},
                                          to=message.server_id)

        self.taps.on_any(tap)
        await self.taps.start()
        mailboxes = Mailboxes(self.store, self.config)
        messages = Messages(self.store)
        mwi = Mwi(bus=self.vm_bus, mailboxes=mailboxes, messages=messages, config=self.config)
        self.notify_replies = await self.vm_bus.reply_queue("check-notify")
        notifier = Notifier(bus=self.vm_bus, replies=self.notify_replies, messages=messages, mailboxes=mailboxes,
                            mwi=mwi)
        # check saves no new message (the spool is not started), but the greetings it records are
        # uploaded: the upload endpoint listens
        spool = Spool(self.tmp_path / "spool", messages, on_stored=notifier.message_stored)
        audio = AudioResolver(self.store)
        recorded_media = RecordedMedia(self.store, Announcer(self.vm_bus), audio)
        self.uploads = uploads = await UploadServer(
            signer=UrlSigner(), sinks={Purpose.UPLOAD_MESSAGE: spool.receive,
                                       Purpose.UPLOAD_MEDIA: recorded_media.receive}).start()
        # messages play from signed URLs served here, as voicemail_svc serves them (media.md 6.5)
        self.media = await MessageMedia(self.store).start()
        # prompts and greetings resolve through media_req + GET (media.md 6.6): the media responder
        # voicemail_svc would host, on this store with the system prompts seeded
        from testkit.media import MediaServer, seed_system_prompts
        await seed_system_prompts(self.store)
        self.media_server = await MediaServer(self.vm_bus, self.store).start()
        self.deps = Deps(store=self.store, config=self.config, mailboxes=mailboxes, messages=messages, mwi=mwi,
                         notifier=notifier, uploads=uploads, spool=spool, recorded_media=recorded_media,
                         audio=audio, message_audio=self.media.message_audio,
                         find_callflow=callflow_finder(self.store), check=run_check)
        return self

    async def stop(self) -> None:
        await self.uploads.stop()
        await self.media.stop()
        await self.media_server.stop()
        await self.taps.stop(1.0)
        await self.notify_replies.close()
        await self.config.close()
        await self.router.stop()
        await self.gateway.stop()
        await self.config_svc.stop(1.0)
        await self.vm_bus.close()
        await self.gw_bus.close()
        await self.context.close()

    # -- one call ------------------------------------------------------------------------------------

    def endpoint(self) -> Endpoint:
        return Endpoint(account_id=ACCOUNT, realm=REALM, username="dev1", caller_id_name="Caller",
                        caller_id_number=self.caller_id_number, device_id=DEVICE,
                        owner_id=self.caller_owner or "")

    async def check(self, script: Script, *, data: dict[str, Any] | None = None, box=None,
                    quiet: float = 0.3) -> Outcome:
        data = {"action": "check", "id": BOX} if data is None else data
        call = await self.gateway.start_call(endpoint=self.endpoint(), dial="*97", script=script)
        win = await asyncio.wait_for(self.router.win_for(call.call_id), 5)
        call_info = {"Call-ID": call.call_id, "Control-Queue": win["Control-Queue"], "Account-ID": ACCOUNT,
                     "Account-DB": layout.account_db(ACCOUNT, encoded=True), "Language": "en-us",
                     "Switch-Nodename": self.gateway.node, "Caller-ID-Number": self.caller_id_number,
                     "Caller-ID-Name": "Caller", "From": f"dev1@{REALM}", "To": f"*97@{REALM}",
                     "Request": f"*97@{REALM}", "Authorizing-ID": DEVICE, "Authorizing-Type": "device",
                     "Key-Value-Store": dict(self.kvs)}
        if self.caller_owner:
            call_info["Owner-ID"] = self.caller_owner
        commands = CommandLog(self.vm_bus)
        bound = Bound(self.vm_bus, call_info, TIMERS, log=commands)
        control = await bound.start()
        try:
            if action_name(data) == "check":
                running = run_check(self.deps, control, CallInfo.from_call(call_info), data, box=box)
            else:
                running = Actions(self.deps).run(control, data, call_info)
            result = await asyncio.wait_for(running, 60)
        finally:
            if not control.hung_up:
                call.hangup()
            call_result = await call.finished(timeout=15)
            await bound.stop()
        await asyncio.sleep(quiet)          # late MWI and notifications
        return Outcome(result, self.media.labels(call_result.prompts), call_result, list(self.mwi_seen),
                       list(self.notes_seen), commands.sent)


@pytest.fixture
async def stage(amqp_url, tmp_path):
    s = Stage(amqp_url, tmp_path)
    await s.seed()
    yield s
    if hasattr(s, "context"):
        await s.stop()


def owner(stage: Stage) -> None:
    stage.caller_owner = USER
