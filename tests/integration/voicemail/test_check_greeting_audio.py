"""Greetings, names and temporary greetings recorded by phone are stored with their audio
(voicemail.md 5.9.2; media.md 6.2; VM-122, VM-124, VM-128).

The gateway simulator uploads the recording to the single-use ``UPLOAD_MEDIA`` URL it is
handed; the media document then holds exactly the bytes the gateway recorded, as its only
attachment, a ``configuration`` event announces it, and the next caller's greeting
(``/<account>/<media id>``) resolves, through the media responder, to those bytes.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gateway_sim import Script
from services.bus import unique_queue_name
from services.exchanges import CONFIGURATION
from services.media.answers import Answers
from services.media.audio import AudioResolver
from services.media.endpoint import MediaEndpoint, StandaloneSite
from services.media.prompts import PromptLookup
from services.media.responder import MediaResponder
from services.messages import catalogue as m
from tests.integration.voicemail.test_check_config import record_and, to_config
from tests.integration.voicemail.test_check_support import ACCOUNT, BOX, DB, USER, owner, stage  # noqa: F401

pytestmark = pytest.mark.integration


class MediaSide:
    """A media responder and its /media/ site on the stage's store and signer, as voicemail_svc
    hosts them, plus a recorder of the configuration events about media documents."""

    def __init__(self, stage) -> None:
        self.stage = stage
        self.events: list[dict] = []

    async def start(self) -> "MediaSide":
        stage = self.stage
        site_url = ""
        resolver = AudioResolver(stage.store)
        self.endpoint = MediaEndpoint(resolver, stage.uploads.signer, base_url=lambda: site_url, ttl_s=7200)
        self.site = await StandaloneSite(self.endpoint).start()
        site_url = self.site.url
        self.responder = await MediaResponder(stage.vm_bus, resolver, self.endpoint,
                                              PromptLookup(stage.store, stage.config), answers=Answers()).start()
        self.watch = await stage.vm_bus.consumer(unique_queue_name("media-events"), exclusive=True)
        await self.watch.bind(CONFIGURATION, "*.*.media.*")

        async def keep(message) -> None:
            self.events.append(dict(message))

        for spec in m.DOC_CHANGES.values():
            self.watch.on(spec, keep)
        await self.watch.start()
        return self

    async def stop(self) -> None:
        await self.watch.stop(1.0)
        await self.responder.stop(1.0)
        await self.site.stop()

    async def bytes_of(self, media_name: str) -> bytes:
        """What a gateway gets for ``media_name``: the responder's Stream-URL, then a GET of it."""
        answer = await self.responder.answer(media_name)
        assert answer.ok, f"{media_name}: {answer.code}/{answer.message}"
        async with aiohttp.ClientSession() as http:
            async with http.get(answer.stream_url) as response:
                assert response.status == 200
                return await response.read()

    async def event_for(self, doc_id: str, name: str, timeout: float = 5.0) -> dict:
        for _ in range(int(timeout / 0.02)):
            found = [e for e in self.events if e.get("ID") == doc_id and e.get("Event-Name") == name]
            if found:
                return found[-1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name} for media {doc_id}; seen {self.events}")


@pytest.fixture
async def media(stage):
    sides: list[MediaSide] = []

    async def start() -> MediaSide:
        sides.append(await MediaSide(stage).start())
        return sides[-1]

    yield start
    for side in sides:
        await side.stop()


def recorded_bytes(stage, name: str) -> bytes:
    path = stage.gateway.recordings.path_for(name)
    assert path is not None, f"the gateway has no recording {name}"
    return path.read_bytes()


