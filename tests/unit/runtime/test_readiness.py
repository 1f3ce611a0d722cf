"""Readiness of a process (services.runtime, "Readiness"), without a broker.

* the runtime is ready only once every service has started and each says it is ready, and
  no longer once a stop is requested; ``/readyz`` names what it waits for;
* each real service counts every consumer on its bus: take any one of them out of consumption
  and the service, and so the process, is not ready.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from services.runtime import Runtime
from services.settings import Settings


class FakeService:
    def __init__(self, name: str, gate: asyncio.Event | None = None) -> None:
        self.name = name
        self._gate = gate
        self.consuming = False

    async def start(self) -> None:
        if self._gate is not None:
            await self._gate.wait()
        self.consuming = True

    async def stop(self, drain_timeout: float) -> bool:
        return True

    @property
    def ready(self) -> bool:
        return self.consuming


def settings(tmp_path, **extra) -> Settings:
    return Settings.from_env({"KZ_AMQP_URL": "memory://readiness", "KZ_STORE_URL": "memory://",
                              "KZ_HTTP_HOST": "127.0.0.1", "KZ_HTTP_PORT": "0", "KZ_GC_GEN0": "0",
                              "KZ_SPOOL_DIR": str(tmp_path / "spool"), **extra})


async def readyz(runtime: Runtime) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{runtime.health.port}/readyz") as resp:
            return resp.status, await resp.text()


async def test_not_ready_while_a_later_service_is_still_starting(tmp_path):
    gate = asyncio.Event()
    first, second = FakeService("config"), FakeService("callflow", gate)
    runtime = Runtime(settings(tmp_path), factories={"config": lambda _c: first, "callflow": lambda _c: second})
    starting = asyncio.create_task(runtime.start())
    try:
        for _ in range(200):
            if runtime.services:
                break
            await asyncio.sleep(0.005)
        assert first.ready and runtime.services == [first]
        assert not runtime.ready
        assert runtime.waiting_for() == ["callflow (starting)"]
        assert await readyz(runtime) == (503, "not ready: callflow (starting)\n")

        gate.set()
        await starting
        assert runtime.ready
        assert await readyz(runtime) == (200, "ready\n")

        second.consuming = False                    # e.g. its connection is being restored
        assert runtime.waiting_for() == ["callflow (not consuming on every queue)"]
        assert (await readyz(runtime))[0] == 503
        second.consuming = True

        runtime.request_stop()
        assert runtime.waiting_for() == ["stopping"]
        assert await readyz(runtime) == (503, "not ready: stopping\n")
    finally:
        gate.set()
        await starting
        await runtime.stop()


# the queues each service consumes (name prefixes), every one of which readiness must count
EXPECTED_QUEUES = {
    "config": {"sysconf_listener"},
    "callflow": {"callflow_route_", "callflow-cache-", "callflow-destroy-", "config-client-", "config-events-"},
    "voicemail": {"voicemail-", "voicemail_events-", "voicemail_actions", "voicemail_notify-",
                  "voicemail_mwi_queries", "config-client-", "config-events-",
                  "media_requests", "media_events-"},          # the media responder it hosts
}


@pytest.fixture
async def runtime(tmp_path):
    runtime = Runtime(settings(tmp_path))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_every_consumer_of_every_service_counts_for_readiness(runtime):
    assert runtime.ready
    for service in runtime.services:
        consumers = service.bus.consumers
        prefixes = EXPECTED_QUEUES[service.name]
        assert {p for p in prefixes if any(c.queue.startswith(p) for c in consumers)} == prefixes, service.name
        assert len(consumers) == len(prefixes), [c.queue for c in consumers]
        for consumer in consumers:
            tag, consumer._tag = consumer._tag, None         # as if this one consumer were not consuming
            try:
                assert not service.ready, f"{service.name} ready without {consumer.queue}"
                assert not runtime.ready
            finally:
                consumer._tag = tag
        assert service.ready
