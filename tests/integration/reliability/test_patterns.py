"""A catastrophic-backtracking pattern in a callflow costs linear time and stalls nobody.

``^(1+)+$`` against ``111...12`` takes PCRE (KAZOO) exponential time in the number of 1s;
callflow_svc matches with RE2 (callflow.md 2.5, spec README policy 4).  Hostile route_reqs
are published raw (a real gateway would pass such a Request-URI user on as dialled) while
ordinary calls are routed beside them; every route_req is timed from publish to route_resp.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from gateway_sim.routing import build_route_req
from services.messages import catalogue as m
from services.store.memory import MemoryStore
from tests.support.reliability import (FAST_CALL_COMMAND, Cluster, Site, make_bus, put, seed_site,
                                       set_system_config)

pytestmark = pytest.mark.integration

EVIL = r"^(1+)+$"


@pytest.fixture
async def world(amqp_url, tmp_path):
    store = MemoryStore()
    site = Site("regex")
    await store.init_db()
    await set_system_config(store, "call_command", FAST_CALL_COMMAND)
    await seed_site(store, site)
    await put(store, site.db, {"_id": secrets.token_hex(16), "numbers": [], "patterns": [EVIL],
                               "flow": {"module": "play", "data": {"id": "/system_media/evil"}}}, "callflow")
    # numbers the pattern rejects fall through to no_match, so each hostile route_req is answered and timed
    site.no_match = secrets.token_hex(16)
    await put(store, site.db, {"_id": site.no_match, "numbers": ["no_match"], "patterns": [],
                               "flow": {"module": "play", "data": {"id": "/system_media/nomatch"}}}, "callflow")
    cluster = await Cluster(amqp_url, store, tmp_path, names=["config", "callflow"]).start()
    bus = await make_bus(amqp_url, "freeswitch")
    replies = await bus.reply_queue("regex")
    try:
        yield site, bus, replies
    finally:
        await bus.close()
        await cluster.stop()


async def route(site, bus, replies, dial: str, timeout: float = 10.0) -> tuple[float, str | None]:
    """(seconds from publish to the first route_resp, its callflow id) -- or (timeout, None)."""
    fetch_id = secrets.token_hex(16)
    body = build_route_req(site.endpoint(), dial, call_id=secrets.token_hex(10), fetch_id=fetch_id,
                           node="regex@test", hostname="test", server_id=replies.name)
    stream = replies.stream(fetch_id)
    started = time.monotonic()
    try:
        await bus.publish(m.ROUTE_REQ, body)
        reply = await stream.next(timeout)
        return time.monotonic() - started, (reply.get("Custom-Channel-Vars") or {}).get("CallFlow-ID")
    except asyncio.TimeoutError:
        return timeout, None
    finally:
        stream.close()


async def test_catastrophic_pattern_is_linear_and_does_not_stall_other_calls(world):
    site, bus, replies = world
    took, cf = await route(site, bus, replies, "1" * 30)           # it matches: the pattern is loaded
    assert cf is not None and cf != site.cf_welcome
    took, cf = await route(site, bus, replies, "2000")
    assert cf == site.cf_welcome

    # PCRE needs ~2^n steps: 2^30 already at n = 30, 2^249 at the longest number a route_req may carry
    timings = {}
    for n in (60, 120, 250):   # route_req.json caps Destination-Number at 256 characters
        samples = []
        for _ in range(3):
            took, cf = await route(site, bus, replies, "1" * (n - 1) + "2")
            assert cf == site.no_match, (n, took)                 # the pattern said no, in time
            samples.append(took)
        timings[n] = min(samples)
    assert timings[250] < 2.0, timings

    # concurrent: 60 hostile route_reqs and 30 ordinary ones at once; the ordinary ones stay fast
    hostile = [route(site, bus, replies, "1" * 249 + "2") for _ in range(60)]
    ordinary = [route(site, bus, replies, "2000") for _ in range(30)]
    results = await asyncio.wait_for(asyncio.gather(*hostile, *ordinary), 120)
    assert all(cf == site.no_match for _, cf in results[:60])
    normal = results[60:]
    assert all(cf == site.cf_welcome for _, cf in normal)
    worst = max(t for t, _ in normal)
    assert worst < 3.0, worst
    print(f"route time by hostile length {timings}; worst ordinary route_req among 60 hostile ones: "
          f"{worst * 1000:.0f} ms")
