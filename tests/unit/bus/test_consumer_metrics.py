"""What a consumer counts (services.bus.consumer): a handler that raises is
``kzvoice_handler_errors_total{queue,message}``, a message refused at the edge
``kzvoice_messages_rejected_total{queue,reason}`` (both drawn on the dashboard)."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from services.bus import Bus
from services.exchanges import SYSCONF, SYSCONF_GET_KEY
from services.bus.memory import MemoryTransport, broker_for
from services.messages import catalogue
from services.messages.validation import Validator
from services.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.render().decode()) for s in family.samples}


async def test_a_failing_handler_and_a_refused_message_are_counted():
    metrics = Metrics()
    bus = Bus(MemoryTransport(broker_for("memory://consumer-metrics")), Validator(), app_name="test", node="n@test",
              metrics=metrics)
    await bus.start()
    called = asyncio.Event()

    async def fails(message) -> None:
        called.set()
        raise RuntimeError("boom")

    consumer = await bus.consumer("metrics-sysconf")
    await consumer.bind(SYSCONF, SYSCONF_GET_KEY)
    consumer.on(catalogue.get("sysconf.get_req"), fails)
    await consumer.start()
    try:
        await bus.publish(catalogue.get("sysconf.get_req"), {"Category": "callflow", "Key": "k"})
        await asyncio.wait_for(called.wait(), 2)
        await bus.transport.publish(SYSCONF, SYSCONF_GET_KEY, b"not json")
        for _ in range(100):
            found = samples(metrics)
            if ("kzvoice_messages_rejected_total", (("queue", "metrics-sysconf"), ("reason", "not_json"))) in found:
                break
            await asyncio.sleep(0.01)
        assert found[("kzvoice_handler_errors_total",
                      (("message", "sysconf.get_req"), ("queue", "metrics-sysconf")))] == 1.0
        assert found[("kzvoice_messages_rejected_total", (("queue", "metrics-sysconf"), ("reason", "not_json")))] == 1.0
    finally:
        await bus.close()