async def test_vm_122_a_greeting_recorded_by_phone_is_what_the_next_caller_hears(stage, media):
    owner(stage)
    await stage.start()
    side = await media()
    out = await stage.check(record_and(to_config(("vm-settings_menu", "1"))).on_prompt("vm-settings_menu",
                                                                                         hangup=True))
    assert out.before("vm-review_recording", "vm-saved")
    media_id = (await stage.box())["media"]["unavailable"]
    doc = await stage.get(media_id)
    name = doc["media_filename"]
    # the audio is in the media document, its only attachment, byte for byte what the gateway recorded
    assert list(doc["_attachments"]) == [name] and "pvt_attachments" not in doc
    uploaded = recorded_bytes(stage, name)
    assert len(uploaded) > 44 and await stage.store.get_attachment(DB, media_id, name) == uploaded
    event = await side.event_for(media_id, "doc_created")
    assert event["Type"] == "media" and event["Rev"] == doc["_rev"]
    # the next caller leaving a message hears it: /<account>/<media id>, resolved to those bytes
    stage.caller_owner = None
    compose = await stage.check(Script().on_prompt("vm-record_message", hangup=True), data={"id": BOX})
    plays = [c["Media-Name"] for c in compose.commands if c.get("Application-Name") == "play"]
    assert f"/{ACCOUNT}/{media_id}" in plays and "vm-person" not in compose.prompts
    assert await side.bytes_of(f"/{ACCOUNT}/{media_id}") == uploaded


async def test_vm_122_recording_the_greeting_again_replaces_its_audio(stage, media):
    owner(stage)
    await stage.start()
    side = await media()
    script = record_and(to_config(("vm-settings_menu", "1")))
    await stage.check(record_and(script.on_prompt("vm-settings_menu", press="1"))
                      .on_prompt("vm-settings_menu", hangup=True))
    media_id = (await stage.box())["media"]["unavailable"]
    doc = await stage.get(media_id)
    second = doc["media_filename"]
    # the same document, reused (5.9.2 step 1): only the second recording is left in it
    assert list(doc["_attachments"]) == [second]
    assert doc["name"] == f"mailbox 3456 {second}"
    edited = await side.event_for(media_id, "doc_edited")
    assert edited["Rev"] == doc["_rev"]
    assert await side.bytes_of(f"/{ACCOUNT}/{media_id}") == recorded_bytes(stage, second)


async def test_vm_124_a_recorded_name_is_stored_with_its_audio_for_the_owner(stage, media):
    owner(stage)
    await stage.start()
    side = await media()
    await stage.check(record_and(to_config(("vm-settings_menu", "2"))).on_prompt("vm-settings_menu", hangup=True))
    media_id = (await stage.get(USER))["media"]["name"]
    doc = await stage.get(media_id)
    assert doc["owner_id"] == USER and doc["name"] == "mailbox 3456 users name"
    assert await side.bytes_of(f"/{ACCOUNT}/{media_id}") == recorded_bytes(stage, doc["media_filename"])
    await side.event_for(media_id, "doc_created")


async def test_vm_128_a_temporary_greeting_recorded_by_phone_is_played_with_its_audio(stage, media):
    owner(stage)
    await stage.start()
    side = await media()
    await stage.check(record_and(to_config(("vm-settings_menu", "4"))).on_prompt("vm-settings_menu", hangup=True))
    media_id = (await stage.box())["media"]["temporary_unavailable"]
    doc = await stage.get(media_id)
    stage.caller_owner = None
    compose = await stage.check(Script().on_prompt("vm-record_message", hangup=True), data={"id": BOX})
    assert f"/{ACCOUNT}/{media_id}" in [c.get("Media-Name") for c in compose.commands]
    assert await side.bytes_of(f"/{ACCOUNT}/{media_id}") == recorded_bytes(stage, doc["media_filename"])


async def test_a_greeting_whose_upload_fails_keeps_the_previous_one(stage):
    """The gateway cannot reach the upload endpoint: nothing is written, ``vm-deleted`` says the
    recording is gone, and the settings menu comes back (ours, docs/deviations.md)."""
    owner(stage)
    await stage.start()
    await stage.uploads.stop()                    # nothing listens at the upload URLs any more
    out = await stage.check(record_and(to_config(("vm-settings_menu", "1"))).on_prompt("vm-settings_menu",
                                                                                         hangup=True))
    i = out.prompts.index("vm-review_recording")
    assert out.prompts[i + 1:i + 3] == ["vm-deleted", "vm-settings_menu"]
    assert not (await stage.box()).get("media", {}).get("unavailable")
    assert not [row for row in await stage.store.all_docs(DB, include_docs=True)
                if row["doc"].get("pvt_type") == "media"]
