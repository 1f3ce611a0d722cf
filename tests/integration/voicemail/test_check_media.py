"""Check playback plays each message from a signed URL (media.md 6.5; MED-034 ... MED-036), through the
real stack: config_svc and voicemail_svc on the real broker, the gateway simulator as the caller's
side.  The test GETs the URLs the ``play`` commands name, as FreeSWITCH would.

M1 is a message with its audio in ``_attachments``; M2 a migrated one whose ``pvt_attachments``
entry links (``kz_att_link``) to a media document P of the account; M3 one whose audio sits in S3.
"""

from __future__ import annotations

import base64
import logging
import secrets
import socket

import aiohttp
import pytest

from gateway_sim import Script
from services.store import layout
from tests.integration.voicemail.conftest import put_doc

pytestmark = pytest.mark.integration


def public_url() -> str:
    """A KZ_PUBLIC_URL on a free port of this machine (the upload listener binds its port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def put_message(env, *, audio: bytes | None = None, handler: dict | None = None) -> dict:
    """A new message of the box, an hour old: its audio inline (``audio``) or behind ``handler``."""
    when = layout.now_gregorian() - 3600
    modb = layout.modb_at(env.ids.account, when)
    await env.store.create_db(modb)
    doc_id, name = layout.modb_doc_id(when), f"{secrets.token_hex(16)}.mp3"
    doc = {"_id": doc_id, "name": "a message", "source_type": "voicemail", "source_id": env.ids.box,
           "media_filename": name,
           "metadata": {"media_id": doc_id, "folder": "new", "timestamp": when, "length": 3000,
                        "from": "1001@acme.example.com", "to": "3456@acme.example.com"}}
    if audio is not None:
        doc["_attachments"] = {name: {"content_type": "audio/mpeg", "data": base64.b64encode(audio).decode()}}
    else:
        doc["pvt_attachments"] = {name: {"content_type": "audio/mpeg", "length": 0, "stub": False,
                                         "handler": handler}}
    layout.stamp(doc, pvt_type="mailbox_message", db=modb, now=when)
    return await env.store.put(modb, doc)


async def check_new_messages(env):
    """The owner checks the box: new messages (1), and hangs up at the first message menu."""
    script = (Script().on_prompt("vm-enter_pass", press="1234#").on_prompt("vm-main_menu", press="1")
              .on_prompt("vm-message_menu", hangup=True))
    return await env.place({"action": "check", "id": env.ids.box}, owner=True, script=script)


def url_plays(out) -> list[dict]:
    return [c for c in out.commands("play") if str(c.get("Media-Name", "")).startswith("http")]


async def get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_med_034_the_message_plays_from_a_signed_url_under_kz_public_url(vm_env):
    base = public_url()
    env = await vm_env(public_url=base)
    b_m1 = b"B_M1|" + secrets.token_bytes(3000)
    m1 = await put_message(env, audio=b_m1)
    out = await check_new_messages(env)
    [play] = url_plays(out)
    url = play["Media-Name"]
    assert url.startswith(base + "/media/") and url.endswith("/" + m1["media_filename"])
    assert f"/{env.ids.account}/{m1['_id']}" not in url and "@" not in url      # no media_mgr name, no credentials
    assert await get(url) == (200, "audio/mpeg", b_m1)
    start = out.prompts.index("vm-message_number")
    assert out.prompts[start:start + 4] == ["vm-message_number", "say:1", m1["_id"], "vm-received"]


async def test_med_035_audio_in_external_storage_is_left_out_with_one_warning(vm_env, caplog):
    env = await vm_env(public_url=public_url())
    m3 = await put_message(env, handler={"kz_att_s3": {"bucket": "vm"}})
    caplog.set_level(logging.INFO)
    out = await check_new_messages(env)
    assert url_plays(out) == []
    start = out.prompts.index("vm-message_number")
    assert out.prompts[start:start + 3] == ["vm-message_number", "say:1", "vm-received"]
    assert "vm-message_menu" in out.prompts[start:]
    dates = [c for c in out.commands("say") if c.get("Type") == "current_date_time"]
    assert len(dates) == 1                                              # the envelope still plays
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and m3["_id"] in r.getMessage()]
    assert len(warnings) == 1 and "unsupported_storage:kz_att_s3" in warnings[0], warnings


async def test_med_036_a_linked_message_plays_the_link_targets_bytes(vm_env):
    env = await vm_env(public_url=public_url())
    b_p = b"B_P|" + secrets.token_bytes(2000)
    target = await put_doc(env.store, env.ids.db, {
        "_id": secrets.token_hex(16), "name": "old message audio", "media_source": "recording",
        "_attachments": {"old.mp3": {"content_type": "audio/mpeg", "data": base64.b64encode(b_p).decode()}}},
        "media")
    link = {"kz_att_link": {"att_dbname": layout.account_db(env.ids.account, encoded=True),
                            "att_docid": target["_id"]}}
    m2 = await put_message(env, handler=link)
    out = await check_new_messages(env)
    [play] = url_plays(out)
    assert play["Media-Name"].endswith("/" + m2["media_filename"])     # the message's own name; FreeSWITCH sees .mp3
    assert await get(play["Media-Name"]) == (200, "audio/mpeg", b_p)
