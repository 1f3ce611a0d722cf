"""Compose with messages as KAZOO keeps them (media.md 4.5): the full-box check and MWI count every
message KAZOO's views count, whatever holds its audio (spec README, "KAZOO defects we fix";
voicemail.md 3.3, 3.5, 4.5, 7.1; VM-038, VM-064)."""

from __future__ import annotations

import pytest

from gateway_sim import Script
from services.messages.etf import ActionResult
from services.store import layout
from tests.integration.voicemail.test_compose_save import leave, notified
from tests.support.kazoo_messages import kazoo_message, link_target, put_message

pytestmark = pytest.mark.integration

TARGET = "0ld0media0000000000000000000000c"


def seed_kazoo(*kinds: tuple[str, str, int]):
    """A seed writing ``count`` messages per ``(audio, folder, count)``, an hour old and older."""
    async def seed(store, ids) -> None:
        await store.put(ids.db, link_target(ids.account, TARGET, b"old audio"))
        age = 3600
        for audio, folder, count in kinds:
            for _ in range(count):
                age += 1
                await put_message(store, ids.account, kazoo_message(
                    ids.account, ids.box, timestamp=layout.now_gregorian() - age, audio=audio, folder=folder,
                    link_to=TARGET))
    return seed


async def test_vm_038_a_box_full_of_messages_kept_outside_the_document_is_full(vm_env):
    env = await vm_env(seed=seed_kazoo(("plan", "new", 60), ("link", "saved", 20), ("none", "saved", 20),
                                       ("plan", "deleted", 5)))
    out = await env.place(script=Script())
    [full] = env.named("voicemail_full")
    assert full["Max-Message-Count"] == 100 and full["Message-Count"] == 100
    assert "vm-mailbox_full" in out.prompts
    assert out.commands("record") == [] and out.result == ActionResult("continue")


async def test_vm_064_mwi_counts_messages_wherever_their_audio_is(vm_env):
    env = await vm_env(seed=seed_kazoo(("plan", "new", 1), ("link", "new", 1), ("none", "saved", 1),
                                       ("inline", "saved", 1), ("plan", "deleted", 1)))
    await env.place(script=leave())
    await env.settle()
    await notified(env, "mwi_update")
    update = env.named("mwi_update")[-1]
    assert (update["Messages-New"], update["Messages-Saved"]) == (3, 2)     # the new message included
