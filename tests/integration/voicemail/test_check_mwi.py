"""Check: MWI and presence (voicemail.md 6.3, 7; VM-134 ... VM-140).

VM-134 ... VM-137 and VM-140 run on the check stage (MWI published when a check
session leaves the main menu); VM-138 and VM-139 go through the whole voicemail
service (``app.py`` and its ``mwi_query`` consumer) with a presence ``mwi_query``
published on the real broker.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from gateway_sim import Script
from services.bus import unique_queue_name
from services.exchanges import PRESENCE
from services.messages import catalogue as m
from services.store import layout
from tests.integration.voicemail.conftest import REALM as VM_REALM, seed_messages
from tests.integration.voicemail.test_check_support import (BOX_7000, DB, REALM, box_doc, message_doc,  # noqa: F401
                                                             owner, stage)

pytestmark = pytest.mark.integration

LEAVE_AT_MAIN = Script().on_prompt("vm-main_menu", hangup=True)


async def test_vm_134_box_mwi_routing_key_call_id_and_no_urgent_counts(stage):
    owner(stage)
    await stage.start()
    exact = []
    queue = await stage.vm_bus.consumer(unique_queue_name("mwi-exact"), exclusive=True)
    await queue.bind(PRESENCE, "mwi_updates.acme%2Eexample%2Ecom.3456")

    async def keep(message) -> None:
        exact.append(message)

    queue.on_any(keep)
    await queue.start()
    try:
        await stage.check(LEAVE_AT_MAIN)
        for _ in range(100):
            if exact:
                break
            await asyncio.sleep(0.05)
    finally:
        await queue.stop(1.0)
    assert exact, "no mwi_update arrived on presence with routing key mwi_updates.acme%2Eexample%2Ecom.3456"
    update = exact[0]
    assert update.spec.name == "mwi_update"
    assert update["To"] == "3456@acme.example.com"
    assert update["Call-ID"] == hashlib.md5(b"3456@acme.example.com").hexdigest()
    for urgent in ("Messages-Urgent", "Messages-Urgent-Saved", "Messages-Waiting"):
        assert urgent not in update


@pytest.mark.parametrize("prefix", ["*98", None])
async def test_vm_135_extended_presence_id_only_with_the_prefix(stage, prefix):
    owner(stage)
    if prefix is not None:
        stage.set_system("callflow", "dialog_subscribed_mwi_prefix", prefix)
    await stage.start()
    out = await stage.check(LEAVE_AT_MAIN)
    updates = out.box_mwi()
    assert updates
    for update in updates:
        if prefix is None:
            assert "Extended-Presence-ID" not in update
        else:
            assert update["Extended-Presence-ID"] == "*983456"


async def test_vm_136_owner_device_gets_the_summed_counts_first(stage):
    owner(stage)
    await stage.put(box_doc(BOX_7000, mailbox="7000"))          # also owned by U
    await stage.put(message_doc())
    for age in (100, 200):
        await stage.put(message_doc(BOX_7000, age_s=age))
    await stage.start()
    out = await stage.check(LEAVE_AT_MAIN)
    unsolicited = [u for u in out.mwi if u.get("Event-Name") == "mwi_unsolicited_update"]
    assert unsolicited
    assert all(u["To"] == "dev1@acme.example.com" and u["Messages-New"] == 3 for u in unsolicited)
    box_updates = out.box_mwi()
    assert box_updates and box_updates[0]["Messages-New"] == 1
    # each box update is preceded by its owner's device update (7.1); our publisher sends them in turn
    assert out.mwi.index(unsolicited[0]) < out.mwi.index(box_updates[0])


async def test_vm_137_account_can_turn_unsolicited_updates_off(stage):
    owner(stage)
    await stage.put({"_id": "configs_callflow", "mwi_send_unsolicited_updates": False,
                     "pvt_type": "account_config"})
    await stage.start()
    out = await stage.check(LEAVE_AT_MAIN)
    assert out.box_mwi()
    assert [u for u in out.mwi if u.get("Event-Name") == "mwi_unsolicited_update"] == []


async def test_vm_140_messages_past_retention_are_not_counted_or_played(stage):
    owner(stage)
    old = await stage.put(message_doc(age_s=100 * 86400))
    recent = await stage.put(message_doc(age_s=60))
    await stage.start()
    out = await stage.check(Script().on_prompt("vm-main_menu", press="1").on_prompt("vm-message_menu", press="6")
                            .on_prompt("vm-message_menu", hangup=True))
    assert out.prompts[:4] == ["vm-you_have", "say:1", "vm-new_message", "vm-main_menu"]
    played = [p for p in out.prompts if "-" in p and p[:6].isdigit()]
    assert played == [recent["_id"], recent["_id"]]
    assert old["_id"] not in out.prompts
    assert all(u["Messages-New"] == 1 for u in out.box_mwi())


# -- mwi_query through the service (app.py registers MwiQueries) --------------------------------------

async def query(env, username: str) -> None:
    await env.bus.publish(m.MWI_QUERY, {"Username": username, "Realm": VM_REALM})


async def fix_accounts_copy(store, ids) -> None:
    """``seed_default`` stamps the ``accounts`` copy of the account with ``pvt_account_id: "accounts"``
    (the database it is in), so a realm lookup would name no account; KAZOO's copy carries the account id."""
    doc = await store.get(layout.ACCOUNTS_DB, ids.account)
    doc.update({"pvt_account_id": ids.account, "pvt_account_db": layout.account_db(ids.account, encoded=True)})
    await store.put(layout.ACCOUNTS_DB, doc)


