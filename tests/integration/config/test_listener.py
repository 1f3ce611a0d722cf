"""The sysconf_listener queue itself (config.md 4.2, bus.md 1.3): KAZOO's flags, competing instances."""

from __future__ import annotations

import asyncio

from tests.integration.config.conftest import system_doc


async def test_queue_has_kazoo_flags_and_bindings(config_svc, broker):
    queues = {q["name"]: q for q in broker.admin.list_queues(broker.vhost)}
    queue = queues["sysconf_listener"]
    assert queue["durable"] is False and queue["auto_delete"] is True and queue["exclusive"] is False
    arguments = queue["arguments"]
    if isinstance(arguments, list):            # rabbitmqctl's JSON lists [name, AMQP type, value]
        arguments = {row[0]: row[-1] for row in arguments}
    assert arguments["x-max-length"] == 100 and arguments["x-message-ttl"] == 60000


async def test_two_instances_share_the_queue_and_answer_once(start_config_svc, probe, store):
    first = await start_config_svc(node="config_svc@one")
    second = await start_config_svc(node="config_svc@two")
    await system_doc(store, "shared", default={"k": 1})
    sent = [probe.envelope("get_req", Category="shared", Key="k") for _ in range(40)]
    await asyncio.gather(*(probe.send_raw(body) for body in sent))
    replies = [await probe.reply_to(body) for body in sent]
    await probe.quiet()
    assert len(probe.replies()) == 40                       # one reply per request, no duplicates
    assert {r["Value"] for r in replies} == {1}
    answered_by = {r["Node"] for r in replies}
    assert answered_by <= {"config_svc@one", "config_svc@two"}
    assert first.ready and second.ready
