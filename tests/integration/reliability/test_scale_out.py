"""Two replicas of every service on one broker and one store.

Two Runtimes (config_svc, callflow_svc and voicemail_svc each) share the real broker and one
memory store (tests/support/reliability.py); the gateway simulator places the calls.  What
must hold (bus.md 1.3): every route_req is answered by both callflow replicas (the first
answer wins); each voicemail action is taken by exactly one replica (the shared
``voicemail_actions`` queue) and no message is saved twice; a config change made through
either config_svc reaches both replicas' caches; the PIN lockout counts across replicas.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway_sim import Script
from services.messages import catalogue as m
from services.store.memory import MemoryStore
from tests.support.reliability import (FAST_CALL_COMMAND, MAILBOX, PIN, Cluster, Site, Watcher, box_messages,
                                       make_bus, seed_site, set_system_config, wait_until)
from voicemail_svc.check.lockout import doc_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOCKOUT = {"max_failures": 3, "lockout_seconds": 120}


@pytest.fixture
async def pair(amqp_url, tmp_path):
    store = MemoryStore()
    site = Site("scale")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    await set_system_config(store, "callflow", {"voicemail": {"max_login_attempts": 1, "login_lockout": LOCKOUT}})
    await seed_site(store, site)
    cluster = await Cluster(amqp_url, store, tmp_path, replicas=2).start()
    bus = await make_bus(amqp_url, "scale-watch")
    watcher = await Watcher(bus).start()
    try:
        yield cluster, site, watcher
    finally:
        await bus.close()
        await cluster.stop()


def results_sent(cluster: Cluster) -> list[int]:
    return [s.listener.results_sent for s in cluster.services("voicemail")]


async def test_calls_route_and_each_voicemail_action_runs_once(pair):
    cluster, site, watcher = pair
    gw = cluster.gateway
    routed = []
    for first in range(0, 20, 4):
        routed += await asyncio.wait_for(asyncio.gather(
            *(gw.place_call(endpoint=site.endpoint(), dial="2000") for _ in range(4))), 60)
    assert all(r.ok and r.prompts == ["scale-welcome"] for r in routed)
    # the gateway takes the first answer at once (first non-deferred wins), so it sees one; the
    # replicas' own counters show that each answered every route_req
    winners = {r.winner["Server-ID"] for r in routed}
    assert winners <= {s.server_id for s in cluster.services("callflow")}
    per_replica = [next(s.value for s in rt.context.metrics.route_seconds.collect()[0].samples
                        if s.name.endswith("_count")) for rt in cluster.runtimes]
    assert per_replica == [20, 20], per_replica                       # every route_req, on each replica

    leave = Script().on_record_start(speak=2.0, press="1").on_prompt("vm-review_recording", press="1")
    before = results_sent(cluster)
    left = []
    for first in range(0, 10, 2):
        left += await asyncio.wait_for(asyncio.gather(
            *(gw.place_call(endpoint=site.endpoint(), dial=MAILBOX, script=leave) for _ in range(2))), 60)
    assert all(r.ok and "vm-saved" in r.prompts for r in left)
    taken = [after - b for after, b in zip(results_sent(cluster), before)]
    assert sum(taken) == 10 and min(taken) >= 1, taken                # once each, on both replicas

    async def stored() -> bool:
        docs = await box_messages(cluster.store, site.account, site.box)
        return len(docs) >= 10 and all(d.get("_attachments") for d in docs)

    await wait_until(stored, timeout=30, what="10 messages stored")
    await asyncio.sleep(0.5)
    docs = await box_messages(cluster.store, site.account, site.box)
    assert len(docs) == 10 and len({d["_id"] for d in docs}) == 10
    assert len({d["media_filename"] for d in docs}) == 10
    await wait_until(lambda: len(watcher.named("voicemail_new")) >= 10, timeout=30, what="10 voicemail_new")
    assert len({n["Voicemail-ID"] for n in watcher.named("voicemail_new")}) == 10
    assert len(watcher.named("voicemail_new")) == 10


async def test_config_change_reaches_both_replicas(pair, amqp_url):
    cluster, _site, _watcher = pair
    clients = [s._config_client for s in cluster.services("callflow")]
    assert [await c.get("callflow", "scale_probe", "before") for c in clients] == ["before", "before"]
    operator = await make_bus(amqp_url, "kzvoice-cli")
    try:
        replies = await operator.reply_queue("scale-operator")
        reply = await replies.request(m.SYSCONF_SET_REQ, {"Category": "callflow", "Key": "scale_probe",
                                                          "Value": "after"}, timeout=10)
        assert reply["Value"] == "after"
    finally:
        await operator.close()

    async def both() -> bool:
        return [await c.get("callflow", "scale_probe", "before") for c in clients] == ["after", "after"]

    await wait_until(both, timeout=10, what="both replicas reading the new value")


async def test_pin_lockout_is_shared_by_both_replicas(pair):
    cluster, site, _watcher = pair
    gw = cluster.gateway
    handled: list[int] = []

    async def one(pin: str):
        before = results_sent(cluster)
        result = await gw.place_call(endpoint=site.endpoint(), dial="*97",
                                     script=Script().on_prompt("vm-enter_pass", press=f"{pin}#", times=None))
        await wait_until(lambda: sum(results_sent(cluster)) > sum(before), timeout=10, what="the result")
        handled.append([a - b for a, b in zip(results_sent(cluster), before)].index(1))
        return result

    for _ in range(LOCKOUT["max_failures"]):
        wrong = await one("0000")
        assert "vm-fail_auth" in wrong.prompts
    guard = await cluster.store.get(site.db, doc_id(site.box))
    assert guard["lockouts"] == 1                                     # 3 failures, counted across replicas
    assert set(handled) == {0, 1}, handled
    refused = [await one(PIN) for _ in range(2)]                      # the right PIN, on both replicas
    assert set(handled[-2:]) == {0, 1}, handled
    for result in refused:
        assert "vm-fail_auth" in result.prompts
        assert not any(p.startswith(("vm-you_have", "vm-main_menu", "vm-no_messages")) for p in result.prompts)
