"""Check with messages as KAZOO keeps them (media.md 4.5): every message is counted, announced and
listed whatever holds its audio (spec README, "KAZOO defects we fix"); forward copies the audio
from wherever the original keeps it, or refuses before anything is created (voicemail.md 5.5,
5.6, 5.8; VM-085, VM-092, VM-116, VM-119)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from services.store import layout
from tests.integration.voicemail.test_check_forward import messages_in, play_then, with_box_7000
from tests.integration.voicemail.test_check_support import ACCOUNT, BOX, BOX_7000, owner, stage  # noqa: F401
from tests.support.kazoo_messages import kazoo_message, link_target, put_message

pytestmark = pytest.mark.integration

TARGET = "0ld0media0000000000000000000000b"
OLD_AUDIO = b"ID3 the old media document's audio"


def ago(seconds: int) -> int:
    return layout.now_gregorian() - seconds


async def add(stage, audio: str, *, age_s: int = 3600, folder: str = "new") -> dict:
    if audio == "link":
        await stage.put(link_target(ACCOUNT, TARGET, OLD_AUDIO))
    doc = kazoo_message(ACCOUNT, BOX, timestamp=ago(age_s), audio=audio, folder=folder,
                        link_to=TARGET if audio == "link" else None)
    return await put_message(stage.store, ACCOUNT, doc)


async def test_vm_085_messages_on_a_storage_plan_a_link_or_without_audio_are_announced(stage):
    owner(stage)
    await add(stage, "plan", age_s=3600)
    await add(stage, "link", age_s=7200)
    await add(stage, "none", age_s=10800)
    await add(stage, "inline", age_s=4000, folder="saved")
    await add(stage, "plan", age_s=5000, folder="deleted")
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", hangup=True))
    i = out.prompts.index("vm-you_have")
    assert out.prompts[i:i + 6] == ["vm-you_have", "say:3", "vm-new_and", "say:1", "vm-saved_message",
                                    "vm-main_menu"]
    # the end-of-check MWI counts them the same way
    assert [(m["Messages-New"], m["Messages-Saved"]) for m in out.box_mwi()][-1] == (3, 1)


async def test_vm_092_a_message_whose_audio_is_missing_is_played_in_its_place(stage):
    """Newest first; the message without audio (KAZOO's leftover of a failed upload) keeps its
    place: its number, position, envelope and menu play (media.md 6.5)."""
    owner(stage)
    await add(stage, "none", age_s=3600)
    await add(stage, "plan", age_s=7 * 86400)
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="6")
                            .on_prompt("vm-message_menu", hangup=True))
    i = out.prompts.index("vm-message_number")
    assert out.prompts[i:i + 2] == ["vm-message_number", "say:1"]
    assert out.count("vm-message_number") == 2 and "say:2" in out.prompts
    assert out.count("vm-received") == 2 and out.count("vm-message_menu") == 2
    first, second = [int(text) for text in out.says("current_date_time")]
    assert first - second > 6 * 86400                    # newest first: the message without audio, then the week-old one


async def forward(stage, *, prepend: bool = False, intro: bool = False) -> object:
    if prepend:
        stage.set_system("callflow", "voicemail.vm_message_forward_type", "prepend_forward")
    script = play_then("3").on_prompt("vm-enter_forward_id", press="7000#")
    if prepend:
        script = script.on_prompt("vm-message_forwarding", press="1" if intro else "2")
        if intro:
            script = script.on_record_start(speak=1.0, press="#").on_prompt("vm-review_recording", press="1")
    await stage.start()
    return await stage.check(script.on_prompt("vm-main_menu", hangup=True))


def without(doc: dict, *keys: str) -> dict:
    return {k: v for k, v in doc.items() if k not in keys}


OWNED_BY_THE_COPY = ("_id", "_rev", "_attachments", "pvt_attachments", "source_id", "utc_seconds", "metadata",
                     "history", "name", "pvt_created", "pvt_modified", "pvt_account_db", "forward_join_error")


@pytest.mark.parametrize("audio", ["plan", "link"])
async def test_vm_116_forward_copies_the_pvt_attachments_entry(stage, audio):
    owner(stage)
    await with_box_7000(stage)
    original = await add(stage, audio)
    out = await forward(stage)
    assert "vm-forward_confirmed" in out.prompts
    [copy] = await messages_in(stage, BOX_7000)
    # the copy's audio is where the original's is: the same storage-plan entry, the same link
    assert copy["pvt_attachments"] == original["pvt_attachments"] and "_attachments" not in copy
    # and every field the copy does not own is the original's (KAZOO's own included)
    assert without(copy, *OWNED_BY_THE_COPY) == without(original, *OWNED_BY_THE_COPY)
    assert copy["history"] == [BOX] and copy["metadata"]["folder"] == "new"
    assert (await stage.get(original["_id"]))["metadata"]["folder"] == "saved"
    new = [n for n in out.notifications if n.get("Event-Name") == "voicemail_new"]
    assert [n["Voicemail-ID"] for n in new] == [copy["_id"]]


async def test_vm_116_forward_copies_inline_audio_bytes(stage):
    owner(stage)
    await with_box_7000(stage)
    original = await add(stage, "inline")
    out = await forward(stage)
    assert "vm-forward_confirmed" in out.prompts
    [copy] = await messages_in(stage, BOX_7000)
    name = original["media_filename"]
    assert list(copy["_attachments"]) == [name] and "pvt_attachments" not in copy
    modb = layout.modb_of_doc_id(ACCOUNT, copy["_id"])
    assert await stage.store.get_attachment(modb, copy["_id"], name) == b"ID3 inline audio"


async def test_vm_119_an_introduction_needs_the_audio_a_link_is_followed(stage):
    owner(stage)
    await with_box_7000(stage)
    original = await add(stage, "link")
    out = await forward(stage, prepend=True, intro=True)
    assert "vm-forward_confirmed" in out.prompts
    [copy] = await messages_in(stage, BOX_7000)
    name = original["media_filename"]
    # the audio is read through the link and stored with the copy (what a join is made from)
    assert list(copy["_attachments"]) == [name] and "pvt_attachments" not in copy
    modb = layout.modb_of_doc_id(ACCOUNT, copy["_id"])
    assert await stage.store.get_attachment(modb, copy["_id"], name) == OLD_AUDIO
    assert copy["forward_join_error"]


async def test_vm_119_an_introduction_to_audio_kzvoice_cannot_read_is_refused_before_recording(stage):
    owner(stage)
    await with_box_7000(stage)
    original = await add(stage, "plan")                  # kz_att_s3: external storage
    out = await forward(stage, prepend=True, intro=True)
    i = out.prompts.index("vm-message_forwarding")
    assert out.prompts[i + 1] == "vm-forward_abort"      # refused at once: no instructions, no tone
    assert not any(c.get("Application-Name") == "record" for c in out.commands)
    assert "vm-forward_confirmed" not in out.prompts
    assert await messages_in(stage, BOX_7000) == []      # nothing created
    assert (await stage.get(original["_id"]))["metadata"]["folder"] == "saved"      # 5.8 step 6


async def test_vm_116_a_message_without_audio_is_not_forwarded(stage):
    owner(stage)
    await with_box_7000(stage)
    original = await add(stage, "none")
    out = await forward(stage)
    i = out.prompts.index("vm-enter_forward_id")
    assert "vm-forward_abort" in out.prompts[i:] and "vm-forward_confirmed" not in out.prompts
    assert await messages_in(stage, BOX_7000) == []
    assert (await stage.get(original["_id"]))["metadata"]["folder"] == "saved"
