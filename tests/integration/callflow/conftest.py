"""Fixtures for the callflow tests: a seeded memory store, config_svc and callflow_svc on the
real broker (this run's vhost), and the test gateway of ``harness.py``."""

from __future__ import annotations

import pytest

from services.runtime import ServiceContext
from services.settings import Settings
from services.store.memory import MemoryStore
from tests.integration.callflow.harness import Gateway, seed_account

pytestmark = pytest.mark.integration


class Env:
    def __init__(self, amqp_url: str, store) -> None:
        self.amqp_url = amqp_url
        self.store = store
        self.context: ServiceContext | None = None
        self.services: list = []
        self.callflow = None
        self.gateway: Gateway | None = None

    async def start(self, *, vm: bool = True) -> Gateway:
        from callflow_svc.app import build as build_callflow
        from config_svc.app import build as build_config

        settings = Settings(amqp_url=self.amqp_url, store_url="memory://", node="kzvoice@cftest", zone="local")
        self.context = ServiceContext(settings, _store=self.store)
        for factory in (build_config, build_callflow):
            service = factory(self.context)
            await service.start()
            self.services.append(service)
        self.callflow = self.services[-1]
        self.gateway = await Gateway(await self.context.bus("freeswitch")).open(vm=vm)
        return self.gateway

    async def close(self) -> None:
        for service in reversed(self.services):
            await service.stop(2.0)
        if self.context is not None:
            await self.context.close()


@pytest.fixture
async def store():
    memory = MemoryStore()
    await seed_account(memory)
    return memory


@pytest.fixture
async def cf(amqp_url, store):
    env = Env(amqp_url, store)
    try:
        yield env
    finally:
        await env.close()
