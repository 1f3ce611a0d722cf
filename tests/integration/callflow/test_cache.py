"""Caching and its invalidation by configuration events (callflow.md 2.7), parallel requests."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.callflow.harness import ACCOUNT_DB, callflow_doc, put

pytestmark = pytest.mark.integration


def named(resp) -> str:
    return resp["Custom-Channel-Vars"]["CallFlow-ID"]


async def test_cf_039_edited_callflow_routes_the_next_call(cf):
    doc = await put(cf.store, callflow_doc(numbers=["4000"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("4000"))) == doc["_id"]   # now cached
    edited = await put(cf.store, {**doc, "numbers": ["4001"]})
    await gw.doc_event("edited", edited)
    await asyncio.sleep(0.2)   # the spec allows up to 2 s between the event and the next route_req
    assert named(await gw.route_resp(await gw.route_req("4001"))) == doc["_id"]
    await gw.route_req("4000")
    await gw.no_route_resp()


async def test_cf_039_without_the_event_the_cached_number_still_routes(cf):
    """The counterpart: the cache is real, so only the event makes the edit visible at once."""
    doc = await put(cf.store, callflow_doc(numbers=["4000"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("4000"))) == doc["_id"]
    await put(cf.store, {**doc, "numbers": ["4001"]})
    assert named(await gw.route_resp(await gw.route_req("4000"))) == doc["_id"]


async def test_cf_040_new_pattern_after_patterns_were_loaded(cf):
    await put(cf.store, callflow_doc(patterns=[r"^(5\d{3})$"]))
    gw = await cf.start()
    assert await gw.route_resp(await gw.route_req("5001"))         # the account's patterns are loaded
    new = await put(cf.store, callflow_doc(patterns=[r"^(6\d{3})$"]))
    await gw.doc_event("created", new)
    await asyncio.sleep(0.2)
    assert named(await gw.route_resp(await gw.route_req("6001"))) == new["_id"]


async def test_cf_041_deleted_callflow_stops_routing(cf):
    doc = await put(cf.store, callflow_doc(numbers=["4100"]))
    gw = await cf.start()
    assert named(await gw.route_resp(await gw.route_req("4100"))) == doc["_id"]
    await cf.store.delete(ACCOUNT_DB, doc["_id"], doc["_rev"])
    await gw.doc_event("deleted", doc)
    await asyncio.sleep(0.2)
    await gw.route_req("4100")
    await gw.no_route_resp()


async def test_cf_042_two_requests_two_answers(cf):
    await put(cf.store, callflow_doc(numbers=["*97"]))
    gw = await cf.start()
    first, second = await asyncio.gather(gw.route_req("*97"), gw.route_req("*97"))
    assert first["Call-ID"] != second["Call-ID"]
    r1, r2 = await asyncio.gather(gw.route_resp(first), gw.route_resp(second))
    assert (r1["Msg-ID"], r1["Call-ID"]) == (first["Msg-ID"], first["Call-ID"])
    assert (r2["Msg-ID"], r2["Call-ID"]) == (second["Msg-ID"], second["Call-ID"])
