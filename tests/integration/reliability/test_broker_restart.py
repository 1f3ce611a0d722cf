"""RabbitMQ restarted under running services: they reconnect, re-declare, and route new calls.

The broker is stopped with ``rabbitmqctl stop_app`` and started again with
``start_app`` (slow suite: it disturbs every other user of the broker, so it
runs after the main suite).  Non-durable exchanges and queues -- KAZOO's
choice -- are gone after the restart, so this checks that every service
declares them again, not only that the TCP connection comes back.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_sim import Gateway, GatewayConfig
from gateway_sim.demo import ACCOUNT, DEVICE, seed
from services.runtime import Runtime, ServiceContext
from services.settings import Settings
from services.store.memory import MemoryStore
from testkit.broker import CtlAdmin

pytestmark = pytest.mark.slow


async def _call_until_routed(gateway: Gateway, deadline: float) -> tuple[float, int]:
    """Place calls to the welcome line until one completes; (seconds taken, attempts)."""
    started = time.monotonic()
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            result = await asyncio.wait_for(
                gateway.place_call(account_id=ACCOUNT, device_id=DEVICE, dial="2000"), 15)
            if result.ok and any(p.endswith("demo-welcome") for p in result.prompts):
                return time.monotonic() - started, attempts
        except Exception:
            pass
        await asyncio.sleep(0.5)
    raise AssertionError(f"no call was routed within the deadline ({attempts} attempts)")


async def test_services_recover_from_a_broker_restart_within_30_seconds(broker, amqp_url):
    if not isinstance(broker.admin, CtlAdmin):
        pytest.fail("this test restarts the broker with rabbitmqctl; it needs a local broker")
    settings = Settings.from_env({"KZ_AMQP_URL": amqp_url, "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "0",
                                  "KZ_HTTP_HOST": "127.0.0.1", "KZ_NODE": "kzvoice@restart"})
    store = MemoryStore()
    runtime = Runtime(settings, context=ServiceContext(settings, store=store))
    await seed(store)
    await runtime.start()
    gateway = None
    try:
        gateway = Gateway(await runtime.context.bus("freeswitch"), store,
                          GatewayConfig(time_scale=0.01, route_timeout=1.5, post_hangup_linger=0.2))
        await gateway.start()
        await _call_until_routed(gateway, time.monotonic() + 10)

        await asyncio.to_thread(broker.admin.stop_app)
        try:
            await asyncio.sleep(2)
        finally:
            await asyncio.to_thread(broker.admin.start_app)
        restarted = time.monotonic()
        taken, attempts = await _call_until_routed(gateway, restarted + 30)
        assert taken < 30
        for _ in range(100):
            if runtime.ready:
                break
            await asyncio.sleep(0.1)
        assert runtime.ready
        # every connection noticed the restart and re-declared (counted in /metrics)
        assert all(bus.transport.reconnects >= 1 for bus in runtime.context.buses)
        assert runtime.context.metrics.broker_reconnects._value.get() >= len(runtime.context.buses)
        print(f"first call routed {taken:.1f} s after start_app ({attempts} attempt(s))")
    finally:
        if gateway is not None:
            await gateway.stop()
        await runtime.stop()


async def test_a_compose_in_progress_survives_a_broker_restart_and_is_stored_once(broker, amqp_url, tmp_path):
    """Bob is recording a message for Ann when the broker restarts: the recording goes on, the
    message is stored once, with its audio."""
    from gateway_sim import Script
    from gateway_sim.demo import BOB_DEVICE, BOX
    from services.store import layout

    if not isinstance(broker.admin, CtlAdmin):
        pytest.fail("this test restarts the broker with rabbitmqctl; it needs a local broker")
    settings = Settings.from_env({"KZ_AMQP_URL": amqp_url, "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "0",
                                  "KZ_HTTP_HOST": "127.0.0.1", "KZ_NODE": "kzvoice@restart2",
                                  "KZ_SPOOL_DIR": str(tmp_path / "spool")})
    store = MemoryStore()
    runtime = Runtime(settings, context=ServiceContext(settings, store=store))
    await seed(store)
    await runtime.start()
    gateway = None
    try:
        gateway = Gateway(await runtime.context.bus("freeswitch"), store,
                          GatewayConfig(time_scale=0.5, route_timeout=2.75, post_hangup_linger=0.2,
                                        prompt_seconds=0.2, max_call_seconds=90))
        await gateway.start()
        # 24 simulated seconds of speech = 12 s of real time, well beyond the outage below
        script = Script().on_record_start(speak=24.0, press="1").on_prompt("vm-review_recording", press="1")
        call = await gateway.start_call(account_id=ACCOUNT, device_id=BOB_DEVICE, dial="1000", script=script)
        assert await call.wait_routed(10)
        for _ in range(200):
            if call.control is not None and call.control.recording() is not None:
                break
            await asyncio.sleep(0.05)
        assert call.control.recording() is not None, "the recording never started"

        await asyncio.to_thread(broker.admin.stop_app)
        try:
            await asyncio.sleep(2)
        finally:
            await asyncio.to_thread(broker.admin.start_app)

        result = await call.finished(60)
        assert result.ok and len(result.uploads) == 1, result.summary()
        db = layout.modb_at(ACCOUNT)
        for _ in range(100):
            messages = await store.vm_messages(db, BOX) if await store.db_exists(db) else []
            if messages:
                break
            await asyncio.sleep(0.1)
        assert len(messages) == 1, messages
        [message] = messages
        assert int(message["metadata"]["length"]) >= 24000
        audio = await store.get_attachment(db, message["_id"], message["media_filename"])
        assert len(audio) > 44   # a WAV header and samples
    finally:
        if gateway is not None:
            await gateway.stop()
        await runtime.stop()
