"""VM-015 through the whole stack: callflow_svc, voicemail_svc and config_svc on the real broker,
the call placed by the gateway simulator."""

from __future__ import annotations

import pytest

from gateway_sim import Gateway, GatewayConfig
from gateway_sim.demo import ACCOUNT, BOX, DEVICE, seed
from services.runtime import Runtime, ServiceContext
from services.settings import Settings
from services.store import layout
from services.store.memory import MemoryStore

pytestmark = pytest.mark.integration


async def test_vm_015_skip_module_runs_the_child_and_voicemail_gets_no_request(amqp_url, tmp_path):
    settings = Settings.from_env({"KZ_AMQP_URL": amqp_url, "KZ_STORE_URL": "memory://", "KZ_HTTP_PORT": "0",
                                  "KZ_HTTP_HOST": "127.0.0.1", "KZ_NODE": "kzvoice@vm015",
                                  "KZ_SPOOL_DIR": str(tmp_path / "spool")})
    store = MemoryStore()
    runtime = Runtime(settings, ["config", "callflow", "voicemail"], context=ServiceContext(settings, store=store))
    await seed(store)
    from testkit.media import seed_system_prompts
    await seed_system_prompts(store, extra=("after-skip",))     # what the simulator fetches (media.md 6.6)
    db = layout.account_db(ACCOUNT)
    await store.put(db, layout.stamp({
        "_id": "f" * 32, "numbers": ["4015"], "patterns": [],
        "flow": {"module": "voicemail", "data": {"action": "compose", "id": BOX, "skip_module": True},
                 "children": {"_": {"module": "play", "data": {"id": "/system_media/after-skip"}}}}},
        pvt_type="callflow", db=db))
    await runtime.start()
    gateway = None
    try:
        gateway = Gateway(await runtime.context.bus("freeswitch"), store,
                          GatewayConfig(time_scale=0.01, post_hangup_linger=0.2))
        await gateway.start()
        result = await gateway.place_call(account_id=ACCOUNT, device_id=DEVICE, dial="4015")
        assert result.ok
        assert result.prompts == ["after-skip"]            # the `_` child ran
        metrics = runtime.context.metrics

        def actions_taken() -> float:
            return sum(sample.value for family in metrics.consumed.collect() for sample in family.samples
                       if sample.name.endswith("_total") and sample.labels.get("message") == "callflow.action.execute")
        assert actions_taken() == 0                                   # voicemail_svc got no request

        # the same count does see a voicemail node that is not skipped (Ann's box, "1000")
        from gateway_sim import Script
        await gateway.place_call(account_id=ACCOUNT, device_id=DEVICE, dial="1000",
                                 script=Script().on_record_start(hangup=True))
        assert actions_taken() == 1
    finally:
        if gateway is not None:
            await gateway.stop()
        await runtime.stop()
