"""Account isolation: a device of account A reaches none of account B's callflows or boxes.

Every service runs (one Runtime, real broker, memory store) with two accounts seeded
alike (tests/support/reliability.py) plus B-only numbers, a B-only pattern and a second
B box with its own mailbox number.  Calls from A's devices go through the gateway
simulator; two hostile inputs a real gateway never sends are published raw:

* a route_req whose ``Custom-Channel-Vars.Account-ID`` names B while ``Authorizing-ID``
  is a device of A (a forged account);
* an action.execute is not needed for the box case: A's own callflow names B's box id in
  ``Data.id``, which is what an account administrator of A could write.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

from gateway_sim import Endpoint, Script
from gateway_sim.routing import build_route_req
from services.messages import catalogue as m
from services.store.memory import MemoryStore
from tests.support.reliability import (FAST_CALL_COMMAND, PIN, Cluster, Site, box_messages, make_bus, put,
                                       seed_site, set_system_config)

pytestmark = pytest.mark.integration

B_ONLY_NUMBER = "7000"
B_ONLY_PATTERN = r"^\*55(\d+)$"
B_SECOND_MAILBOX = "9999"


@pytest.fixture
async def world(amqp_url, tmp_path):
    store = MemoryStore()
    a, b = Site("alpha"), Site("bravo")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    for site in (a, b):
        await seed_site(store, site)
    b.second_box = secrets.token_hex(16)
    await put(store, b.db, {"_id": b.second_box, "name": "B private", "mailbox": B_SECOND_MAILBOX,
                            "pin": "9999", "is_setup": True, "owner_id": b.owner}, "vmbox")
    hangup = {"module": "hangup", "data": {}}
    await put(store, b.db, {"_id": secrets.token_hex(16), "numbers": [B_ONLY_NUMBER], "patterns": [B_ONLY_PATTERN],
                            "flow": {"module": "play", "data": {"id": "/system_media/bravo-secret"},
                                     "children": {"_": hangup}}}, "callflow")
    # A's administrator points A's own callflows at B's box id
    await put(store, a.db, {"_id": secrets.token_hex(16), "numbers": ["8000"],
                            "flow": {"module": "voicemail", "data": {"id": b.box}}}, "callflow")
    await put(store, a.db, {"_id": secrets.token_hex(16), "numbers": ["8001"],
                            "flow": {"module": "voicemail", "data": {"action": "check", "id": b.box}}}, "callflow")
    await put(store, a.db, {"_id": secrets.token_hex(16), "numbers": ["8002"],
                            "flow": {"module": "voicemail", "data": {"action": "check"}}}, "callflow")
    cluster = await Cluster(amqp_url, store, tmp_path).start()
    try:
        yield cluster, a, b
    finally:
        await cluster.stop()


def reached_b(result) -> list[str]:
    return [p for p in result.prompts if p.startswith("bravo")]


async def test_a_device_reaches_its_own_account_and_none_of_b_by_number_or_pattern(world):
    cluster, a, b = world
    gw = cluster.gateway
    own = await gw.place_call(endpoint=a.endpoint(), dial="2000")
    assert own.ok and own.prompts == ["alpha-welcome"]
    pattern = await gw.place_call(endpoint=a.endpoint(), dial="*771")
    assert pattern.ok and pattern.prompts == ["alpha-pattern"]
    theirs = await gw.place_call(endpoint=b.endpoint(), dial=B_ONLY_NUMBER)      # B's own device: reachable
    assert theirs.ok and theirs.prompts == ["bravo-secret"]

    # every probe waits out the gateway's whole route timeout: they run side by side
    dials = (B_ONLY_NUMBER, "*551", "*55", f"{B_ONLY_NUMBER}@{b.realm}", f"+{B_ONLY_NUMBER}",
             b.account, b.cf_welcome, b.box, "no_match", "*")
    results = await asyncio.gather(*(gw.place_call(endpoint=a.endpoint(), dial=dial) for dial in dials))
    for dial, result in zip(dials, results):
        assert reached_b(result) == [], (dial, result.prompts)
        assert result.status == "rejected" and result.reject_code == "604", (dial, result.status)


async def test_forged_account_id_with_a_device_of_another_account_is_not_routed(world, amqp_url):
    cluster, a, b = world
    bus = await make_bus(amqp_url, "freeswitch")
    try:
        replies = await bus.reply_queue("forger")

        async def answers(endpoint: Endpoint, dial: str) -> list:
            fetch_id = secrets.token_hex(16)
            body = build_route_req(endpoint, dial, call_id=secrets.token_hex(10), fetch_id=fetch_id,
                                   node="forger@nowhere", hostname="nowhere", server_id=replies.name)
            stream = replies.stream(fetch_id)
            got = []
            try:
                await bus.publish(m.ROUTE_REQ, body)
                while True:
                    got.append(await stream.next(1.5))
            except asyncio.TimeoutError:
                return got
            finally:
                stream.close()

        # the harness works: A's own device, raw, is answered
        honest = await answers(a.endpoint(), "2000")
        assert [r["Method"] for r in honest] == ["park"]
        # Account-ID of B, device (and owner) of A: no answer, whatever is dialled; and a device id
        # that exists nowhere.  Each probe listens 1.5 s for silence: they run side by side.
        probes = [(forged, dial)
                  for forged in (Endpoint(account_id=b.account, realm=b.realm, username=f"{a.tag}_caller",
                                          device_id=a.caller_device, owner_id=a.caller),
                                 Endpoint(account_id=b.account, realm=a.realm, username=f"{a.tag}_caller",
                                          device_id=a.caller_device),
                                 Endpoint(account_id=b.account, realm=b.realm, username="x", device_id=a.caller,
                                          authorizing_type="user"))
                  for dial in ("2000", B_ONLY_NUMBER, "*551", "3456")]
        probes.append((Endpoint(account_id=b.account, realm=b.realm, username="ghost",
                                device_id=secrets.token_hex(16)), "2000"))
        heard = await asyncio.gather(*(answers(endpoint, dial) for endpoint, dial in probes))
        for (endpoint, dial), got in zip(probes, heard):
            assert got == [], (endpoint, dial)
    finally:
        await bus.close()


async def test_b_box_id_in_a_callflow_of_a_cannot_be_used(world):
    cluster, a, b = world
    gw = cluster.gateway
    # compose into "B's box" from A: nothing reaches B's box
    leave = Script().on_record_start(speak=2.0, press="1").on_prompt("vm-review_recording", press="1")
    composed = await gw.place_call(endpoint=a.endpoint(), dial="8000", script=leave)
    assert composed.ok
    assert "vm-saved" not in composed.prompts and not composed.uploads
    # check "B's box" from A with B's right PIN: never logged in
    check = Script().on_prompt("vm-enter_pass", press=f"{PIN}#", times=None) \
                    .on_prompt("vm-enter_id", press=f"{PIN}#", times=None)
    checked = await gw.place_call(endpoint=a.endpoint(), dial="8001", script=check)
    assert checked.ok
    assert not any(p.startswith(("vm-you_have", "vm-main_menu", "vm-no_messages")) for p in checked.prompts), \
        checked.prompts
    # the box number of B's other box, typed into A's check: unknown here
    by_number = Script().on_prompt("vm-enter_id", press=f"{B_SECOND_MAILBOX}#", times=None) \
                        .on_prompt("vm-enter_pass", press="9999#", times=None)
    typed = await gw.place_call(endpoint=a.endpoint(), dial="8002", script=by_number)
    assert typed.ok
    assert not any(p.startswith(("vm-you_have", "vm-main_menu", "vm-no_messages")) for p in typed.prompts), \
        typed.prompts
    assert "menu-invalid_entry" in typed.prompts
    await asyncio.sleep(0.3)
    assert await box_messages(cluster.store, b.account, b.box) == []
    assert await box_messages(cluster.store, a.account, b.box) == []
    # positive control: the same script on B's own check line does log in
    own = await gw.place_call(endpoint=b.endpoint(owner=True), dial="*97",
                              script=Script().on_prompt("vm-enter_pass", press=f"{PIN}#")
                                             .on_prompt("vm-main_menu", hangup=True))
    assert any(p.startswith(("vm-you_have", "vm-main_menu", "vm-no_messages")) for p in own.prompts), own.prompts
