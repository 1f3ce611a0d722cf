"""A RabbitMQ node dies (``kill -9``) under running services, on a real three-node cluster.

The test builds a cluster of its own (``tests/support/rabbit_cluster.py``: three nodes on
free loopback ports, data under a temporary directory, joined with ``rabbitmqctl
join_cluster``); the machine's own broker is not touched.  Every service gets the list of
the three nodes and connects to node 1, the first that answers; the gateway simulator and
the operator list node 3 first, as a media gateway elsewhere in the zone would.

During routed calls and a message being recorded, node 1 is killed.  KAZOO's queues are
non-durable, so every queue the services had is gone with it; they must connect to another
node and declare their queues, bindings (per-call ones too) and consumers again there.
Asserted: new calls are routed again within 10 s of the kill; the message being recorded is
stored exactly once, with its audio, and announced once; a config change made after the
loss reaches callflow_svc and voicemail_svc; nothing of the cluster is left afterwards (the
fixture checks, whether the test passed or not).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_sim import Script
from services.messages import catalogue as m
from services.store import layout
from services.store.memory import MemoryStore
from tests.support.rabbit_cluster import ClusterError, RabbitCluster, process_alive
from tests.support.reliability import (FAST_CALL_COMMAND, MAILBOX, Cluster, Site, Watcher, box_messages, make_bus,
                                       seed_site, set_system_config, stored_messages, wait_until)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECOVERY_LIMIT_S = 10.0
# the gateway simulator at half speed: the caller speaks 20 simulated seconds = 10 s of real time,
# longer than the loss and the recovery together
GATEWAY = dict(time_scale=0.5, route_timeout=1.5, post_hangup_linger=0.2, prompt_seconds=0.2, max_call_seconds=120)
SPEECH_S = 20.0


@pytest.fixture
def rabbit_cluster():
    cluster = RabbitCluster(3)
    try:
        cluster.start()
    except ClusterError as exc:
        cluster.stop(check=False)
        pytest.fail(f"could not build the test's own RabbitMQ cluster: {exc}", pytrace=False)
    print(f"cluster of 3 nodes up in {cluster.started_in:.1f} s")
    yield cluster
    cluster.stop()              # kills what is left; raises (a teardown error) if anything remains


class CallLoop:
    """Calls to the welcome line, one after another, noting when each was placed and routed."""

    def __init__(self, gateway, endpoint) -> None:
        self.gateway = gateway
        self.endpoint = endpoint
        self.calls: list[tuple[float, float | None]] = []       # (placed, routed or None)
        self._task: asyncio.Task | None = None

    def start(self) -> "CallLoop":
        self._task = asyncio.get_running_loop().create_task(self._run(), name="node-loss-calls")
        return self

    async def _run(self) -> None:
        while True:
            placed = time.monotonic()
            routed_at = None
            try:
                call = await self.gateway.start_call(endpoint=self.endpoint, dial="2000")
                if await call.wait_routed(5):
                    routed_at = time.monotonic()
                result = await call.finished(20)
                if not result.ok:
                    routed_at = None
            except Exception:
                routed_at = None
            self.calls.append((placed, routed_at))
            await asyncio.sleep(0.1)

    def first_routed_after(self, moment: float) -> float | None:
        routed = [r for placed, r in self.calls if placed >= moment and r is not None]
        return min(routed) if routed else None

    def failed_between(self, start: float, end: float) -> int:
        return sum(1 for placed, routed in self.calls if start <= placed <= end and routed is None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def test_services_survive_the_loss_of_their_broker_node(rabbit_cluster, tmp_path):
    cluster = rabbit_cluster
    services_url = cluster.urls(order=[1, 2, 3])
    others_url = cluster.urls(order=[3, 1, 2])
    store = MemoryStore()
    site = Site("nodeloss")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    await seed_site(store, site)
    system = Cluster(services_url, store, tmp_path, gateway=GATEWAY, gateway_amqp_url=others_url)
    watcher_bus = operator = None
    loop = None
    try:
        await system.start()
        watcher_bus = await make_bus(others_url, "watcher")
        watcher = await Watcher(watcher_bus).start()
        gateway = system.gateway
        runtime = system.runtimes[0]
        nodes = {bus.transport.node for bus in runtime.context.buses}
        assert nodes == {cluster.nodes[0].address}, nodes          # the first node of the list that answered
        assert system.gateway_bus.transport.node == cluster.nodes[2].address
        clients = {name: system.service(0, name)._config_client for name in ("callflow", "voicemail")}

        first = await gateway.place_call(endpoint=site.endpoint(), dial="2000")
        assert first.ok and any(p.endswith("nodeloss-welcome") for p in first.prompts), first.summary()

        script = Script().on_record_start(speak=SPEECH_S, press="1").on_prompt("vm-review_recording", press="1")
        compose = await gateway.start_call(endpoint=site.endpoint(), dial=MAILBOX, script=script)
        assert await compose.wait_routed(10)
        await wait_until(lambda: compose.control is not None and compose.control.recording() is not None,
                         timeout=20, what="the recording to start")
        loop = CallLoop(gateway, site.endpoint()).start()
        await wait_until(lambda: any(r for _, r in loop.calls), timeout=10, what="a routed call before the kill")

        reconnected: list[float] = []
        for bus in runtime.context.buses:
            bus.transport.on_reconnect(lambda: reconnected.append(time.monotonic()))
        victim = cluster.node_at(runtime.context.buses[0].transport.node)
        killed = time.monotonic()
        await asyncio.to_thread(cluster.kill, victim)

        await wait_until(lambda: loop.first_routed_after(killed), timeout=RECOVERY_LIMIT_S + 20,
                         what="a call routed after the kill", step=0.05)
        recovered = loop.first_routed_after(killed) - killed
        failed = loop.failed_between(killed, killed + recovered)
        assert recovered <= RECOVERY_LIMIT_S, f"first call routed {recovered:.1f} s after the kill"
        await wait_until(lambda: runtime.ready, timeout=10, what="every service ready again")
        survivors = {cluster.nodes[1].address, cluster.nodes[2].address}
        assert {bus.transport.node for bus in runtime.context.buses} <= survivors
        assert all(bus.transport.reconnects == 1 for bus in runtime.context.buses)

        result = await compose.finished(90)
        assert result.ok and len(result.uploads) == 1, result.summary()
        assert "vm-saved" in result.prompts, result.prompts

        docs = await wait_until(lambda: stored_messages(store, site), timeout=30, what="the message stored")
        await asyncio.sleep(1.0)                                        # a duplicate would show by now
        docs = await box_messages(store, site.account, site.box)
        assert len(docs) == 1, docs
        [doc] = docs
        assert int(doc["metadata"]["length"]) >= SPEECH_S * 1000 * 0.9
        audio = await store.get_attachment(layout.modb_of_doc_id(site.account, doc["_id"]), doc["_id"],
                                           doc["media_filename"])
        assert len(audio) > 44                                          # a WAV header and samples
        await wait_until(lambda: watcher.named("voicemail_new"), timeout=15, what="voicemail_new")
        await asyncio.sleep(0.5)
        assert [n["Voicemail-ID"] for n in watcher.named("voicemail_new")] == [doc["_id"]]

        # a change made after the loss: every service's config client must see it (each has read,
        # and cached, the old value since its reconnect)
        for client in clients.values():
            assert await client.get("callflow", "nodeloss_probe", "before") == "before"
        operator = await make_bus(others_url, "kzvoice-cli")
        replies = await operator.reply_queue("nodeloss-operator")
        reply = await replies.request(m.SYSCONF_SET_REQ, {"Category": "callflow", "Key": "nodeloss_probe",
                                                          "Value": "after"}, timeout=10)
        assert reply["Value"] == "after"

        async def everywhere() -> bool:
            return all([await c.get("callflow", "nodeloss_probe", "before") == "after" for c in clients.values()])

        await wait_until(everywhere, timeout=10, what="the change in callflow's and voicemail's config clients")
        after = loop.failed_between(killed + recovered, time.monotonic())
        print(f"node {victim.name} killed: services reconnected after {max(reconnected) - killed:.2f} s, "
              f"first new call routed after {recovered:.2f} s, {failed} call(s) failed meanwhile and {after} "
              f"after, {len(loop.calls)} placed in all; message stored once "
              f"({doc['metadata']['length']} ms), voicemail_new once")
    finally:
        if loop is not None:
            await loop.stop()
        for bus in (operator, watcher_bus):
            if bus is not None:
                await bus.close()
        await system.stop()


def test_a_cluster_is_removed_whole_when_the_test_using_it_fails():
    cluster = RabbitCluster(1)
    with pytest.raises(RuntimeError, match="the test failed"):
        with cluster:
            assert cluster.root is not None and cluster.root.exists()
            pids = cluster.processes()
            assert len(pids) >= 2, pids                 # the VM and its erl_child_setup at least
            assert cluster.leftovers(), "a running cluster shows as left over"
            raise RuntimeError("the test failed")
    assert cluster.leftovers() == []
    assert not cluster.root.exists()
    assert [pid for pid in pids if process_alive(pid)] == []
