"""Message audio by signed URL in check playback (media.md 6.5; MED-034 ... MED-036), with the fake
call and the memory store: ``deps.message_audio`` is the service's ``MessageUrls``.

The same behaviours through voicemail_svc, the gateway simulator and the real broker, with the URLs
fetched over HTTP: tests/integration/voicemail/test_check_media.py.
"""

from __future__ import annotations

import itertools
import logging

from services.media.audio import AudioResolver
from services.media.signer import Purpose
from services.store import layout
from voicemail_svc.check.machine import open_check
from voicemail_svc.message_audio import MessageUrls

from tests.support.fake_call import Caller
from tests.support.voicemail_fixture import ACCOUNT, BOX, message_doc

BASE = "http://voicemail.test:8090"


async def play_first_message(stage, caller: Caller | None = None):
    """As the owner: press 1 (new messages), hang up at the message menu (or follow ``caller``)."""
    call = stage.call(caller or Caller().on_prompt("vm-main_menu", press="1")
                      .on_prompt("vm-message_menu", hangup=True))
    deps = stage.deps()
    session = await open_check(deps, call, stage.info(owner=True), {"action": "check", "id": BOX}, box=None)
    await session.run()
    await deps.background.drain(5.0)
    return call


def sent(call, application: str) -> list[dict]:
    """The commands of one kind the session sent, queued ones included."""
    items = [item for c in call.commands for item in (c.get("Commands") or [c])]
    return [item for item in items if isinstance(item, dict) and item.get("Application-Name") == application]


def message_plays(call) -> list[dict]:
    return [item for item in sent(call, "play") if str(item.get("Media-Name", "")).startswith("http")]


def external(message: dict, handler: dict) -> dict:
    """``message`` with its audio moved behind a storage handler (no ``_attachments``)."""
    name = message["media_filename"]
    doc = {k: v for k, v in message.items() if k != "_attachments"}
    doc["pvt_attachments"] = {name: {"content_type": "audio/mpeg", "length": 0, "stub": False, "handler": handler}}
    return doc


async def test_med_034_a_message_plays_from_a_fresh_signed_url_of_its_own_attachment(stage):
    message = await stage.add_message()
    call = await play_first_message(stage)
    [play] = message_plays(call)
    url = play["Media-Name"]
    assert url.startswith(f"{BASE}/media/") and url.endswith("/" + message["media_filename"])
    assert f"/{ACCOUNT}/" not in url and "@" not in url and "5984" not in url
    grant = stage.media.signer.check(url.split("/media/")[1].split("/")[0], Purpose.PLAY)
    assert (grant.db, grant.doc_id, grant.attachment) == (layout.modb_of_doc_id(ACCOUNT, message["_id"]),
                                                         message["_id"], message["media_filename"])
    # the play keeps what it had: keys stop it, it does not loop
    assert play["Endless-Playback"] is False and "1" in play["Terminators"]


async def test_med_034_every_play_of_a_message_is_signed_afresh(stage):
    message = await stage.add_message()
    stage.media.signer.clock = itertools.count(1_700_000_000, 60).__next__     # a minute passes per URL
    # 2 replays the message (voicemail.md 10.2)
    call = await play_first_message(stage, Caller().on_prompt("vm-main_menu", press="1")
                                    .on_prompt("vm-message_menu", press="2")
                                    .on_prompt("vm-message_menu", hangup=True))
    urls = [c["Media-Name"] for c in message_plays(call)]
    assert len(urls) == 2 and len(set(urls)) == 2
    tokens = [url.split("/media/")[1].split("/")[0] for url in urls]
    stage.media.signer.clock = lambda: 1_700_000_000
    grants = [stage.media.signer.check(token, Purpose.PLAY) for token in tokens]
    assert [g.doc_id for g in grants] == [message["_id"]] * 2
    assert grants[1].expires - grants[0].expires == 60


async def test_med_035_unreadable_audio_is_left_out_and_the_rest_still_plays(stage, caplog):
    message = await stage.put(external(message_doc(), {"kz_att_s3": {"bucket": "vm"}}))
    caplog.set_level(logging.INFO)
    call = await play_first_message(stage)
    assert message_plays(call) == []
    first = call.heard.index("vm-message_number")
    assert call.heard[first:first + 2] == ["vm-message_number", "say:1"]
    assert call.heard[first + 2] == "vm-received" and call.heard[first + 4] == "vm-message_menu"
    # the count announcement, the position, the envelope's time
    assert [c.get("Type") for c in sent(call, "say")] == ["messages", "number", "current_date_time"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "unsupported_storage:kz_att_s3" in warnings[0] and message["_id"] in warnings[0]
    assert message["media_filename"] in warnings[0]


async def test_med_035_a_broken_link_is_left_out_too(stage, caplog):
    link = {"kz_att_link": {"att_dbname": layout.account_db(ACCOUNT, encoded=True), "att_docid": "gone"}}
    message = await stage.put(external(message_doc(), link))
    caplog.set_level(logging.INFO)
    call = await play_first_message(stage)
    assert message_plays(call) == [] and "vm-message_menu" in call.heard
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "not_found" in warnings[0] and message["_id"] in warnings[0], warnings


async def test_med_036_a_linked_message_plays_its_own_name_and_the_url_leads_to_the_target(stage):
    account_db = layout.account_db(ACCOUNT)
    await stage.store.put_attachment(account_db, "old-media", "old.mp3", b"B_P audio", content_type="audio/mpeg",
                                     rev=None)
    link = {"kz_att_link": {"att_dbname": layout.account_db(ACCOUNT, encoded=True), "att_docid": "old-media"}}
    message = await stage.put(external(message_doc(), link))
    call = await play_first_message(stage)
    [play] = message_plays(call)
    grant = stage.media.signer.check(play["Media-Name"].split("/media/")[1].split("/")[0], Purpose.PLAY)
    assert (grant.doc_id, grant.attachment) == (message["_id"], message["media_filename"])
    # what the HTTP side does with that grant: resolve again, follow the link, stream the target's bytes
    resolver = AudioResolver(stage.store)
    audio = await resolver.resolve(grant.db, grant.doc_id, grant.attachment)
    assert b"".join([chunk async for chunk in resolver.open(audio)]) == b"B_P audio"


async def test_a_message_id_without_its_month_gets_no_url_and_one_warning(stage, caplog):
    caplog.set_level(logging.INFO)
    urls = MessageUrls(AudioResolver(stage.store), stage.media.endpoint)
    assert await urls.url_for(ACCOUNT, {"_id": "no-month-here"}) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no-month-here" in warnings[0]
