"""The stored message, its notifications, after-notify actions and MWI (voicemail.md 3.1, 4.8, 7, 8;
VM-054 ... VM-065)."""

from __future__ import annotations

import re

import pytest

from gateway_sim import Script
from services.exchanges import NOTIFICATIONS, PRESENCE
from services.store import layout
from tests.integration.voicemail.conftest import seed_messages, validate_message_doc

pytestmark = pytest.mark.integration

# 2024-03-05 17:07:03 UTC
WHEN = 63876877623


def leave(speak: float = 3.0) -> Script:
    return Script().on_record_start(speak=speak, press="1").on_prompt("vm-review_recording", press="1")


async def one_message(env) -> dict:
    await env.settle()
    await env.wait_until(lambda: _has(env), what="a stored message")
    [doc] = await env.messages()
    return doc


async def _has(env) -> bool:
    return bool(await env.messages())


async def notified(env, *names: str) -> None:
    for name in names:
        await env.wait_until(lambda: env.named(name), what=name)


async def test_vm_054_message_document(vm_env):
    env = await vm_env(box={"timezone": "America/New_York"}, clock=lambda: WHEN)
    out = await env.place(script=leave(speak=4.0))
    doc = await one_message(env)
    assert re.match(r"^202403-[0-9a-f]{32}$", doc["_id"])
    assert doc["source_id"] == env.ids.box and doc["pvt_type"] == "mailbox_message"
    assert doc["name"] == "mailbox 3456 message 2024-03-05 12:7:3"
    metadata = doc["metadata"]
    assert metadata["folder"] == "new" and metadata["media_id"] == doc["_id"]
    assert metadata["timestamp"] == WHEN == doc["utc_seconds"]
    assert metadata["length"] == 4000 == out.call.recordings[0]["length_ms"]
    assert metadata["caller_id_number"] == "1001" and metadata["from"] == "1001@acme.example.com"
    assert metadata["call_id"] == out.call_id
    assert doc["pvt_account_db"] == layout.modb(env.ids.account, 2024, 3, encoded=True)
    validate_message_doc(doc)


async def test_vm_055_wav_extension(vm_env):
    env = await vm_env(box={"media_extension": "wav"})
    out = await env.place(script=leave())
    name = out.commands("record")[0]["Media-Name"]
    assert re.match(r"^[0-9a-f]{32}\.wav$", name)
    doc = await one_message(env)
    assert doc["media_filename"] == name and list(doc["_attachments"]) == [name]
    validate_message_doc(doc)


async def test_vm_056_account_extension_default(vm_env):
    env = await vm_env(account_config={"callflow": {"voicemail": {"extension": "mp4"}}})
    out = await env.place(script=leave())
    assert out.commands("record")[0]["Media-Name"].endswith(".mp4")


async def test_vm_057_voicemail_new_fields(vm_env):
    env = await vm_env()
    exact = await env.listen(NOTIFICATIONS, "notifications.voicemail.new")
    out = await env.place(script=leave(speak=2.0))
    doc = await one_message(env)
    await env.wait_until(lambda: exact, what="voicemail_new on notifications.voicemail.new")
    new = exact[0]
    assert new["Voicemail-Box"] == env.ids.box and new["Voicemail-ID"] == doc["_id"]
    assert new["Caller-ID-Number"] == "1001" and new["Caller-ID-Name"] == "Alice"
    assert new["Voicemail-Length"] == 2000
    assert isinstance(new["Voicemail-Timestamp"], int)
    assert abs(new["Voicemail-Timestamp"] - layout.now_gregorian()) < 120
    assert new["From-User"] == "1001" and new["To-User"] == "3456" and new["Call-ID"] == out.call_id
    assert new["Account-ID"] == env.ids.account
    validate_message_doc(doc)


async def test_vm_058_transcription_in_voicemail_new(vm_env):
    seen = []

    async def transcriber(account_id, doc):
        seen.append(doc["_id"])
        return {"result": "success", "text": "call me back"}

    env = await vm_env(box={"transcribe": True}, transcriber=transcriber)
    await env.place(script=leave())
    doc = await one_message(env)
    await notified(env, "voicemail_new")
    assert seen == [doc["_id"]]
    assert env.named("voicemail_new")[0]["Voicemail-Transcription"] == {"result": "success",
                                                                        "text": "call me back"}
    stored = await env.messages()
    assert stored[0]["transcription"]["text"] == "call me back"
    validate_message_doc(stored[0])


