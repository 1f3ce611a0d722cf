"""The announcement stamp of config changes (services.config.propagation) and what a config
client observes with it: stamped changes are timed per service, KAZOO's own (unstamped) are not."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from services.config.client import ConfigClient
from services.config.propagation import ANNOUNCED_HEADER, age_seconds, announced_now
from services.messages import catalogue
from services.messages.spec import Message
from services.bus.memory import MemoryTransport
from services.metrics import Metrics


def test_the_stamp_is_the_wall_clock_in_microseconds():
    before = time.time_ns() // 1000
    stamp = announced_now()[ANNOUNCED_HEADER]
    assert isinstance(stamp, int) and before <= stamp <= time.time_ns() // 1000


def test_age_of_a_stamp():
    assert age_seconds({ANNOUNCED_HEADER: 1_000_000}, now_us=1_250_000) == 0.25
    assert age_seconds({ANNOUNCED_HEADER: 2_000_000}, now_us=1_000_000) == 0.0     # clocks apart: not negative
    assert age_seconds({}) is None
    assert age_seconds({ANNOUNCED_HEADER: "soon"}) is None
    assert age_seconds({ANNOUNCED_HEADER: True}) is None


class StubBus:
    app_name = "callflow"
    node = "callflow@test"

    def __init__(self) -> None:
        self.metrics = Metrics()
        self.transport = MemoryTransport()


def observed(metrics: Metrics) -> dict[str, float]:
    return {s.labels["app"]: s.value for f in text_string_to_metric_families(metrics.render().decode())
            for s in f.samples if s.name == "kzvoice_config_propagation_seconds_count"}


async def test_a_client_times_stamped_changes_per_service_and_not_unstamped_ones():
    bus = StubBus()
    client = ConfigClient(bus)
    body = {"Event-Category": "configuration", "Event-Name": "doc_edited", "Database": "system_config",
            "ID": "callflow", "Type": "config"}
    await client._on_change(Message(catalogue.DOC_CHANGES["doc_edited"], body))
    assert observed(bus.metrics) == {"callflow": 0.0}
    await client._on_change(Message(catalogue.DOC_CHANGES["doc_edited"], body, headers=announced_now()))
    flush = {"Event-Category": "sysconf", "Event-Name": "flush_req", "Category": "callflow"}
    await client._on_flush(Message(catalogue.get("sysconf.flush_req"), flush, headers=announced_now()))
    assert observed(bus.metrics) == {"callflow": 2.0}
