"""The stage of the voicemail unit tests: a session's real dependencies, without a broker.

``stage`` gives the spec's default fixture (voicemail.md 11) in a memory store:
account (realm ``acme.example.com``), owner ``USER`` with device ``DEVICE``,
box ``BOX`` (3456, PIN 1234, set up, owned by ``USER``), and

* ``stage.config``: a ``StaticConfig`` (tests/support) with ``stage.system``;
* ``stage.deps()``: the service's ``Deps`` on that store -- real boxes,
  messages, spool (not started), upload URLs and message audio URLs
  (``stage.media``: which message a URL plays); MWI and notifications
  recorded (``stage.mwi``, ``stage.notes``) instead of published; the callflow
  finder of app.py; a check hand-over that records the box it was given and
  runs the real check;
* ``stage.call(caller)``: a ``FakeCall`` (tests/support) whose uploads reach
  the upload endpoint (without HTTP) and through it the spool or the sink of
  recorded greetings, as the gateway's ``PUT`` does; ``stage.announced``: the
  ``configuration`` events that sink published.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

import pytest

from services.media.audio import AudioResolver
from services.media.signer import Purpose, UrlSigner
from services.store import layout
from services.store.memory import MemoryStore
from voicemail_svc.app import callflow_finder
from voicemail_svc.boxes.mailbox import CallInfo, Mailbox, Mailboxes
from voicemail_svc.deps import Deps
from voicemail_svc.storage.messages import Messages
from voicemail_svc.storage.recorded_media import RecordedMedia
from voicemail_svc.storage.spool import Spool, StoredMessage
from voicemail_svc.storage.upload import PATHS, UploadServer

from tests.support import voicemail_fixture
from tests.support.fake_call import Caller, FakeCall
from tests.support.message_media import MessageMedia
from tests.support.static_config import StaticConfig
from tests.support.voicemail_fixture import ACCOUNT, BOX, DEVICE, REALM, USER, CheckSpy, message_doc

CALLER_DEVICE = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"


@dataclass
class RecordingMwi:
    boxes: list[str] = field(default_factory=list)

    async def box_update(self, box: Mailbox) -> None:
        self.boxes.append(box.id)


@dataclass
class RecordingNotifier:
    stored: list[StoredMessage] = field(default_factory=list)
    full: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[tuple[str, str, str]] = field(default_factory=list)

    async def message_stored(self, stored: StoredMessage) -> None:
        self.stored.append(stored)

    async def voicemail_full(self, *, account_id: str, box_id: str, max_count: int, count: int,
                             account_db: str = "") -> None:
        self.full.append({"box_id": box_id, "max_count": max_count, "count": count})

    async def voicemail_deleted(self, doc: Mapping[str, Any], *, box_id: str, reason: str) -> None:
        self.deleted.append((doc["_id"], box_id, reason))


@dataclass
class RecordingAnnouncer:
    """Keeps the ``configuration`` events instead of publishing them: ``(action, database, doc id)``."""

    events: list[tuple[str, str, str]] = field(default_factory=list)

    async def doc_changed(self, action: str, *, database: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        self.events.append((action, database, doc["_id"]))
        return {}


class Stage:
    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.store = MemoryStore()
        self.system: dict[str, Any] = {}
        self.config = StaticConfig(self.system)
        self.mwi = RecordingMwi()
        self.notes = RecordingNotifier()
        self.check = CheckSpy()
        self.messages = Messages(self.store)
        self.spool = Spool(tmp_path / "spool", self.messages, on_stored=self.notes.message_stored)
        self.audio = AudioResolver(self.store)
        self.announced = RecordingAnnouncer()
        self.recorded_media = RecordedMedia(self.store, self.announced, self.audio)
        self.uploads = UploadServer(signer=UrlSigner("unit"), sinks={Purpose.UPLOAD_MESSAGE: self.spool.receive,
                                                                      Purpose.UPLOAD_MEDIA: self.recorded_media.receive})
        self.media = MessageMedia(self.store)       # message audio by signed URL (not served here)
        self.uploaded: list[str] = []
        self.upload_bytes = b"ID3 audio"

    async def seed(self) -> "Stage":
        await voicemail_fixture.seed(self.store)
        return self

    def set(self, category: str, path: str, value: Any) -> None:
        """A system configuration value, e.g. ``stage.set("callflow", "voicemail.max_login_attempts", 2)``."""
        section = self.system.setdefault(category, {})
        *parents, last = path.split(".")
        for part in parents:
            section = section.setdefault(part, {})
        section[last] = value

    async def put(self, doc: dict[str, Any]) -> dict[str, Any]:
        return await voicemail_fixture.upsert(self.store, doc)

    async def box(self, box_id: str = BOX) -> dict[str, Any]:
        return await self.store.get(voicemail_fixture.DB, box_id)

    async def mailbox(self, box_id: str = BOX) -> Mailbox:
        found = await Mailboxes(self.store, self.config).get(ACCOUNT, box_id)
        assert found is not None
        return found

    async def add_message(self, *, folder: str = "new", age_s: int = 3600, caller: str = "1001",
                          box_id: str = BOX) -> dict[str, Any]:
        return await self.put(message_doc(box_id, folder=folder, age_s=age_s, caller=caller))

    async def add_callflow(self, numbers: list[str], flow: dict[str, Any]) -> None:
        doc = {"_id": secrets.token_hex(16), "numbers": list(numbers), "flow": flow}
        await self.put(layout.stamp(doc, pvt_type="callflow", db=voicemail_fixture.DB))

    async def folders(self, box_id: str = BOX) -> dict[str, str]:
        """Message id -> folder, for every stored message of the box."""
        listing = await self.messages.listing(ACCOUNT, box_id, retention_days=93)
        return {doc["_id"]: doc["metadata"]["folder"] for doc in listing}

    def deps(self) -> Deps:
        mailboxes = Mailboxes(self.store, self.config)
        return Deps(store=self.store, config=self.config, mailboxes=mailboxes, messages=self.messages,
                    mwi=self.mwi, notifier=self.notes, uploads=self.uploads, spool=self.spool,
                    recorded_media=self.recorded_media, audio=self.audio, message_audio=self.media.message_audio,
                    find_callflow=callflow_finder(self.store), check=self.check, clock=layout.now_gregorian)

    def info(self, *, owner: bool = False, caller_id_number: str = "1001") -> CallInfo:
        call = {"Call-ID": secrets.token_hex(8), "Account-ID": ACCOUNT, "Caller-ID-Number": caller_id_number,
                "Caller-ID-Name": "Caller", "From": f"1001@{REALM}", "To": f"3456@{REALM}",
                "Request": f"3456@{REALM}", "Language": "en-us",
                "Authorizing-ID": DEVICE if owner else CALLER_DEVICE, "Authorizing-Type": "device"}
        if owner:
            call["Owner-ID"] = USER
        return CallInfo.from_call(call)

    def call(self, caller: Caller | None = None, **options: Any) -> FakeCall:
        options.setdefault("uploader", self._upload)
        return FakeCall(caller, account_id=ACCOUNT, **options)

    async def _upload(self, file_name: str, url: str) -> None:
        """What the gateway's PUT does: the upload endpoint checks the token and hands the audio to its sink."""
        path = urlsplit(url).path
        purpose = next(p for p, prefix in PATHS.items() if path.startswith(prefix))
        grant = self.uploads.signer.check(path.rsplit("/", 2)[-2], purpose)
        status = await self.uploads.take(path, self.upload_bytes, "audio/mpeg")
        assert status == 201, f"upload of {file_name} to {path} answered {status}"
        self.uploaded.append(grant.doc_id)


@pytest.fixture
async def stage(tmp_path) -> Stage:
    return await Stage(tmp_path).seed()
