"""Our upload endpoint (bus.md 5.3, ours): signed, single-attachment, expiring, single-use URLs.

The recording's normal path (gateway ``send_http`` -> this endpoint -> the store) is exercised by
every compose test; here the endpoint of a running voicemail_svc is hit directly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import aiohttp
import pytest

from services.media.signer import Purpose, UrlSigner
from services.store import layout
from voicemail_svc.boxes.mailbox import CallInfo
from voicemail_svc.storage.messages import new_message_doc
from voicemail_svc.storage.spool import Pending, StoredMessage

pytestmark = pytest.mark.integration


async def expect_message(env) -> dict:
    """A message waiting for its audio, as compose leaves it before send_http (nothing stored yet)."""
    deps = env.voicemail.deps
    box = await deps.mailboxes.get(env.ids.account, env.ids.box)
    info = CallInfo.from_call({"Call-ID": "c1", "Account-ID": env.ids.account, "From": "1001@acme.example.com",
                               "To": "3456@acme.example.com"})
    doc = new_message_doc(box=box, call=info, attachment="a" * 32 + ".mp3", length_ms=1000, timezone="UTC")
    deps.spool.expect(Pending(account_id=env.ids.account, doc=doc, attachment=doc["media_filename"],
                              stored=StoredMessage(account_id=env.ids.account, box_id=box.id,
                                                   message_id=doc["_id"], length_ms=1000)))
    return doc


async def put(url: str, body: bytes) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.put(url, data=body, headers={"Content-Type": "audio/mpeg"}) as response:
            return response.status


async def attachment(env, doc) -> bytes | None:
    try:
        return await env.store.get_attachment(layout.modb_of_doc_id(env.ids.account, doc["_id"]), doc["_id"],
                                              doc["media_filename"])
    except Exception:
        return None


async def test_a_url_stores_once_and_is_refused_the_second_time(vm_env):
    env = await vm_env()
    doc = await expect_message(env)
    uploads = env.voicemail.deps.uploads
    url = uploads.url_for(env.ids.account, doc["_id"], doc["media_filename"])
    assert await put(url, b"first audio") == 201
    assert await attachment(env, doc) == b"first audio"
    assert await put(url, b"second audio") == 403                  # reused
    assert await attachment(env, doc) == b"first audio"


async def test_forged_urls_store_nothing(vm_env):
    env = await vm_env()
    doc = await expect_message(env)
    uploads = env.voicemail.deps.uploads
    url = uploads.url_for(env.ids.account, doc["_id"], doc["media_filename"])
    base, _, rest = url.partition("/vm/upload/")
    token, _, name = rest.partition("/")
    payload, _, signature = token.partition(".")
    # 1. another document named in the payload, the old signature kept
    grant = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    grant["id"] = layout.modb_doc_id()
    forged = base64.urlsafe_b64encode(json.dumps(grant).encode()).rstrip(b"=").decode()
    assert await put(f"{base}/vm/upload/{forged}.{signature}/{name}", b"x") == 403
    # 2. a signature made with another secret
    other = UrlSigner("not-our-secret").issue(Purpose.UPLOAD_MESSAGE, db=grant["db"], doc_id=doc["_id"],
                                              attachment=name, ttl_s=900, single_use=True)
    assert await put(f"{base}/vm/upload/{other}/{name}", b"x") == 403
    # 3. the right token for another attachment name
    assert await put(f"{base}/vm/upload/{token}/{'b' * 32}.mp3", b"x") == 403
    # 4. any other path
    assert await put(f"{base}/store/{name}", b"x") == 403
    assert await attachment(env, doc) is None
    # the genuine URL was not used up by the refusals
    assert await put(url, b"audio") == 201


async def test_an_expired_url_stores_nothing(vm_env):
    env = await vm_env()
    doc = await expect_message(env)
    url = env.voicemail.deps.uploads.url_for(env.ids.account, doc["_id"], doc["media_filename"], ttl_s=-1)
    assert await put(url, b"late audio") == 403
    assert await attachment(env, doc) is None
    assert env.voicemail.deps.uploads.refused >= 1


async def test_urls_expire_fifteen_minutes_after_issue_by_default(vm_env):
    env = await vm_env()
    uploads = env.voicemail.deps.uploads
    token = uploads.url_for(env.ids.account, "202403-" + "c" * 32, "x.mp3").split("/vm/upload/")[1].split("/")[0]
    grant = uploads.tokens.check(token, Purpose.UPLOAD_MESSAGE)
    assert 14 * 60 < grant.expires - time.time() <= 15 * 60 + 1


async def test_med_029_a_stream_url_token_uploads_nothing(vm_env):
    """The upload half of MED-029: the service's one signer also signs Stream-URLs (purpose
    ``play``); such a token, and a media upload's, opens no message upload."""
    env = await vm_env()
    doc = await expect_message(env)
    uploads = env.voicemail.deps.uploads
    name = doc["media_filename"]
    modb = layout.modb_of_doc_id(env.ids.account, doc["_id"])
    play = uploads.signer.issue(Purpose.PLAY, db=modb, doc_id=doc["_id"], attachment=name, ttl_s=7200)
    assert await put(f"{uploads.base_url}/vm/upload/{play}/{name}", b"x") == 403
    media = uploads.media_url_for(modb, doc["_id"], name)
    assert await put(media.replace("/vm/upload-media/", "/vm/upload/"), b"x") == 403
    assert await put(media, b"x") == 404               # a valid media token, but no greeting is expected
    assert await attachment(env, doc) is None
    assert await put(uploads.url_for(env.ids.account, doc["_id"], name), b"audio") == 201


async def test_the_same_upload_twice_at_once_is_stored_once(vm_env):
    """A gateway that sends the same PUT again while the first is being stored (its own retry after
    a timeout) gets 403 for the second; the message is stored once, with the first upload's audio."""
    env = await vm_env()
    doc = await expect_message(env)
    url = env.voicemail.deps.uploads.url_for(env.ids.account, doc["_id"], doc["media_filename"])
    statuses = await asyncio.gather(put(url, b"audio once"), put(url, b"audio once"))
    assert sorted(statuses) == [201, 403]
    assert await attachment(env, doc) == b"audio once"
    assert [m["_id"] for m in await env.messages()] == [doc["_id"]]
    assert env.voicemail.deps.spool.state(doc["_id"]) == "stored"