async def test_vm_138_mwi_query_for_a_box_number(vm_env, ids):
    async def seed(store, ids):
        await fix_accounts_copy(store, ids)
        await seed_messages(store, ids, 2)
        await seed_messages(store, ids, 1, folder="saved")

    env = await vm_env(seed=seed)
    assert env.voicemail.mwi_queries is not None and env.voicemail.mwi_queries.running
    await query(env, "3456")
    await env.wait_until(lambda: [p for p in env.named("mwi_update") if p["To"] == f"3456@{VM_REALM}"],
                         what="mwi_update for 3456")
    update = [p for p in env.named("mwi_update") if p["To"] == f"3456@{VM_REALM}"][0]
    assert update["Messages-New"] == 2 and update["Messages-Saved"] == 1


async def test_vm_139_mwi_query_for_a_device_username(vm_env, ids):
    second_box = "7" * 32

    async def seed(store, ids):
        from tests.integration.voicemail.conftest import put_doc
        await fix_accounts_copy(store, ids)
        await put_doc(store, ids.db, {"_id": second_box, "name": "Box 7000", "mailbox": "7000", "pin": "1234",
                                      "is_setup": True, "owner_id": ids.user}, "vmbox")
        await seed_messages(store, ids, 2)
        await seed_messages(store, ids, 1, folder="saved")
        await seed_messages(store, ids, 1, box_id=second_box)

    env = await vm_env(seed=seed)
    await query(env, "dev1")
    await env.wait_until(lambda: env.named("mwi_unsolicited_update"), what="mwi_unsolicited_update")
    updates = env.named("mwi_unsolicited_update")
    assert all(u["To"] == f"dev1@{VM_REALM}" for u in updates)
    assert (updates[0]["Messages-New"], updates[0]["Messages-Saved"]) == (3, 1)
    assert env.named("mwi_update") == []


async def test_mwi_is_resent_from_stored_state(stage):
    """Beyond KAZOO (spec README policy 4): at start the service re-sends the box MWI of every box
    with messages (``mwi_query.resend_stored``); boxes without messages stay quiet."""
    from voicemail_svc.notify.mwi_query import resend_stored

    await stage.put(box_doc(BOX_7000, mailbox="7000"))           # no messages
    await stage.put(message_doc())
    await stage.put(message_doc(folder="saved", age_s=10))
    await stage.start()
    assert await resend_stored(stage.store, stage.deps.mwi) == 1
    for _ in range(100):
        if [u for u in stage.mwi_seen if u.get("Event-Name") == "mwi_update"]:
            break
        await asyncio.sleep(0.05)
    updates = [u for u in stage.mwi_seen if u.get("Event-Name") == "mwi_update"]
    assert [(u["To"], u["Messages-New"], u["Messages-Saved"]) for u in updates] == [(f"3456@{REALM}", 1, 1)]
