"""Caching and its invalidation by configuration events (callflow.md 2.7), parallel requests.

Calls are placed by the gateway simulator.  ``Env.announce`` publishes the doc event and returns
once callflow_svc has flushed for it (the spec allows up to 2 s)."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.callflow.harness import ACCOUNT_DB, callflow_doc, named, put

pytestmark = pytest.mark.integration


async def test_cf_039_edited_callflow_routes_the_next_call(cf):
    doc = await put(cf.store, callflow_doc(numbers=["4000"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("4000"))) == doc["_id"]   # now cached
    edited = await put(cf.store, {**doc, "numbers": ["4001"]})
    await cf.announce("edited", edited)
    old = await cf.dial("4000", ignored=True)
    assert named(await cf.route_resp(await cf.dial("4001"))) == doc["_id"]
    await cf.ignored(old, probe=False)            # the call to 4001 was the probe


async def test_cf_039_without_the_event_the_cached_number_still_routes(cf):
    """The counterpart: the cache is real, so only the event makes the edit visible at once."""
    doc = await put(cf.store, callflow_doc(numbers=["4000"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("4000"))) == doc["_id"]
    await put(cf.store, {**doc, "numbers": ["4001"]})
    assert named(await cf.route_resp(await cf.dial("4000"))) == doc["_id"]


async def test_cf_040_new_pattern_after_patterns_were_loaded(cf):
    await put(cf.store, callflow_doc(patterns=[r"^(5\d{3})$"]))
    await cf.start()
    assert await cf.route_resp(await cf.dial("5001"))          # the account's patterns are loaded
    new = await put(cf.store, callflow_doc(patterns=[r"^(6\d{3})$"]))
    await cf.announce("created", new)
    assert named(await cf.route_resp(await cf.dial("6001"))) == new["_id"]


async def test_cf_041_deleted_callflow_stops_routing(cf):
    doc = await put(cf.store, callflow_doc(numbers=["4100"]))
    await cf.start()
    assert named(await cf.route_resp(await cf.dial("4100"))) == doc["_id"]
    await cf.store.delete(ACCOUNT_DB, doc["_id"], doc["_rev"])
    await cf.announce("deleted", doc)
    await cf.ignored(await cf.dial("4100", ignored=True))


async def test_cf_042_two_requests_two_answers(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    await cf.start()
    first, second = await asyncio.gather(cf.dial("*97"), cf.dial("*97"))
    assert first.call_id != second.call_id and first.fetch_id != second.fetch_id
    r1, r2 = await asyncio.gather(cf.route_resp(first), cf.route_resp(second))
    assert (r1["Msg-ID"], r1["Call-ID"]) == (first.fetch_id, first.call_id)
    assert (r2["Msg-ID"], r2["Call-ID"]) == (second.fetch_id, second.call_id)
    assert await first.wait_routed() and await second.wait_routed()