async def test_vm_059_save_after_notify(vm_env):
    env = await vm_env(box={"save_after_notify": True})
    await env.place(script=leave())
    await one_message(env)
    await notified(env, "mwi_update")
    [doc] = await env.messages()
    assert doc["metadata"]["folder"] == "saved"
    assert env.named("voicemail_saved") == []
    update = env.named("mwi_update")[-1]
    assert update["Messages-New"] == 0 and update["Messages-Saved"] == 1


async def test_vm_060_delete_after_notify_with_deleted_notification(vm_env):
    env = await vm_env(box={"delete_after_notify": True},
                       system={"callflow": {"voicemail": {"vm_delete_amqp": True}}})
    await env.place(script=leave())
    await one_message(env)
    await notified(env, "voicemail_deleted", "mwi_update")
    [doc] = await env.messages()
    assert doc["metadata"]["folder"] == "deleted" and not doc.get("pvt_deleted")
    deleted = env.named("voicemail_deleted")[0]
    assert deleted["Reason"] == "delete_after_notify" and deleted["Voicemail-ID"] == doc["_id"]
    assert env.named("mwi_update")[-1]["Messages-New"] == 0


async def test_vm_061_save_wins_over_delete(vm_env):
    env = await vm_env(box={"delete_after_notify": True, "save_after_notify": True})
    await env.place(script=leave())
    await one_message(env)
    await notified(env, "mwi_update")
    [doc] = await env.messages()
    assert doc["metadata"]["folder"] == "saved"


@pytest.mark.parametrize("status", ["failed", None])
async def test_vm_062_no_completed_reply_keeps_the_message_new(vm_env, status):
    env = await vm_env(box={"save_after_notify": True},
                       system={"notify": {"notify_publisher_timeout_ms": 300}})
    env.notify_status = status                   # None: the notifier never answers
    await env.place(script=leave())
    await one_message(env)
    await notified(env, "voicemail_saved", "mwi_update")
    [doc] = await env.messages()
    assert doc["metadata"]["folder"] == "new"


async def test_vm_063_voicemail_saved_after_voicemail_new(vm_env):
    env = await vm_env()
    exact = await env.listen(NOTIFICATIONS, "notifications.voicemail.saved")
    await env.place(script=leave())
    await one_message(env)
    await notified(env, "voicemail_saved")
    names = [m.spec.name for m in env.seen]
    assert names.index("voicemail_new") < names.index("voicemail_saved")
    await env.wait_until(lambda: exact, what="voicemail_saved on notifications.voicemail.saved")


async def test_vm_064_mwi_after_the_notification_exchange(vm_env):
    env = await vm_env(seed=lambda store, ids: seed_messages(store, ids, 2, folder="saved"))
    exact = await env.listen(PRESENCE, "mwi_updates.acme%2Eexample%2Ecom.3456")
    await env.place(script=leave())
    await env.settle()
    await notified(env, "mwi_update")
    update = env.named("mwi_update")[-1]
    assert update["To"] == "3456@acme.example.com"
    assert update["Messages-New"] == 1 and update["Messages-Saved"] == 2
    names = [m.spec.name for m in env.seen]
    assert names.index("voicemail_new") < names.index("voicemail_saved") < names.index("mwi_update")
    await env.wait_until(lambda: exact, what="mwi_update on its routing key")


async def test_vm_065_failed_upload_means_no_notification_and_no_mwi(vm_env):
    env = await vm_env(public_url="http://127.0.0.1:9", upload_port=0)    # nothing listens on port 9
    await env.place(script=leave())
    await env.settle()
    assert env.named("voicemail_new") == [] and env.named("mwi_update") == []
    # KAZOO leaves an attachment-less document behind; kzvoice writes the document only with its
    # audio, so nothing is stored and nothing is counted (spec README, "KAZOO defects we fix")
    assert await env.messages() == []
    counts = await env.voicemail.deps.messages.counts(env.ids.account, env.ids.box, retention_days=93)
    assert counts.total == 0
