"""Fixtures for the callflow tests: a seeded memory store, and ``cf`` -- config_svc and callflow_svc on
the real broker (this run's vhost) with the gateway simulator placing the calls (``harness.py``)."""

from __future__ import annotations

import pytest

from services.store.memory import MemoryStore
from tests.integration.callflow.harness import Env, seed

pytestmark = pytest.mark.integration


@pytest.fixture
async def store():
    memory = MemoryStore()
    await seed(memory)
    return memory


@pytest.fixture
async def cf(amqp_url, store):
    env = Env(amqp_url, store)
    try:
        yield env
    finally:
        await env.close()
